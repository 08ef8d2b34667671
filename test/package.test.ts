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

/**
 * A small program exercising the package as a new user's first tasks do: a gradient, a Hessian, an implicit
 * derivative, per-example gradients with vmap, a solver's hypergradient, a projection, a typed error.
 */
const program = (load: string) => `${load}
const { grad, hessian, vmap, tensor, sum, square, ShapeError, customRoot, sub, mul, GradientDescent, projection } = diffopt;
const g = grad((x) => sum(square(x).mul(0.5)))(tensor([1, 2]));
const h = hessian((x) => sum(x.mul(x).mul(x)))(tensor([1, 2]));
const sqrtOf = customRoot((x, a) => sub(mul(x, x), a))((_init, a) => tensor(Math.sqrt(a.item())));
const perExample = vmap(grad((w, x) => square(sum(mul(w, x)))), { inAxes: [null, 0] })(tensor([1, 1]), tensor([[1, 0], [1, 2]]));
// argmin_x ½(x − θ)² + ½x² = θ/2: the derivative of the solution is 1/2
const gd = new GradientDescent({ fun: (x, t) => square(sub(x, t)).add(square(x)).mul(0.5), stepsize: 0.5, tol: 1e-12 });
const hyper = Math.round(grad((t) => gd.run(tensor(0), t).params)(tensor(3)).item() * 1e9) / 1e9;
let shapeError = false;
try { diffopt.add(tensor([1, 2]), tensor([1, 2, 3])); } catch (e) { shapeError = e instanceof ShapeError; }
console.log(JSON.stringify({ g: g.toArray(), h: h.toArray(), d: grad((a) => sqrtOf(undefined, a))(tensor(4)).item(),
  perExample: perExample.toArray(), hyper, simplex: projection.simplex(tensor([2, 0])).toArray(), shapeError }));
`;
const expected = {
  g: [1, 2],
  h: [
    [6, 0],
    [0, 12],
  ],
  d: 0.25,
  perExample: [
    [2, 0],
    [6, 12],
  ],
  hyper: 0.5,
  simplex: [1, 0],
  shapeError: true,
};

/**
 * A TypeScript consumer's first tasks, typed as a user would write them: results typed as what they are (a pytree
 * gradient has the argument's structure, argnums gives a tuple, hasAux a pair), and calls that cannot work are
 * compile errors. Compiled without skipLibCheck, so the published .d.ts files are checked too.
 */
const typedConsumer = `import { grad, valueAndGrad, vmap, hessian, customRoot, GradientDescent, projection, tensor, sum, square, mul, sub,
  type Tensor, type SolverStatus } from "diffopt";
const p = { W: tensor([[1, 2]]), b: tensor([0]) };
const loss = (q: typeof p, x: Tensor) => sum(square(q.W.matmul(x).add(q.b)));
const g: { W: Tensor; b: Tensor } = grad(loss)(p, tensor([1, 1]));
const [ga, gb]: [Tensor, Tensor] = grad((a: Tensor, b: Tensor) => sum(mul(a, b)), { argnums: [0, 1] })(tensor(1), tensor(2));
const [[value, aux], gx] = valueAndGrad((x: Tensor) => [sum(x), { m: x }] as const, { hasAux: true })(tensor([1]));
const fromAux: Tensor[] = [aux.m, value, gx];
const perExample: Tensor = vmap(grad((w: Tensor, x: Tensor) => square(sum(mul(w, x)))), { inAxes: [null, 0] })(
  tensor([1, 1]),
  tensor([[1, 0]]),
);
const h: Tensor = hessian((x: Tensor) => sum(square(x)))(tensor([1]));
const sqrtOf = customRoot((x: Tensor, a: Tensor) => sub(mul(x, x), a))((_init: Tensor | undefined, a: Tensor) => a);
const d: Tensor = grad((a: Tensor) => sqrtOf(undefined, a))(tensor(4));
const status: SolverStatus = new GradientDescent({ fun: (x: Tensor) => sum(square(x)) }).run(tensor([1])).state.status;
const s: Tensor = projection.simplex(tensor([1, 2]));
// @ts-expect-error the gradient of a pytree argument has its structure, not a tensor's
const wrong: Tensor = grad(loss)(p, tensor([1, 1]));
// @ts-expect-error a string is not an argument of this function
grad((x: Tensor) => sum(x))("abc");
export { g, ga, gb, fromAux, perExample, h, d, status, s, wrong };
`;

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

  test("require works from a CommonJS project, and gives the module instance import gives", () => {
    writeFileSync(join(cjs, "main.js"), program('const diffopt = require("diffopt");'));
    assert.deepEqual(JSON.parse(run("node", ["main.js"], cjs)), expected);
    // One module, not a CommonJS twin: a Tensor or an error made through require is an instance for import too.
    writeFileSync(
      join(cjs, "both.mjs"),
      'import { createRequire } from "node:module";\nimport * as imported from "diffopt";\n' +
        'const required = createRequire(import.meta.url)("diffopt");\n' +
        "console.log(JSON.stringify([required.Tensor === imported.Tensor, required.tensor(1) instanceof imported.Tensor]));\n",
    );
    assert.deepEqual(JSON.parse(run("node", ["both.mjs"], cjs)), [true, true]);
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

  test("the README's examples and a typed consumer run and type-check (strict, nodenext) against the installed package", () => {
    const blocks = tsBlocks(readFileSync(join(root, "README.md"), "utf8"));
    assert.ok(blocks.length >= 2, "the README has examples");
    const names = blocks.map((code, i) => {
      const name = `readme-${i}.ts`;
      writeFileSync(join(esm, name), code);
      writeFileSync(join(esm, name.replace(/\.ts$/, ".mjs")), transformSync(code, { loader: "ts" }).code);
      return name;
    });
    writeFileSync(join(esm, "typed.ts"), typedConsumer);
    // A CommonJS TypeScript consumer too: `require` resolves the same declarations.
    writeFileSync(
      join(esm, "consumer.cts"),
      'import diffopt = require("diffopt");\nconst g: diffopt.Tensor = diffopt.grad((x: diffopt.Tensor) => diffopt.sum(x))(diffopt.tensor([1]));\nexport = g;\n',
    );
    const tsconfig = {
      compilerOptions: { module: "nodenext", target: "es2022", strict: true, noEmit: true, types: [] },
      files: [...names, "typed.ts", "consumer.cts"],
    };
    writeFileSync(join(esm, "tsconfig.json"), JSON.stringify(tsconfig));
    run("node", [tsc, "-p", "tsconfig.json"], esm);
    for (const name of names) run("node", [name.replace(/\.ts$/, ".mjs")], esm);
  });

  test("a consumer's first tasks type-check (strict) with moduleResolution bundler too", () => {
    writeFileSync(join(esm, "typed.ts"), typedConsumer);
    const compilerOptions = {
      module: "esnext",
      moduleResolution: "bundler",
      target: "es2022",
      strict: true,
      noEmit: true,
      types: [],
    };
    writeFileSync(join(esm, "tsconfig.bundler.json"), JSON.stringify({ compilerOptions, files: ["typed.ts"] }));
    run("node", [tsc, "-p", "tsconfig.bundler.json"], esm);
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
