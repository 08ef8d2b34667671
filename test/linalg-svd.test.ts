import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  Tensor,
  tensor,
  eye,
  mul,
  sum,
  matmul,
  transpose,
  grad,
  hessian,
  jvp,
  norm as coreNorm,
  DifferentiationError,
  NonFiniteError,
  ShapeError,
  ValueError,
} from "../src/index.js";
import { norm, svd, svdvals } from "../src/linalg/dense/index.js";
import { eighKernel } from "../src/linalg/dense/kernels.js";
import { svdKernel } from "../src/linalg/dense/svd-kernel.js";
import { assertClose, checkDerivatives, numericJacobian, randn, rng } from "./helpers.js";

const r = rng(31);

/** ‖X‖_max of a row-major array. */
const maxAbs = (x: ArrayLike<number>) => Array.from(x).reduce((a, v) => Math.max(a, Math.abs(v)), 0);

/** Row-major product of an (a×b) and a (b×c) array. */
function mm(x: Float64Array, y: Float64Array, a: number, b: number, c: number): Float64Array {
  const out = new Float64Array(a * c);
  for (let i = 0; i < a; i++)
    for (let k = 0; k < b; k++) for (let j = 0; j < c; j++) out[i * c + j] += x[i * b + k]! * y[k * c + j]!;
  return out;
}

function transposeArr(x: Float64Array, a: number, b: number): Float64Array {
  const out = new Float64Array(a * b);
  for (let i = 0; i < a; i++) for (let j = 0; j < b; j++) out[j * a + i] = x[i * b + j]!;
  return out;
}

/** Checks A = U·diag(s)·Vᵀ, UᵀU = VᵀV = I, s descending and ≥ 0, to `tol`·max(1, ‖A‖). */
function checkFactors(a: Float64Array, m: number, n: number, tol = 1e-13): void {
  const { u, s, v } = svdKernel(a, m, n);
  const k = Math.min(m, n);
  assert.equal(u.length, m * k);
  assert.equal(s.length, k);
  assert.equal(v.length, n * k);
  const scale = Math.max(1, maxAbs(a));
  const us = u.map((x, i) => x * s[i % k]!);
  const rec = mm(us, transposeArr(v, n, k), m, k, n);
  assert.ok(maxAbs(rec.map((x, i) => x - a[i]!)) <= tol * scale * Math.max(m, n), `reconstruction ${m}×${n}`);
  const ident = (q: Float64Array, rows: number) => mm(transposeArr(q, rows, k), q, k, rows, k);
  const err = (g: Float64Array) => maxAbs(g.map((x, i) => x - (Math.floor(i / k) === i % k ? 1 : 0)));
  assert.ok(err(ident(u, m)) <= 1e-13 * Math.max(m, n), `UᵀU = I (${m}×${n})`);
  assert.ok(err(ident(v, n)) <= 1e-13 * Math.max(m, n), `VᵀV = I (${m}×${n})`);
  for (let i = 1; i < k; i++) assert.ok(s[i - 1]! >= s[i]! && s[i]! >= 0, "descending, non-negative");
}

describe("svdKernel (one-sided Jacobi)", () => {
  test("factors of random tall, wide and square matrices (1×1 to 60×45)", () => {
    for (const [m, n] of [
      [1, 1],
      [1, 5],
      [5, 1],
      [3, 3],
      [7, 4],
      [4, 7],
      [30, 30],
      [60, 45],
      [45, 60],
    ] as const) {
      checkFactors(randn(r, [m, n]).data, m, n);
    }
  });
  test("singular values equal √eig(AᵀA) for a well-conditioned matrix", () => {
    const [m, n] = [12, 8];
    const a = randn(r, [m, n]).data;
    const { w } = eighKernel(mm(transposeArr(a, m, n), a, n, m, n), n);
    const expected = Array.from(w, Math.sqrt).reverse();
    assertClose(svdKernel(a, m, n).s, expected, { rtol: 1e-12 });
  });
  test("known singular values: diagonal with signs and a permutation, rank-deficient, zero", () => {
    assertClose(svdKernel(new Float64Array([0, 0, -2, 0, 5, 0, 1, 0, 0]), 3, 3).s, [5, 2, 1], { rtol: 1e-15 });
    // rank 1: uvᵀ with ‖u‖ = 3, ‖v‖ = 5
    const rank1 = new Float64Array([1, 2, 2].flatMap((x) => [3, 4].map((y) => x * y)));
    assertClose(svdKernel(rank1, 3, 2).s, [15, 0], { rtol: 1e-14, atol: 1e-14 });
    checkFactors(rank1, 3, 2);
    checkFactors(new Float64Array(12), 3, 4);
    assert.deepEqual(Array.from(svdKernel(new Float64Array(12), 4, 3).s), [0, 0, 0]);
  });
  test("extreme scales neither overflow nor underflow; empty matrices", () => {
    assertClose(
      svdKernel(new Float64Array([1e200, 1e200, 1e200, -1e200]), 2, 2).s,
      [Math.SQRT2 * 1e200, Math.SQRT2 * 1e200],
      { rtol: 1e-14 },
    );
    assertClose(svdKernel(new Float64Array([3e-200, 0, 0, -4e-200]), 2, 2).s, [4e-200, 3e-200], {
      rtol: 1e-14,
      atol: 0,
    });
    // Singular values span 600 decades: the largest exact, the smallest within the backward error eps·‖A‖.
    const spread = svdKernel(new Float64Array([1e300, 0, 0, 1e-300]), 2, 2).s;
    assertClose(spread[0]!, 1e300, { rtol: 1e-15, atol: 0 });
    assert.ok(Math.abs(spread[1]! - 1e-300) <= 2.3e-16 * 1e300);
    for (const [m, n] of [
      [0, 3],
      [3, 0],
      [0, 0],
    ] as const) {
      const { u, s, v } = svdKernel(new Float64Array(0), m, n);
      assert.deepEqual([u.length, s.length, v.length], [0, 0, 0]);
    }
  });
  test("small singular values to high relative accuracy (graded matrix, condition 1e12)", () => {
    // A = D·Q with D = diag(1, 1e-4, 1e-8, 1e-12) and an orthogonal Q: singular values exactly D's entries.
    const c = Math.cos(0.3);
    const s = Math.sin(0.3);
    const q = new Float64Array([c, -s, 0, 0, s, c, 0, 0, 0, 0, c, -s, 0, 0, s, c]);
    const g = [1, 1e-4, 1e-8, 1e-12];
    const a = q.map((x, i) => x * g[Math.floor(i / 4)]!);
    assertClose(svdKernel(a, 4, 4).s, g, { rtol: 1e-10 });
  });
});

describe("svd and svdvals: values and derivatives", () => {
  const tall = randn(r, [5, 3]);
  const wide = randn(r, [3, 5]);
  const square = randn(r, [4, 4]);
  test("svd returns u (m×k), s (k) and vt (k×n) with A = u·diag(s)·vt", () => {
    for (const a of [tall, wide, square]) {
      const { u, s, vt } = svd(a);
      const k = Math.min(a.shape[0]!, a.shape[1]!);
      assert.deepEqual([u.shape, s.shape, vt.shape], [[a.shape[0], k], [k], [k, a.shape[1]]]);
      assertClose(matmul(mul(u, s), vt), a, { rtol: 1e-12, atol: 1e-13 });
      assertClose(svdvals(a), s, { rtol: 1e-15, atol: 0 });
    }
  });
  test("singular values: jacfwd, jacrev, finite differences and the adjoint identity", () => {
    for (const a of [tall, wide, square]) checkDerivatives(svdvals, [a], {}, `svdvals ${a.shape}`);
    for (const a of [tall, wide, square]) checkDerivatives((x) => svd(x).s, [a], {}, `svd s ${a.shape}`);
  });
  test("singular vectors: jacfwd, jacrev, finite differences (tall, wide, square)", () => {
    for (const a of [tall, wide, square]) {
      checkDerivatives((x) => svd(x).u, [a], {}, `svd u ${a.shape}`);
      checkDerivatives((x) => svd(x).vt, [a], {}, `svd vt ${a.shape}`);
    }
  });
  test("reverse mode through u, s and vt together (a sign-invariant function) against finite differences", () => {
    const c = randn(r, [3]);
    const B = randn(r, [5, 3]);
    // Σᵢ cᵢ·uᵢᵀ·B·vᵢ + Σ sᵢ³ is invariant under the sign flip of a pair (uᵢ, vᵢ).
    const f = (x: Tensor) => {
      const { u, s, vt } = svd(x);
      return sum(mul(c, sum(mul(matmul(transpose(u), B), vt), { axis: 1 }))).add(sum(mul(mul(s, s), s)));
    };
    assertClose((grad(f)(tall) as Tensor).data, numericJacobian(f, [tall]), { rtol: 1e-6, atol: 1e-8 });
  });
  test("second derivatives: Hessian of the nuclear and spectral norms against finite differences of the gradient", () => {
    for (const [name, f] of [
      ["nuclear", (x: Tensor) => sum(svdvals(x))],
      ["spectral²", (x: Tensor) => svdvals(x).max().mul(svdvals(x).max())],
      ["Σ s·u₁₁", (x: Tensor) => sum(mul(svd(x).s, svd(x).u))],
    ] as const) {
      const g = (x: Tensor) => grad(f)(x) as Tensor;
      const H = hessian(f)(tall) as Tensor;
      assertClose(H.data, numericJacobian(g, [tall]), { rtol: 1e-5, atol: 1e-7 }, name);
    }
  });
  test("closed forms: ∇ Σsᵢ = U·Vᵀ and ∇ s₁ = u₁v₁ᵀ", () => {
    const { u, vt } = svd(square);
    assertClose(grad((x: Tensor) => sum(svdvals(x)))(square) as Tensor, matmul(u, vt), { rtol: 1e-12, atol: 1e-14 });
    const u1 = (u.toArray() as number[][]).map((row) => row[0]!);
    const v1 = (vt.toArray() as number[][])[0]!;
    const outer = u1.map((x) => v1.map((y) => x * y));
    assertClose(grad((x: Tensor) => svdvals(x).max())(square) as Tensor, outer, { rtol: 1e-12, atol: 1e-14 });
  });
  test("svdvals has a first derivative at repeated singular values; svd's vectors do not", () => {
    const I = eye(3);
    assertClose(grad((x: Tensor) => sum(svdvals(x)))(I) as Tensor, I, { rtol: 1e-14 });
    const [, ds] = jvp(
      svdvals,
      [I],
      [
        tensor([
          [1, 0, 0],
          [0, 2, 0],
          [0, 0, 0],
        ]),
      ],
    ) as [Tensor, Tensor];
    assertClose(sum(ds), 3, { rtol: 1e-14 }); // trace of Uᵀ·dA·V with U = V
    assert.throws(() => grad((x: Tensor) => sum(svd(x).u))(I), DifferentiationError);
    assert.throws(
      () =>
        grad((x: Tensor) => sum(svd(x).u))(
          tensor([
            [1, 0],
            [0, 0],
            [0, 0],
          ]),
        ),
      /zero singular value/,
    );
  });
  test("bad input: not a matrix, non-finite entries", () => {
    assert.throws(() => svd(tensor([1, 2, 3])), ShapeError);
    assert.throws(() => svdvals(tensor([[1, NaN]])), NonFiniteError);
  });
});

describe("linalg.norm", () => {
  const A = tensor([
    [3, 0],
    [4, 5],
  ]);
  test("spectral, smallest-singular-value and nuclear norms (closed forms)", () => {
    // AᵀA = [[25, 20], [20, 25]]: singular values √45 and √5.
    assertClose(norm(A, { ord: 2 }), Math.sqrt(45), { rtol: 1e-15 });
    assertClose(norm(A, { ord: -2 }), Math.sqrt(5), { rtol: 1e-14 });
    assertClose(norm(A, { ord: "nuc" }), Math.sqrt(45) + Math.sqrt(5), { rtol: 1e-15 });
  });
  test("other orders are the top-level norm", () => {
    for (const ord of [undefined, "fro", 1, -1, Infinity, -Infinity] as const) {
      assertClose(norm(A, { ord }), coreNorm(A, { ord }), { rtol: 0, atol: 0 });
    }
    assertClose(norm(tensor([3, 4]), { ord: 2 }), 5, { rtol: 1e-15 });
  });
  test("batches over the remaining axes, any axis order, keepdims", () => {
    const X = randn(r, [2, 4, 3]);
    const per = [0, 1].map((b) => svdvals((X.toArray() as number[][][])[b]!).data[0]!);
    assertClose(norm(X, { ord: 2, axis: [1, 2] }), per, { rtol: 1e-14 });
    // axes [2, 1]: the transposed matrices, same singular values; keepdims keeps both axes
    const kept = norm(X, { ord: 2, axis: [2, 1], keepdims: true });
    assert.deepEqual(kept.shape, [2, 1, 1]);
    assertClose(kept.data, per, { rtol: 1e-14 });
    const nuc = norm(X, { ord: "nuc", axis: [0, 2] });
    assert.deepEqual(nuc.shape, [4]);
  });
  test("derivatives of the batched spectral norm against finite differences", () => {
    const X = randn(r, [2, 3, 3]);
    checkDerivatives((x) => norm(x, { ord: 2, axis: [1, 2] }), [X], {}, "spectral");
    checkDerivatives((x) => norm(x, { ord: "nuc", axis: [2, 0] }), [X], {}, "nuclear");
  });
  test("errors: 'nuc' of a vector, equal axes", () => {
    assert.throws(() => norm(tensor([1, 2]), { ord: "nuc" }), ValueError);
    assert.throws(() => norm(randn(r, [2, 2]), { ord: 2, axis: [1, 1] }), /must differ/);
  });
});
