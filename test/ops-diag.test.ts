import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  Tensor,
  tensor,
  zeros,
  eye,
  diag,
  diagonal,
  trace,
  triu,
  tril,
  matmul,
  matrixTranspose,
  sum,
  mul,
  sin,
  grad,
  hessian,
  jacrev,
  ShapeError,
  ValueError,
} from "../src/index.js";
import { assertClose, checkDerivatives, numericJacobian, randn, rng } from "./helpers.js";

const r = rng(31);

function element(x: Tensor, idx: readonly number[]): number {
  let pos = 0;
  for (let i = 0; i < idx.length; i++) pos = pos * x.shape[i]! + idx[i]!;
  return x.data[pos]!;
}

function checkSecondOrder(f: (x: Tensor) => Tensor, x: Tensor): void {
  const g = (v: Tensor) => grad(f)(v) as Tensor;
  const fd = numericJacobian(g, [x]);
  const tol = { rtol: 1e-5, atol: 1e-6 };
  assertClose((hessian(f)(x) as Tensor).data, fd, tol, "hessian");
  assertClose((jacrev(g)(x) as Tensor).data, fd, tol, "jacrev of grad");
}

describe("diag", () => {
  test("vector to matrix on diagonal k", () => {
    assert.deepEqual(diag(tensor([1, 2])).toArray(), [
      [1, 0],
      [0, 2],
    ]);
    assert.deepEqual(diag(tensor([1, 2]), 1).toArray(), [
      [0, 1, 0],
      [0, 0, 2],
      [0, 0, 0],
    ]);
    assert.deepEqual(diag(tensor([1, 2]), -2).toArray(), [
      [0, 0, 0, 0],
      [0, 0, 0, 0],
      [1, 0, 0, 0],
      [0, 2, 0, 0],
    ]);
    assert.deepEqual(diag(zeros([0])).shape, [0, 0]);
  });

  test("matrix to its diagonal k, and diag∘diag is the identity on vectors", () => {
    const a = tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    assert.deepEqual(diag(a).toArray(), [1, 5]);
    assert.deepEqual(diag(a, 2).toArray(), [3]);
    assert.deepEqual(diag(a, -1).toArray(), [4]);
    assert.deepEqual(diag(a, 3).toArray(), []);
    assert.deepEqual(diag(a, -5).toArray(), []);
    const v = randn(r, [4]);
    for (const k of [-2, 0, 3]) assert.deepEqual(diag(diag(v, k), k).toArray(), v.toArray());
  });

  test("⟨diag(v, k), M⟩ = ⟨v, diagonal(M, k)⟩: writing and reading a diagonal are each other's transpose", () => {
    for (const k of [-2, -1, 0, 1, 3]) {
      const v = randn(r, [4]);
      const m = randn(r, [4 + Math.abs(k), 4 + Math.abs(k)]);
      const lhs = diag(v, k).mul(m).sum().item();
      const rhs = v.mul(diagonal(m, k)).sum().item();
      assertClose(lhs, rhs, { rtol: 1e-12, atol: 1e-12 }, `k=${k}`);
    }
  });

  test("errors", () => {
    assert.throws(
      () => diag(zeros([2, 2, 2])),
      (e: Error) => e instanceof ShapeError && /diag: .*\[2, 2, 2\]/.test(e.message),
    );
    assert.throws(() => diag(tensor(1)), ShapeError);
    assert.throws(
      () => diag(zeros([2]), 0.5),
      (e: Error) => e instanceof ValueError && /diag: k must be an integer/.test(e.message),
    );
  });

  test("derivatives", () => {
    checkDerivatives((v) => diag(v, 1), [randn(r, [3])]);
    checkDerivatives((a) => diag(a, -1), [randn(r, [3, 4])]);
    const w = randn(r, [4, 4]);
    checkSecondOrder((v) => sum(mul(sin(diag(v, -1)), w)), randn(r, [3]));
  });
});

describe("diagonal and trace", () => {
  test("batched diagonals over any pair of axes, against a loop", () => {
    const x = randn(r, [3, 4, 5]);
    const cases: [number, number, number][] = [
      [0, 0, 1],
      [1, 0, 2],
      [-2, 2, 0],
      [2, 1, 2],
      [-1, -1, -2],
    ];
    for (const [offset, axis1, axis2] of cases) {
      const d = diagonal(x, offset, axis1, axis2);
      const a1 = axis1 < 0 ? axis1 + 3 : axis1;
      const a2 = axis2 < 0 ? axis2 + 3 : axis2;
      const rest = [0, 1, 2].find((a) => a !== a1 && a !== a2)!;
      const n1 = x.shape[a1]!;
      const n2 = x.shape[a2]!;
      const expected: number[] = [];
      for (let b = 0; b < x.shape[rest]!; b++) {
        for (let i = 0; i < n1; i++) {
          const j = i + offset;
          if (j < 0 || j >= n2) continue;
          const idx = [0, 0, 0];
          idx[rest] = b;
          idx[a1] = i;
          idx[a2] = j;
          expected.push(element(x, idx));
        }
      }
      assert.equal(d.shape.length, 2);
      assert.equal(d.shape[0], x.shape[rest]);
      assert.deepEqual(Array.from(d.data), expected, `offset ${offset}, axes ${axis1}, ${axis2}`);
    }
  });

  test("trace of a matrix and of a batch", () => {
    const a = tensor([
      [1, 2, 3],
      [4, 5, 6],
      [7, 8, 9],
    ]);
    assert.equal(trace(a).item(), 15);
    assert.equal(trace(a, 1).item(), 8);
    assert.equal(trace(a, -2).item(), 7);
    assert.equal(trace(a, 3).item(), 0);
    const b = randn(r, [2, 3, 3]);
    const t = trace(b, 0, 1, 2);
    assert.deepEqual(t.shape, [2]);
    for (let k = 0; k < 2; k++) {
      assertClose(t.data[k]!, element(b, [k, 0, 0]) + element(b, [k, 1, 1]) + element(b, [k, 2, 2]), { rtol: 1e-14 });
    }
    assert.equal(a.trace().item(), 15);
    assert.deepEqual(a.diagonal(1).toArray(), [2, 6]);
  });

  test("errors", () => {
    assert.throws(
      () => diagonal(zeros([3])),
      (e: Error) => e instanceof ShapeError && /diagonal: .*\[3\]/.test(e.message),
    );
    assert.throws(
      () => diagonal(zeros([3, 3]), 0, 1, -1),
      (e: Error) => e instanceof ValueError && /axis1 and axis2 must differ/.test(e.message),
    );
    assert.throws(() => diagonal(zeros([3, 3]), 0, 0, 2), ValueError);
    assert.throws(() => trace(zeros([3, 3]), 1.5), ValueError);
  });

  test("gradients in closed form: ∇ tr(A) = I, ∇_A tr(AᵀB) = B, ∇_A tr(AB) = Bᵀ", () => {
    const a = randn(r, [3, 3]);
    const b = randn(r, [3, 3]);
    assertClose(grad((x: Tensor) => trace(x))(a) as Tensor, eye(3), { rtol: 0, atol: 0 });
    assertClose(grad((x: Tensor) => trace(matmul(matrixTranspose(x), b)))(a) as Tensor, b, {
      rtol: 1e-12,
      atol: 1e-12,
    });
    assertClose(grad((x: Tensor) => trace(matmul(x, b)))(a) as Tensor, matrixTranspose(b), {
      rtol: 1e-12,
      atol: 1e-12,
    });
  });

  test("derivatives against finite differences, first and second order", () => {
    const x = randn(r, [3, 4, 2]);
    checkDerivatives((a) => diagonal(a, 1, 0, 1), [x]);
    checkDerivatives((a) => diagonal(a, -1, 2, 0), [x]);
    checkDerivatives((a) => trace(a, 0, 0, 2), [x]);
    const w = randn(r, [2, 3]);
    checkSecondOrder((a) => sum(mul(sin(diagonal(a, 0, 1, 0)), w)), x);
  });
});

describe("triu and tril", () => {
  test("batched over leading axes, against a loop", () => {
    const x = randn(r, [2, 3, 4]);
    for (const k of [-3, -1, 0, 1, 2, 5]) {
      const u = triu(x, k);
      const l = tril(x, k);
      for (let b = 0; b < 2; b++) {
        for (let i = 0; i < 3; i++) {
          for (let j = 0; j < 4; j++) {
            const v = element(x, [b, i, j]);
            assert.equal(element(u, [b, i, j]), j - i >= k ? v : 0, `triu k=${k}`);
            assert.equal(element(l, [b, i, j]), j - i <= k ? v : 0, `tril k=${k}`);
          }
        }
      }
    }
    assert.deepEqual(
      triu(
        tensor([
          [1, 2],
          [3, 4],
        ]),
      ).toArray(),
      [
        [1, 2],
        [0, 4],
      ],
    );
    assert.deepEqual(
      tensor([
        [1, 2],
        [3, 4],
      ])
        .tril(-1)
        .toArray(),
      [
        [0, 0],
        [3, 0],
      ],
    );
  });

  test("triu(k) + tril(k − 1) = x; zeroing never makes NaN from infinities", () => {
    const x = randn(r, [3, 5]);
    for (const k of [-1, 0, 2]) {
      const y = triu(x, k).add(tril(x, k - 1));
      assert.deepEqual(Array.from(y.data), Array.from(x.data));
    }
    assert.deepEqual(
      triu(
        tensor([
          [1, 2],
          [Infinity, 4],
        ]),
      ).toArray(),
      [
        [1, 2],
        [0, 4],
      ],
    );
  });

  test("errors", () => {
    assert.throws(
      () => triu(zeros([3])),
      (e: Error) => e instanceof ShapeError && /triu: .*\[3\]/.test(e.message),
    );
    assert.throws(
      () => tril(zeros([3, 3]), 0.5),
      (e: Error) => e instanceof ValueError && /tril: k must be an integer/.test(e.message),
    );
  });

  test("derivatives: the rule is the same mask (closed form), and finite differences", () => {
    const x = randn(r, [2, 3, 3]);
    const w = randn(r, [2, 3, 3]);
    const g = grad((a: Tensor) => sum(mul(triu(a, 1), w)))(x) as Tensor;
    assert.deepEqual(Array.from(g.data), Array.from(triu(w, 1).data));
    checkDerivatives((a) => triu(a, -1), [x]);
    checkDerivatives((a) => tril(a, 1), [x]);
    checkSecondOrder((a) => sum(mul(sin(tril(a)), w)), x);
  });
});
