import { test } from "node:test";
import { gemm } from "../src/core/ops/matmul.js";
import { assertClose, rng } from "./helpers.js";

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
    const expected = c.slice();
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += a[i * k + p]! * b[p * n + j]!;
        expected[i * n + j] += s;
      }
    gemm(a, 0, b, 0, c, 0, m, k, n);
    assertClose(c, expected, { rtol: 1e-12, atol: 1e-12 }, `${m}x${k}x${n}`);
  }
});
