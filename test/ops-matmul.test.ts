import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  Tensor,
  tensor,
  zeros,
  eye,
  matmul,
  dot,
  vdot,
  outer,
  matrixTranspose,
  transpose,
  sum,
  mul,
  sin,
  grad,
  hessian,
  jacrev,
  ShapeError,
} from "../src/index.js";
import { assertClose, checkDerivatives, numericJacobian, randn, rng } from "./helpers.js";

const r = rng(8);

function element(x: Tensor, idx: readonly number[]): number {
  let pos = 0;
  for (let i = 0; i < idx.length; i++) pos = pos * x.shape[i]! + idx[i]!;
  return x.data[pos]!;
}

/**
 * NumPy matmul by definition: 1-D operands promoted and the added axis dropped, batch axes broadcast, and
 * each product a triple loop.
 */
function naiveMatmul(a: Tensor, b: Tensor): { shape: number[]; data: number[] } {
  const as = a.ndim === 1 ? [1, a.shape[0]!] : [...a.shape];
  const bs = b.ndim === 1 ? [b.shape[0]!, 1] : [...b.shape];
  const m = as[as.length - 2]!;
  const k = as[as.length - 1]!;
  const n = bs[bs.length - 1]!;
  const ab = as.slice(0, -2);
  const bb = bs.slice(0, -2);
  const nd = Math.max(ab.length, bb.length);
  const pad = (s: number[]) => [...new Array<number>(nd - s.length).fill(1), ...s];
  const pa = pad(ab);
  const pb = pad(bb);
  const batch = pa.map((d, i) => Math.max(d, pb[i]!));
  const data: number[] = [];
  const nb = batch.reduce((x, y) => x * y, 1);
  for (let t = 0; t < nb; t++) {
    const bi: number[] = new Array(nd);
    let rem = t;
    for (let i = nd - 1; i >= 0; i--) {
      bi[i] = rem % batch[i]!;
      rem = Math.floor(rem / batch[i]!);
    }
    const ai = bi.map((v, i) => (pa[i] === 1 ? 0 : v)).slice(nd - ab.length);
    const bj = bi.map((v, i) => (pb[i] === 1 ? 0 : v)).slice(nd - bb.length);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) {
          const av = a.ndim === 1 ? a.data[p]! : element(a, [...ai, i, p]);
          const bv = b.ndim === 1 ? b.data[p]! : element(b, [...bj, p, j]);
          s += av * bv;
        }
        data.push(s);
      }
    }
  }
  const shape = [...batch];
  if (a.ndim > 1) shape.push(m);
  if (b.ndim > 1) shape.push(n);
  return { shape, data };
}

function checkAgainstNaive(a: Tensor, b: Tensor, msg: string): void {
  const out = matmul(a, b);
  const expected = naiveMatmul(a, b);
  assert.deepEqual(out.shape, expected.shape, `${msg} shape`);
  assertClose(out.data, expected.data, { rtol: 1e-12, atol: 1e-12 }, msg);
}

function checkSecondOrder(f: (x: Tensor) => Tensor, x: Tensor): void {
  const g = (v: Tensor) => grad(f)(v) as Tensor;
  const fd = numericJacobian(g, [x]);
  const tol = { rtol: 1e-5, atol: 1e-6 };
  assertClose((hessian(f)(x) as Tensor).data, fd, tol, "hessian");
  assertClose((jacrev(g)(x) as Tensor).data, fd, tol, "jacrev of grad");
}

const shapePairs: [number[], number[]][] = [
  [
    [3, 4],
    [4, 2],
  ],
  [[4], [4, 3]],
  [[3, 4], [4]],
  [[5], [5]],
  [
    [2, 1, 3, 4],
    [5, 4, 2],
  ],
  [
    [2, 3, 4],
    [4, 2],
  ],
  [
    [3, 4],
    [2, 4, 5],
  ],
  [[4], [2, 4, 3]],
  [[2, 3, 4], [4]],
  [
    [1, 3, 4],
    [2, 1, 4, 2],
  ],
  [
    [1, 1],
    [1, 1],
  ],
];

describe("matmul", () => {
  test("values against a naive triple loop, for every NumPy case", () => {
    for (const [sa, sb] of shapePairs) checkAgainstNaive(randn(r, sa), randn(r, sb), `${sa} × ${sb}`);
  });

  test("large products (packed kernel) and odd sizes against the naive loop", () => {
    checkAgainstNaive(randn(r, [37, 41]), randn(r, [41, 29]), "37×41 · 41×29");
    checkAgainstNaive(randn(r, [2, 33, 40]), randn(r, [40, 18]), "batched 33×40 · 40×18");
    checkAgainstNaive(randn(r, [64, 64]), randn(r, [64, 64]), "64×64");
  });

  test("a concrete matrix times a vector (its own fast path) equals the column product, bit for bit", () => {
    // 3×5 and 9×7 take the TypeScript kernel, 40×33 and 128×128 the WebAssembly one (≥ 1024 entries).
    for (const [m, k] of [
      [3, 5],
      [9, 7],
      [40, 33],
      [128, 128],
    ] as const) {
      const A = randn(r, [m, k]);
      const v = randn(r, [k]);
      const got = matmul(A, v);
      assert.deepEqual(got.shape, [m]);
      const column = matmul(A, tensor(v.data, [k, 1]));
      assert.deepEqual([...got.data], [...column.data]);
      for (let i = 0; i < m; i++) {
        let s = 0;
        for (let j = 0; j < k; j++) s += element(A, [i, j]) * v.data[j]!;
        assertClose(got.data[i]!, s, { rtol: 1e-12, atol: 1e-12 });
      }
    }
  });

  test("hand-computed values", () => {
    assert.deepEqual(
      matmul(
        tensor([
          [1, 2],
          [3, 4],
        ]),
        tensor([
          [5, 6],
          [7, 8],
        ]),
      ).toArray(),
      [
        [19, 22],
        [43, 50],
      ],
    );
    assert.deepEqual(
      matmul(
        tensor([
          [1, 2],
          [3, 4],
        ]),
        tensor([1, 1]),
      ).toArray(),
      [3, 7],
    );
    assert.deepEqual(
      matmul(
        tensor([1, 1]),
        tensor([
          [1, 2],
          [3, 4],
        ]),
      ).toArray(),
      [4, 6],
    );
    const s = matmul(tensor([1, 2, 3]), tensor([4, 5, 6]));
    assert.deepEqual(s.shape, []);
    assert.equal(s.item(), 32);
    assert.deepEqual(matmul(zeros([2, 0]), zeros([0, 3])).toArray(), [
      [0, 0, 0],
      [0, 0, 0],
    ]);
    assert.deepEqual(
      tensor([[1, 2]])
        .matmul(tensor([[3], [4]]))
        .toArray(),
      [[11]],
    );
  });

  test("errors name the op and both shapes", () => {
    assert.throws(
      () => matmul(zeros([2, 3]), zeros([2, 3])),
      (e: Error) =>
        e instanceof ShapeError &&
        /matmul: inner dimensions differ: a has shape \[2, 3\], b has shape \[2, 3\]/.test(e.message),
    );
    assert.throws(
      () => matmul(zeros([3]), zeros([4])),
      (e: Error) => e instanceof ShapeError && /\[3\].*\[4\]/.test(e.message),
    );
    assert.throws(
      () => matmul(tensor(2), zeros([2])),
      (e: Error) => e instanceof ShapeError && /matmul: operands must have at least one axis/.test(e.message),
    );
    assert.throws(
      () => matmul(zeros([2, 2, 3]), zeros([3, 3, 2])),
      (e: Error) => e instanceof ShapeError && /matmul: .*\[2, 2, 3\].*\[3, 3, 2\]/.test(e.message),
    );
  });

  test("JVP and VJP against finite differences in every case", () => {
    for (const [sa, sb] of shapePairs) {
      checkDerivatives((a, b) => matmul(a, b), [randn(r, sa), randn(r, sb)], {}, `${sa} × ${sb}`);
    }
  });

  test("gradients in closed form: ∇_A Σ W ⊙ AB = W Bᵀ, ∇_B = Aᵀ W; broadcast batches are summed", () => {
    const a = randn(r, [3, 4]);
    const b = randn(r, [4, 2]);
    const w = randn(r, [3, 2]);
    const [ga, gb] = grad((p: Tensor, q: Tensor) => sum(mul(matmul(p, q), w)), { argnums: [0, 1] })(a, b) as Tensor[];
    assertClose(ga!, matmul(w, matrixTranspose(b)), { rtol: 1e-12, atol: 1e-12 });
    assertClose(gb!, matmul(matrixTranspose(a), w), { rtol: 1e-12, atol: 1e-12 });
    // b is shared by a batch of 3: its gradient sums the per-batch gradients.
    const a3 = randn(r, [3, 2, 4]);
    const gShared = grad((q: Tensor) => sum(matmul(a3, q)))(b) as Tensor;
    const expected = new Float64Array(8);
    for (let t = 0; t < 3; t++)
      for (let p = 0; p < 4; p++)
        for (let j = 0; j < 2; j++) expected[p * 2 + j]! += element(a3, [t, 0, p]) + element(a3, [t, 1, p]);
    assertClose(gShared.data, expected, { rtol: 1e-12, atol: 1e-12 });
  });

  test("second derivatives", () => {
    const b = randn(r, [2, 4, 2]);
    const w = randn(r, [2, 3, 2]);
    checkSecondOrder((a) => sum(mul(sin(matmul(a, b)), w)), randn(r, [3, 4]));
    // Quadratic form: the Hessian of xᵀAx is A + Aᵀ.
    const m = randn(r, [3, 3]);
    const h = hessian((x: Tensor) => matmul(x, matmul(m, x)))(randn(r, [3])) as Tensor;
    assertClose(h, m.add(matrixTranspose(m)), { rtol: 1e-12, atol: 1e-12 });
  });
});

describe("dot, vdot, outer, matrixTranspose", () => {
  test("dot: vectors, matrix–vector, matrices, scalars", () => {
    assert.equal(dot(tensor([1, 2]), tensor([3, 4])).item(), 11);
    assert.deepEqual(
      dot(
        tensor([
          [1, 2],
          [3, 4],
        ]),
        tensor([1, -1]),
      ).toArray(),
      [-1, -1],
    );
    assert.deepEqual(
      dot(
        tensor([
          [1, 2],
          [3, 4],
        ]),
        eye(2),
      ).toArray(),
      [
        [1, 2],
        [3, 4],
      ],
    );
    assert.deepEqual(dot(tensor(2), tensor([1, 2])).toArray(), [2, 4]);
    assert.equal(
      tensor([1, 2])
        .dot(tensor([1, 1]))
        .item(),
      3,
    );
    assert.throws(
      () => dot(zeros([2, 2, 2]), zeros([2])),
      (e: Error) => e instanceof ShapeError && /dot: .*\[2, 2, 2\]/.test(e.message),
    );
    assert.throws(() => dot(zeros([2]), zeros([3])), ShapeError);
    checkDerivatives((a, b) => dot(a, b), [randn(r, [3, 2]), randn(r, [2])]);
    checkDerivatives((a, b) => dot(a, b), [randn(r, []), randn(r, [3])]);
  });

  test("vdot flattens both operands", () => {
    assert.equal(vdot(tensor([[1, 2]]), tensor([[3, 4]])).item(), 11);
    const a = randn(r, [2, 3]);
    const b = randn(r, [3, 2]);
    let s = 0;
    for (let i = 0; i < 6; i++) s += a.data[i]! * b.data[i]!;
    assertClose(vdot(a, b).item(), s, { rtol: 1e-14, atol: 1e-14 });
    assert.throws(
      () => vdot(zeros([2]), zeros([3])),
      (e: Error) => e instanceof ShapeError && /vdot: sizes differ: \[2\] vs \[3\]/.test(e.message),
    );
    checkDerivatives((p, q) => vdot(p, q), [a, b]);
  });

  test("outer", () => {
    assert.deepEqual(outer(tensor([1, 2]), tensor([3, 4, 5])).toArray(), [
      [3, 4, 5],
      [6, 8, 10],
    ]);
    assert.deepEqual(outer(tensor([[1], [2]]), tensor(3)).toArray(), [[3], [6]]);
    checkDerivatives((p, q) => outer(p, q), [randn(r, [3]), randn(r, [2])]);
  });

  test("matrixTranspose swaps the last two axes of a batch", () => {
    const x = randn(r, [2, 3, 4]);
    const t = matrixTranspose(x);
    assert.deepEqual(t.shape, [2, 4, 3]);
    assert.deepEqual(Array.from(t.data), Array.from(transpose(x, [0, 2, 1]).data));
    assert.equal(element(t, [1, 3, 2]), element(x, [1, 2, 3]));
    assert.throws(
      () => matrixTranspose(zeros([3])),
      (e: Error) =>
        e instanceof ShapeError && /matrixTranspose: expected at least 2 axes, got shape \[3\]/.test(e.message),
    );
    checkDerivatives((a) => matrixTranspose(a), [x]);
  });
});
