/**
 * The package users install: `npm pack` (whose `prepare` script builds dist/) gives a tarball that installs offline
 * (no runtime dependencies) into an empty ES-module project and an empty CommonJS project, where `import` and
 * `require("diffopt")` both load it, the tensor methods are attached, derivatives are right, the declarations
 * type-check a strict consumer, and the README's examples run and type-check against the installed package.
 * The tarball is built once (the build dominates: a few seconds).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { build, transformSync } from "esbuild";
import { listSourceFiles } from "./doc-examples-harness.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
const work = mkdtempSync(join(tmpdir(), "diffopt-package-"));
after(() => rmSync(work, { recursive: true, force: true }));

function run(cmd: string, args: string[], cwd: string): string {
  try {
    return execFileSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(
      `${cmd} ${args.join(" ")} (in ${cwd}) failed: ${err.message}\n${err.stdout ?? ""}\n${err.stderr ?? ""}`,
      { cause: e },
    );
  }
}

/** A fresh project in `work/name` with `package.json` fields `fields`, the tarball installed offline. */
function project(name: string, fields: Record<string, unknown>, tarball: string): string {
  const dir = join(work, name);
  mkdirSync(dir);
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name, version: "1.0.0", private: true, ...fields }));
  run("npm", ["install", "--offline", "--no-audit", "--no-fund", "--loglevel=error", tarball], dir);
  return dir;
}

/** A small program exercising the package: a gradient, a Hessian, a tensor method, a typed error. */
const program = (load: string) => `${load}
const { grad, hessian, tensor, sum, square, ShapeError, customRoot, sub, mul } = diffopt;
const g = grad((x) => sum(square(x).mul(0.5)))(tensor([1, 2]));
const h = hessian((x) => sum(x.mul(x).mul(x)))(tensor([1, 2]));
const sqrtOf = customRoot((x, a) => sub(mul(x, x), a))((_init, a) => tensor(Math.sqrt(a.item())));
let shapeError = false;
try { diffopt.add(tensor([1, 2]), tensor([1, 2, 3])); } catch (e) { shapeError = e instanceof ShapeError; }
console.log(JSON.stringify({ g: g.toArray(), h: h.toArray(), d: grad((a) => sqrtOf(undefined, a))(tensor(4)).item(), shapeError }));
`;
const expected = {
  g: [1, 2],
  h: [
    [6, 0],
    [0, 12],
  ],
  d: 0.25,
  shapeError: true,
};

/** The ```ts blocks of a markdown text. */
function tsBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```ts\n([\s\S]*?)^```/gm)].map((m) => m[1]!);
}

describe("package", () => {
  let tarball = "";
  let esm = "";
  let cjs = "";
  before(() => {
    const packed = JSON.parse(run("npm", ["pack", "--json", "--loglevel=error", "--pack-destination", work], root));
    tarball = join(work, packed[0].filename);
    esm = project("esm-app", { type: "module" }, tarball);
    cjs = project("cjs-app", { type: "commonjs" }, tarball);
  });

  test("the tarball holds dist/, README, LICENSE and CHANGELOG, and no sources or tests", () => {
    const files = run("tar", ["-tzf", tarball], work).trim().split("\n");
    for (const f of ["package/package.json", "package/dist/index.js", "package/dist/index.d.ts"]) {
      assert.ok(files.includes(f), `${f} is not in the tarball`);
    }
    for (const f of ["README.md", "LICENSE", "CHANGELOG.md"]) assert.ok(files.includes(`package/${f}`), f);
    assert.deepEqual(
      files.filter((f) => /^package\/(src|test|bench|examples|paper)\//.test(f)),
      [],
      "sources or tests in the tarball",
    );
  });

  test("import works from an ES-module project, and after bundling (sideEffects keeps the tensor methods)", async () => {
    writeFileSync(join(esm, "main.js"), program('import * as diffopt from "diffopt";'));
    assert.deepEqual(JSON.parse(run("node", ["main.js"], esm)), expected);
    const bundle = join(esm, "bundle.mjs");
    await build({
      entryPoints: [join(esm, "main.js")],
      bundle: true,
      platform: "neutral",
      outfile: bundle,
      logLevel: "silent",
    });
    assert.deepEqual(JSON.parse(run("node", [bundle], esm)), expected);
  });

  test("require works from a CommonJS project", () => {
    writeFileSync(join(cjs, "main.js"), program('const diffopt = require("diffopt");'));
    assert.deepEqual(JSON.parse(run("node", ["main.js"], cjs)), expected);
  });

  test("source maps embed their sources", () => {
    const dist = join(esm, "node_modules", "diffopt", "dist");
    const maps = readdirSync(dist, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".js.map"));
    assert.ok(maps.length > 20, `only ${maps.length} source maps`);
    for (const m of maps) {
      const map = JSON.parse(readFileSync(join(dist, m), "utf8"));
      assert.equal(map.sourcesContent?.length, map.sources.length, `${m} does not embed its sources`);
      assert.ok(
        map.sourcesContent.every((s: unknown) => typeof s === "string" && s.length > 0),
        m,
      );
    }
  });

  test("sideEffects lists exactly the modules that attach tensor methods, built and as sources", () => {
    // Bundlers drop a bare `import "./ops/methods.js"` of a module not listed, in dist/ for users and in src/ for
    // bundles built from the sources (web/), so both forms are listed.
    const attaching = listSourceFiles(join(root, "src"))
      .filter((f) => /\bdefineMethod\(|Tensor\.prototype/.test(readFileSync(f, "utf8")))
      .map((f) => relative(join(root, "src"), f))
      .flatMap((f) => [`./dist/${f.replace(/\.ts$/, ".js")}`, `./src/${f}`])
      .sort();
    assert.deepEqual([...pkg.sideEffects].sort(), attaching);
  });

  test("the README's examples run and type-check (strict) against the installed package", () => {
    const blocks = tsBlocks(readFileSync(join(root, "README.md"), "utf8"));
    assert.ok(blocks.length >= 2, "the README has examples");
    const names = blocks.map((code, i) => {
      const name = `readme-${i}.ts`;
      writeFileSync(join(esm, name), code);
      writeFileSync(join(esm, name.replace(/\.ts$/, ".mjs")), transformSync(code, { loader: "ts" }).code);
      return name;
    });
    // A CommonJS TypeScript consumer too: `require` resolves the same declarations.
    writeFileSync(
      join(esm, "consumer.cts"),
      'import diffopt = require("diffopt");\nconst g: diffopt.Tensor = diffopt.grad((x: diffopt.Tensor) => diffopt.sum(x))(diffopt.tensor([1]));\nexport = g;\n',
    );
    const tsconfig = {
      compilerOptions: { module: "nodenext", target: "es2022", strict: true, noEmit: true, types: [] },
      files: [...names, "consumer.cts"],
    };
    writeFileSync(join(esm, "tsconfig.json"), JSON.stringify(tsconfig));
    run("node", [tsc, "-p", "tsconfig.json"], esm);
    for (const name of names) run("node", [name.replace(/\.ts$/, ".mjs")], esm);
  });

  test("package.json: semver version, repository, homepage, engines with require(esm)", () => {
    assert.match(pkg.version, /^\d+\.\d+\.\d+(-[\w.]+)?$/);
    assert.match(
      readFileSync(join(root, "CHANGELOG.md"), "utf8"),
      new RegExp(`^## ${pkg.version.replace(/\./g, "\\.")}\\b`, "m"),
    );
    assert.ok(pkg.repository?.url && pkg.homepage, "repository and homepage");
    for (const condition of ["types", "import", "require", "default"])
      assert.ok(pkg.exports["."][condition], condition);
  });
});
