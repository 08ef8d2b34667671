/**
 * Matrix–vector products and outer products, the five forms `gemmStrided` hands to its level-2 kernels (A·x and
 * Aᵀ·x with n = 1, x·B and x·Bᵀ with m = 1, x·yᵀ with k = 1), on odd sizes around the kernels' four-row blocks and pairs of columns, with offsets,
 * strides and alpha, against a naive loop. Runs with the default kernels (WebAssembly SIMD) here and again with
 * the TypeScript kernels forced in test/kernels-ts.test.ts.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { activeKernels, grad, matmul, mul, random, square, sub, sum, tensor, type Tensor } from "../src/index.js";
import { gemmStrided } from "../src/core/ops/matmul.js";
import { wasmMatvec } from "../src/core/wasm/gemv.js";
import { gemv } from "../src/linalg/dense/kernels.js";
import { assertClose, rng } from "./helpers.js";

type Strides = [aRow: number, aCol: number, bRow: number, bCol: number];

test("matrix–vector and outer products equal a naive loop in all five forms, with offsets, strides and alpha", () => {
  const r = rng(17);
  const wasm = activeKernels() === "wasm";
  for (const [rows, depth] of [
    [33, 32],
    [32, 33],
    [35, 37],
    [1000, 3],
    [6, 301],
  ] as const) {
    // [m, k, n, strides] of op(A)·op(B) for each form; stored matrices have a row stride `ld` > their width.
    const ld = Math.max(rows, depth) + 3;
    const forms: [string, number, number, number, Strides][] = [
      ["A·x", rows, depth, 1, [ld, 1, 2, 1]],
      ["Aᵀ·x", rows, depth, 1, [1, ld, 2, 1]],
      ["x·B", 1, depth, rows, [1, 2, ld, 1]],
      ["x·Bᵀ", 1, depth, rows, [1, 2, 1, ld]],
      ["x⊗y", rows, 1, depth, [2, 1, 1, 3]],
    ];
    for (const [form, m, k, n, [aRow, aCol, bRow, bCol]] of forms) {
      const aOff = 3;
      const bOff = 1;
      const cOff = 2;
      const ldc = n === 1 ? 3 : m === 1 ? 1 : n + 2;
      const a = Float64Array.from({ length: aOff + ld * ld }, () => r.normal());
      const b = Float64Array.from({ length: bOff + ld * ld }, () => r.normal());
      const c = Float64Array.from({ length: cOff + m * ldc + n }, () => r.normal());
      const alpha = -1.25;
      const expected = c.slice();
      // prettier-ignore
      for (let i = 0; i < m; i++)
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let p = 0; p < k; p++) s += a[aOff + i * aRow + p * aCol]! * b[bOff + p * bRow + j * bCol]!;
          expected[cOff + i * ldc + j] += alpha * s;
        }
      const got = c.slice();
      gemmStrided(m, k, n, alpha, a, aOff, aRow, aCol, b, bOff, bRow, bCol, got, cOff, ldc);
      assertClose(got, expected, { rtol: 1e-12, atol: 1e-12 }, `${form} ${rows}×${depth}`);
      // The WebAssembly kernels take every one of these products exactly when they are the active backend.
      const direct = c.slice();
      const took = wasmMatvec(m, k, n, alpha, a, aOff, aRow, aCol, b, bOff, bRow, bCol, direct, cOff, ldc);
      assert.equal(took, wasm, form);
      if (took) assertClose(direct, expected, { rtol: 1e-12, atol: 1e-12 }, `wasm ${form} ${rows}×${depth}`);
    }
  }
});

test("linalg's plain gemv (A·x and Aᵀ·x) equals a naive loop; non-finite entries propagate", () => {
  const r = rng(3);
  const [m, n] = [45, 39];
  const a = Float64Array.from({ length: m * n }, () => r.normal());
  const x = Float64Array.from({ length: n }, () => r.normal());
  const u = Float64Array.from({ length: m }, () => r.normal());
  const ax = Float64Array.from({ length: m }, (_, i) => x.reduce((s, xj, j) => s + a[i * n + j]! * xj, 0));
  const atu = Float64Array.from({ length: n }, (_, j) => u.reduce((s, ui, i) => s + a[i * n + j]! * ui, 0));
  assertClose(gemv(a, m, n, x, false), ax, { rtol: 1e-12, atol: 1e-12 });
  assertClose(gemv(a, m, n, u, true), atu, { rtol: 1e-12, atol: 1e-12 });
  a[2 * n + 5] = NaN;
  a[7 * n + 4] = Infinity;
  const y = gemv(a, m, n, x, false);
  assert.ok(Number.isNaN(y[2]) && y[7] === (x[4]! > 0 ? Infinity : -Infinity) && Number.isFinite(y[0]));
  const z = gemv(a, m, n, u, true);
  assert.ok(Number.isNaN(z[5]) && Number.isFinite(z[0]));
});

test("the least-squares gradient Xᵀ(Xw − y) through matmul's matrix–vector kernels has its closed form", () => {
  const X = random.normal(random.key(1), [200, 37]);
  const y = random.normal(random.key(2), [200]);
  const w = random.normal(random.key(3), [37]);
  const g = grad((v: Tensor) => mul(0.5, sum(square(sub(matmul(X, v), y)))))(w) as Tensor;
  const [Xd, yd, wd] = [X.data, y.data, w.data];
  const res = Float64Array.from({ length: 200 }, (_, i) => {
    let s = -yd[i]!;
    for (let j = 0; j < 37; j++) s += Xd[i * 37 + j]! * wd[j]!;
    return s;
  });
  const expected = Float64Array.from({ length: 37 }, (_, j) => res.reduce((s, ri, i) => s + Xd[i * 37 + j]! * ri, 0));
  assertClose(g, tensor(expected), { rtol: 1e-12, atol: 1e-12 });
});
