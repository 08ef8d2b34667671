import { test } from "node:test";
import { gemm, gemmNT, gemmTN } from "../src/core/ops/matmul.js";
import { assertClose, rng } from "./helpers.js";

/** C + A·B by the triple loop, for A m×k, B k×n and C m×n row-major. */
function naiveProduct(
  a: Float64Array,
  b: Float64Array,
  c: Float64Array,
  m: number,
  k: number,
  n: number,
): Float64Array {
  const out = c.slice();
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[i * k + p]! * b[p * n + j]!;
      out[i * n + j] += s;
    }
  return out;
}

test("gemm (packed and streaming paths) matches a naive triple loop on odd sizes", () => {
  const r = rng(5);
  for (const [m, k, n] of [
    [1, 7, 3],
    [50, 103, 1],
    [1, 5, 1],
    [2, 100, 9],
    [37, 41, 29],
    [65, 64, 130],
    [33, 200, 11],
    [128, 3, 257],
  ] as const) {
    const a = Float64Array.from({ length: m * k }, () => r.normal());
    const b = Float64Array.from({ length: k * n }, () => r.normal());
    const c = Float64Array.from({ length: m * n }, () => r.normal());
    const expected = naiveProduct(a, b, c, m, k, n);
    gemm(a, 0, b, 0, c, 0, m, k, n);
    assertClose(c, expected, { rtol: 1e-12, atol: 1e-12 }, `${m}x${k}x${n}`);
  }
});

test("gemm, gemmTN and gemmNT match a naive triple loop on shapes around the WebAssembly threshold", () => {
  // WASM_MIN_WORK = 128 (ops/matmul.ts) with every side at least 4: 4×4×4, 5×5×5 and 4×7×4 stay below it, 4×8×4
  // and 5×6×5 reach it, sides of 2 or 3 never go to the WebAssembly GEMM; 10×300×10 is the implicit ridge pullback.
  const r = rng(6);
  for (const [m, k, n] of [
    [4, 4, 4],
    [4, 7, 4],
    [4, 8, 4],
    [5, 5, 5],
    [5, 6, 5],
    [3, 50, 10],
    [10, 50, 3],
    [2, 64, 16],
    [4, 3, 16],
    [10, 300, 10],
  ] as const) {
    const a = Float64Array.from({ length: m * k }, () => r.normal());
    const b = Float64Array.from({ length: k * n }, () => r.normal());
    const c0 = Float64Array.from({ length: m * n }, () => r.normal());
    const expected = naiveProduct(a, b, c0, m, k, n);
    // The same product with A stored transposed (k×m) and with B stored transposed (n×k).
    const at = new Float64Array(k * m);
    for (let i = 0; i < m; i++) for (let p = 0; p < k; p++) at[p * m + i] = a[i * k + p]!;
    const bt = new Float64Array(n * k);
    for (let p = 0; p < k; p++) for (let j = 0; j < n; j++) bt[j * k + p] = b[p * n + j]!;
    const tol = { rtol: 1e-12, atol: 1e-12 };
    let c = c0.slice();
    gemm(a, 0, b, 0, c, 0, m, k, n);
    assertClose(c, expected, tol, `nn ${m}x${k}x${n}`);
    c = c0.slice();
    gemmTN(at, 0, b, 0, c, 0, m, k, n);
    assertClose(c, expected, tol, `tn ${m}x${k}x${n}`);
    c = c0.slice();
    gemmNT(a, 0, bt, 0, c, 0, m, k, n);
    assertClose(c, expected, tol, `nt ${m}x${k}x${n}`);
  }
});
