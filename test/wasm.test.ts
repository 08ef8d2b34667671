/**
 * The WebAssembly SIMD GEMM: the embedded module matches its .wat source, and its products equal the TypeScript
 * kernels' on every shape, stride, offset and alpha that `gemmStrided` passes it (odd sizes, several depth slabs
 * and panel groups). test/kernels-ts.test.ts runs the dense-kernel tests again with the TypeScript kernels forced.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { activeKernels, matmul, random, useKernels } from "../src/index.js";
import { gemmStrided } from "../src/core/ops/matmul.js";
import { wasmGemm } from "../src/core/wasm/gemm.js";
import { GEMM_WASM } from "../src/core/wasm/gemm-module.js";
import { assemble, embed, sources } from "../scripts/build-wasm.js";
import { assertClose, rng } from "./helpers.js";

test("every embedded module is the assembly of its .wat source (run npm run build:wasm after editing one)", async () => {
  for (const s of sources()) {
    const bytes = await assemble(s.name, readFileSync(s.wat, "utf8"));
    assert.equal(readFileSync(s.out, "utf8"), embed(s.name, bytes), `${s.out} is stale`);
  }
  assert.ok(GEMM_WASM.length > 0);
  assert.deepEqual(
    sources().map((s) => s.name),
    ["elementwise", "gemm", "gemv"],
  );
});

test("Node ≥ 20 runs the WebAssembly kernels by default; useKernels switches and restores", () => {
  assert.equal(activeKernels(), "wasm");
  const previous = useKernels("ts");
  assert.equal(activeKernels(), "ts");
  useKernels(previous);
  assert.equal(activeKernels(), "wasm");
});

/** C += alpha·op(A)·op(B) by a naive loop on the same strided views. */
function reference(
  m: number,
  k: number,
  n: number,
  alpha: number,
  a: Float64Array,
  aOff: number,
  aRow: number,
  aCol: number,
  b: Float64Array,
  bOff: number,
  bRow: number,
  bCol: number,
  c: Float64Array,
  cOff: number,
  ldc: number,
): void {
  // prettier-ignore
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[aOff + i * aRow + p * aCol]! * b[bOff + p * bRow + j * bCol]!;
      c[cOff + i * ldc + j] += alpha * s;
    }
}

test("wasmGemm equals the naive product on odd sizes, transposed strides, offsets, alpha and several slabs", () => {
  const r = rng(11);
  const cases: [number, number, number][] = [
    [4, 4, 4],
    [5, 9, 7],
    [37, 41, 29],
    [65, 300, 130], // two depth slabs
    [9, 20, 300], // two panel groups (64 panels = 256 columns)
    [130, 17, 3],
  ];
  for (const [m, k, n] of cases) {
    for (const layout of ["nn", "tn", "nt"] as const) {
      const aOff = 3;
      const bOff = 5;
      const cOff = 2;
      const ldc = n + 3;
      const a = Float64Array.from({ length: aOff + m * k }, () => r.normal());
      const b = Float64Array.from({ length: bOff + k * n }, () => r.normal());
      const c = Float64Array.from({ length: cOff + m * ldc }, () => r.normal());
      const [aRow, aCol] = layout === "tn" ? [1, m] : [k, 1];
      const [bRow, bCol] = layout === "nt" ? [1, k] : [n, 1];
      const alpha = -0.75;
      const expected = c.slice();
      reference(m, k, n, alpha, a, aOff, aRow, aCol, b, bOff, bRow, bCol, expected, cOff, ldc);
      const got = c.slice();
      assert.ok(wasmGemm(m, k, n, alpha, a, aOff, aRow, aCol, b, bOff, bRow, bCol, got, cOff, ldc));
      assertClose(got, expected, { rtol: 1e-12, atol: 1e-12 }, `${layout} ${m}×${k}×${n}`);
      // Padding columns of C (beyond n in each row) are untouched.
      for (let i = 0; i < m; i++)
        for (let j = n; j < ldc && cOff + i * ldc + j < c.length; j++)
          assert.equal(got[cOff + i * ldc + j], c[cOff + i * ldc + j]);
      // And the TypeScript path agrees too.
      const viaTs = c.slice();
      const previous = useKernels("ts");
      gemmStrided(m, k, n, alpha, a, aOff, aRow, aCol, b, bOff, bRow, bCol, viaTs, cOff, ldc);
      useKernels(previous);
      assertClose(viaTs, expected, { rtol: 1e-12, atol: 1e-12 }, `ts ${layout} ${m}×${k}×${n}`);
    }
  }
});

test("the memory grows for a large product and a smaller one afterwards is still right", () => {
  const big = random.normal(random.key(3), [300, 300]);
  const small = random.normal(random.key(4), [40, 40]);
  const prevBig = matmul(big, big);
  const prevSmall = matmul(small, small);
  const previous = useKernels("ts");
  const refBig = matmul(big, big);
  const refSmall = matmul(small, small);
  useKernels(previous);
  assertClose(prevBig, refBig, { rtol: 1e-12, atol: 1e-10 });
  assertClose(prevSmall, refSmall, { rtol: 1e-12, atol: 1e-12 });
});

test("non-finite entries propagate as in the TypeScript kernel (no SIMD-specific NaN loss)", () => {
  const a = new Float64Array(64 * 64).fill(1);
  a[5] = NaN;
  a[64 * 10 + 3] = Infinity;
  const b = new Float64Array(64 * 64).fill(1);
  const c1 = new Float64Array(64 * 64);
  const c2 = new Float64Array(64 * 64);
  wasmGemm(64, 64, 64, 1, a, 0, 64, 1, b, 0, 64, 1, c1, 0, 64);
  const previous = useKernels("ts");
  gemmStrided(64, 64, 64, 1, a, 0, 64, 1, b, 0, 64, 1, c2, 0, 64);
  useKernels(previous);
  for (let i = 0; i < c1.length; i++)
    assert.ok(Object.is(c1[i], c2[i]) || (Number.isNaN(c1[i]) && Number.isNaN(c2[i])));
});
