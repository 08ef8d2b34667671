import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  Tensor,
  tensor,
  projection,
  add,
  div,
  mul,
  sum,
  sin,
  matmul,
  matrixTranspose,
  grad,
  hessian,
  jacrev,
  ShapeError,
  ValueError,
} from "../src/index.js";
import { eighKernel } from "../src/linalg/dense/kernels.js";
import { assertClose, checkDerivatives, numericJacobian, randn, randTensor, rng } from "./helpers.js";

const r = rng(77);

function frobeniusInner(a: Tensor, b: Tensor): number {
  let s = 0;
  for (let i = 0; i < a.size; i++) s += a.data[i]! * b.data[i]!;
  return s;
}

function randomSymmetric(n: number): Tensor {
  const g = randn(r, [n, n]);
  return mul(add(g, matrixTranspose(g)), 0.5);
}

describe("psdCone", () => {
  test("the result is PSD, matches the diagonal closed form and satisfies the variational inequality", () => {
    assertClose(
      projection.psdCone(
        tensor([
          [2, 0],
          [0, -1],
        ]),
      ),
      tensor([
        [2, 0],
        [0, 0],
      ]),
      { atol: 0 },
    );
    const X = randomSymmetric(5);
    const P = projection.psdCone(X);
    const { w } = eighKernel(P.data, 5);
    assert.ok(w[0]! >= -1e-12, `smallest eigenvalue ${w[0]}`);
    const residual = add(X, mul(P, -1));
    // X − P is the negative part: ⟨X − P, P⟩ = 0 and ⟨X − P, Y − P⟩ ≤ 0 for every PSD Y.
    assertClose(frobeniusInner(residual, P), 0, { atol: 1e-12 });
    for (let k = 0; k < 20; k++) {
      const G = randn(r, [5, 3]);
      const Y = matmul(G, matrixTranspose(G));
      assert.ok(frobeniusInner(residual, add(Y, mul(P, -1))) <= 1e-10);
    }
    // A non-symmetric input is projected through its symmetric part.
    const N = randn(r, [4, 4]);
    assertClose(projection.psdCone(N), projection.psdCone(mul(add(N, matrixTranspose(N)), 0.5)), { atol: 1e-14 });
  });

  test("the Daleckii–Krein derivative matches finite differences in both modes", () => {
    const X = tensor([
      [1.0, 0.4, -0.3, 0.2],
      [0.4, -0.5, 0.6, 0.1],
      [-0.3, 0.6, 0.8, -0.7],
      [0.2, 0.1, -0.7, -1.2],
    ]);
    const { w } = eighKernel(X.data, 4);
    assert.ok(w.some((v) => v < -0.1) && w.some((v) => v > 0.1), "mixed spectrum, away from 0");
    checkDerivatives((x) => projection.psdCone(x), [X], { rtol: 1e-5, atol: 1e-7 });
    // On the interior of the cone the projection is the identity on symmetric directions.
    const G = randn(r, [3, 3]);
    const Spd = add(
      matmul(G, matrixTranspose(G)),
      mul(
        tensor([
          [1, 0, 0],
          [0, 1, 0],
          [0, 0, 1],
        ]),
        0.5,
      ),
    );
    const J = jacrev((x: Tensor) => projection.psdCone(x))(Spd) as Tensor;
    const expected: number[] = [];
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 3; j++)
        for (let k = 0; k < 3; k++)
          for (let l = 0; l < 3; l++) {
            expected.push(0.5 * ((i === k && j === l ? 1 : 0) + (i === l && j === k ? 1 : 0)));
          }
    assertClose(J.data, expected, { atol: 1e-12 });
  });

  test("second derivatives match finite differences of the gradient; bad shapes raise", () => {
    const X = randomSymmetric(4);
    const W = randn(r, [4, 4]);
    const f = (x: Tensor) => sum(sin(mul(projection.psdCone(x), W)));
    const H = hessian(f)(X) as Tensor;
    assertClose(
      H.data,
      numericJacobian((x) => grad(f)(x) as Tensor, [X], 0, 1e-5),
      { rtol: 1e-5, atol: 1e-7 },
    );
    assert.throws(() => projection.psdCone(tensor([[1, 2, 3]])), ShapeError);
  });
});

describe("transport and birkhoff (entropic, Sinkhorn)", () => {
  test("marginals hold and the plan has the Gibbs form exp((f + g − C)/ε)", () => {
    const C = randTensor(r, [4, 3], 0, 2);
    const a = tensor([0.1, 0.2, 0.3, 0.4]);
    const b = tensor([0.5, 0.25, 0.25]);
    const eps = 0.3;
    const P = projection.transport(C, a, b, { epsilon: eps });
    assertClose(sum(P, { axis: 1 }), a, { atol: 1e-12 });
    assertClose(sum(P, { axis: 0 }), b, { atol: 1e-12 });
    // log P + C/ε = u_i + v_j: its double differences vanish.
    const L = (i: number, j: number) => Math.log(P.data[i * 3 + j]!) + C.data[i * 3 + j]! / eps;
    for (let i = 1; i < 4; i++)
      for (let j = 1; j < 3; j++) assertClose(L(i, j) - L(i, 0) - L(0, j) + L(0, 0), 0, { atol: 1e-9 });
    // Optimality: no other feasible plan has a lower entropic objective (perturb along zero-marginal directions).
    const objective = (Q: ArrayLike<number>) => {
      let s = 0;
      for (let k = 0; k < Q.length; k++) s += Q[k]! * C.data[k]! + eps * Q[k]! * (Math.log(Q[k]!) - 1);
      return s;
    };
    const best = objective(P.data);
    for (let trial = 0; trial < 20; trial++) {
      const Q = P.data.slice();
      const [i1, i2] = [0, 1 + Math.floor(r.uniform() * 3)];
      const [j1, j2] = [0, 1 + Math.floor(r.uniform() * 2)];
      const d = Math.min(...P.data) * (r.uniform() - 0.5);
      Q[i1 * 3 + j1]! += d;
      Q[i2 * 3 + j2]! += d;
      Q[i1 * 3 + j2]! -= d;
      Q[i2 * 3 + j1]! -= d;
      assert.ok(objective(Q) >= best - 1e-14);
    }
  });

  test("birkhoff gives a doubly stochastic matrix that tends to the assignment as ε → 0", () => {
    const X = tensor([
      [2, 0, 1],
      [0, 1, 0],
      [1, 0, 3],
    ]);
    const P = projection.birkhoff(X, { epsilon: 0.25, maxIter: 100000 });
    assertClose(sum(P, { axis: 0 }), tensor([1, 1, 1]), { atol: 1e-10 });
    assertClose(sum(P, { axis: 1 }), tensor([1, 1, 1]), { atol: 1e-10 });
    const I = tensor([
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
    ]);
    assertClose(P, I, { atol: 1e-2 });
    const far = projection.birkhoff(X, { epsilon: 1 });
    const gap = (Q: Tensor) => Q.data.reduce((s, v, k) => s + Math.abs(v - I.data[k]!), 0);
    assert.ok(gap(P) < 0.5 * gap(far), `${gap(P)} vs ${gap(far)}`);
  });

  test("implicit derivatives in the cost, the marginals and ε match finite differences", () => {
    const C = randTensor(r, [3, 4], 0, 1);
    const a = tensor([0.2, 0.5, 0.3]);
    const b = tensor([0.1, 0.4, 0.3, 0.2]);
    // Normalising inside keeps the finite-difference perturbations of a and b feasible.
    const plan = (C: Tensor, a: Tensor, b: Tensor, eps: Tensor) =>
      projection.transport(C, div(a, sum(a)), div(b, sum(b)), { epsilon: eps });
    checkDerivatives(plan, [C, a, b, tensor(0.4)], { rtol: 1e-5, atol: 1e-7 });
    checkDerivatives((x) => projection.birkhoff(x, { epsilon: 0.7 }), [randn(r, [3, 3])], { rtol: 1e-5, atol: 1e-7 });
  });

  test("second derivatives (implicit rule differentiated again) match finite differences of the gradient", () => {
    const C = randTensor(r, [3, 3], 0, 1);
    const W = randn(r, [3, 3]);
    const f = (c: Tensor) =>
      sum(sin(mul(projection.transport(c, tensor([0.3, 0.3, 0.4]), tensor([0.5, 0.2, 0.3]), { epsilon: 0.5 }), W)));
    const H = hessian(f)(C) as Tensor;
    assertClose(
      H.data,
      numericJacobian((c) => grad(f)(c) as Tensor, [C], 0, 1e-5),
      { rtol: 1e-5, atol: 1e-7 },
    );
  });

  test("bad input raises typed errors", () => {
    const C = tensor([
      [0, 1],
      [1, 0],
    ]);
    assert.throws(() => projection.transport(C, tensor([0.5, 0.5]), tensor([0.5, 0.6])), ValueError);
    assert.throws(() => projection.transport(C, tensor([0.5, 0.5, 0]), tensor([0.5, 0.5])), ValueError);
    assert.throws(() => projection.transport(C, tensor([1, 1, 1]), tensor([1.5, 1.5])), ShapeError);
    assert.throws(() => projection.transport(C, tensor([0.5, 0.5]), tensor([0.5, 0.5]), { epsilon: 0 }), ValueError);
    assert.throws(() => projection.birkhoff(tensor([[1, 2, 3]])), ShapeError);
    assert.throws(
      () =>
        projection.birkhoff(
          tensor([
            [0, 1, 0.5],
            [1, 0, 2],
            [0.3, 0.1, 0],
          ]),
          { epsilon: 0.1, maxIter: 3 },
        ),
      ValueError,
    );
  });
});
