/**
 * The library stays browser-safe: src/index.ts bundles for the browser (esbuild, platform "browser") without
 * Node-only references, and the bundle computes correct derivatives in a JavaScript context that has the
 * language's built-ins but none of Node's globals. The demo page (web/) bundles too. No browser needed.
 */
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import vm from "node:vm";
import { build, transform, type BuildOptions } from "esbuild";
import { pageBuildOptions } from "../web/build.js";

const libraryEntry = fileURLToPath(new URL("../src/index.ts", import.meta.url));

const browserBundle = {
  bundle: true,
  platform: "browser",
  format: "esm",
  write: false,
  metafile: true,
  logLevel: "silent",
} satisfies BuildOptions;

/** References that only work under Node, each with a pattern for bundled JavaScript. */
const NODE_ONLY = [
  { what: "require(", pattern: /\brequire\s*\(/g },
  { what: "a node: module", pattern: /["']node:[\w/]+["']/g },
  { what: "process.", pattern: /\bprocess\s*\./g },
  { what: "Buffer", pattern: /\bBuffer\b/g },
] as const;

/** Every Node-only reference in `code`, as "what at offset: excerpt". */
function nodeOnlyReferences(code: string): string[] {
  const found: string[] = [];
  for (const { what, pattern } of NODE_ONLY) {
    for (const m of code.matchAll(pattern)) {
      found.push(`${what} at ${m.index}: ${JSON.stringify(code.slice(Math.max(0, m.index - 60), m.index + 40))}`);
    }
  }
  return found;
}

async function bundleLibrary() {
  const result = await build({ ...browserBundle, entryPoints: [libraryEntry] });
  return { result, code: result.outputFiles[0]!.text };
}

describe("browser bundle of the library", () => {
  test("builds for the browser from src/ alone, without errors, warnings or Node-only references", async () => {
    const { result, code } = await bundleLibrary();
    assert.deepEqual(result.errors, []);
    assert.deepEqual(result.warnings, []);
    const inputs = Object.keys(result.metafile.inputs);
    assert.ok(inputs.length > 20, `expected the whole library in the bundle, got ${inputs.length} inputs`);
    assert.deepEqual(
      inputs.filter((path) => !path.startsWith("src/")),
      [],
      "the bundle should contain only src/ files (no runtime dependency)",
    );
    assert.deepEqual(nodeOnlyReferences(code), []);
  });

  test("the guard catches Node-only code", async () => {
    const snippet =
      'const a = process.env.HOME; const b = Buffer.from("x"); const fs = require("fs"); import("node:fs");';
    assert.deepEqual(
      nodeOnlyReferences(snippet).map((r) => r.split(" at ")[0]),
      ["require(", "a node: module", "process.", "Buffer"],
    );
    assert.deepEqual(nodeOnlyReferences("const processed = buffers.length; // a Buffered stream"), []);
    // A Node built-in module does not even resolve for the browser platform.
    await assert.rejects(
      build({ ...browserBundle, stdin: { contents: 'import { readFileSync } from "node:fs"; readFileSync("x");' } }),
      /node:fs/,
    );
  });

  test("computes gradients and implicit derivatives in a context without Node's globals", async () => {
    const { code } = await bundleLibrary();
    const { code: script } = await transform(code, { format: "iife", globalName: "diffopt", logLevel: "silent" });
    const messages: string[] = [];
    const record = (...args: unknown[]) => messages.push(args.map(String).join(" "));
    const context = vm.createContext({ console: { log: record, warn: record, error: record, info: record } });
    new vm.Script(script, { filename: "diffopt.browser.js" }).runInContext(context, { timeout: 10_000 });

    const probe = `JSON.stringify({
      nodeGlobals: [typeof process, typeof require, typeof Buffer, typeof global, typeof module],
      ...(() => {
        const { tensor, grad, customRoot, stationarity, add, sub, mul, sin, sum, square, matmul, eye, linalg } = diffopt;
        // ∇ Σ sin(xᵢ)·xᵢ = cos(x)·x + sin(x)
        const g = grad((x) => sum(mul(sin(x), x)))(tensor([0.3, -1.2, 2]));
        // x*(a) = √a as the root of x² − a, by Newton's method on plain numbers: dx*/da = 1 / (2√a)
        const sqrtOf = customRoot((x, a) => sub(mul(x, x), a))((init, a) => {
          let x = init.item();
          for (let i = 0; i < 60; i++) x = 0.5 * (x + a.item() / x);
          return tensor(x);
        });
        const dSqrt = grad((a) => sqrtOf(tensor(1), a))(tensor(2)).item();
        // ridge: w*(λ) = (XᵀX + λI)⁻¹Xᵀy; d Σ w* / dλ = −1ᵀ(XᵀX + λI)⁻¹ w*
        const X = tensor([[1, 2], [3, 4], [5, 7]]);
        const y = tensor([1, 0, 2]);
        const H = (lam) => add(matmul(X.T, X), mul(lam, eye(2)));
        const ridge = customRoot(
          stationarity((w, lam) => add(mul(0.5, sum(square(sub(matmul(X, w), y)))), mul(mul(0.5, lam), sum(square(w))))),
          { positiveDefinite: true },
        )((_init, lam) => linalg.solve(H(lam), matmul(X.T, y)));
        const lam = tensor(0.1);
        const implicit = grad((l) => sum(ridge(undefined, l)))(lam).item();
        const closedForm = -sum(linalg.solve(H(lam), ridge(undefined, lam))).item();
        let error = "";
        try { add(tensor([1, 2]), tensor([1, 2, 3])); } catch (e) { error = (e instanceof diffopt.ShapeError) + " " + e.name; }
        return { g: Array.from(g.data), dSqrt, implicit, closedForm, error };
      })(),
    })`;
    const out = JSON.parse(vm.runInContext(probe, context, { timeout: 10_000 }) as string);

    assert.deepEqual(out.nodeGlobals, ["undefined", "undefined", "undefined", "undefined", "undefined"]);
    const x = [0.3, -1.2, 2];
    out.g.forEach((v: number, i: number) => {
      const expected = Math.cos(x[i]!) * x[i]! + Math.sin(x[i]!);
      assert.ok(Math.abs(v - expected) <= 1e-14, `gradient entry ${i}: ${v} vs ${expected}`);
    });
    assert.ok(Math.abs(out.dSqrt - 1 / (2 * Math.SQRT2)) <= 1e-14, `d√a/da at 2: ${out.dSqrt}`);
    assert.ok(
      Math.abs(out.implicit - out.closedForm) <= 1e-10 * Math.abs(out.closedForm),
      `ridge hypergradient: implicit ${out.implicit}, closed form ${out.closedForm}`,
    );
    assert.equal(out.error, "true ShapeError");
    assert.deepEqual(messages, [], "the computation printed nothing");
  });
});

describe("browser bundle of the demo page", () => {
  test("web/main.ts bundles without errors or Node-only references", async () => {
    const result = await build({ ...pageBuildOptions, write: false, logLevel: "silent", sourcemap: false });
    assert.deepEqual(result.errors, []);
    assert.deepEqual(result.warnings, []);
    assert.equal(result.outputFiles.length, 1);
    assert.deepEqual(nodeOnlyReferences(result.outputFiles[0]!.text), []);
  });
});
