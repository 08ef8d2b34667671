import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { linalg, grad, hessian, sum, sin, matmul, eye, Tensor } from "../src/index.js";
import { assertClose, checkDerivatives, randn, rng } from "./helpers.js";

const r = rng(41);
const n = 6;
const B = randn(r, [n, n]);
// SPD with condition number ~1e4
const A = matmul(B.T, B).add(eye(n).mul(1e-2));
const b = randn(r, [n]);
const spd = (M: Tensor) => linalg.LinearOperator.fromMatrix(M, { symmetric: true, positiveDefinite: true });
const general = (M: Tensor) => linalg.LinearOperator.fromMatrix(M);

describe("linalg.iterativeRefinement", () => {
  test("a loose inner CG refined to a tight residual; the ridge variant", () => {
    const exact = linalg.solve(A, b);
    for (const opts of [
      { inner: { solver: "cg", rtol: 1e-3, maxIter: 4 } },
      { ridge: 0.05, inner: { solver: "cholesky" } },
    ] as const) {
      const { value, info } = linalg.iterativeRefinement(spd(A), b, { ...opts, maxIter: 500 });
      assert.ok(info.converged && info.iterations > 1, JSON.stringify(info));
      assert.ok(info.residualNorm <= 1e-12 * Math.hypot(...b.data), `${info.residualNorm}`);
      assertClose(value, exact, { rtol: 1e-7 });
    }
  });

  test("derivatives in the matrix and b match finite differences and linearSolve, to second order", () => {
    const M = A.add(randn(r, [n, n]).mul(0.3)); // nonsymmetric
    const opts = { inner: { solver: "gmres", rtol: 1e-4 }, maxIter: 100 } as const;
    const f = (m: Tensor, v: Tensor) => linalg.iterativeRefinement(general(m), v, opts).value;
    checkDerivatives(f, [M, b], { rtol: 1e-5, atol: 1e-7 });
    const g = (v: Tensor) => sum(sin(f(M, v)));
    const ref = (v: Tensor) => sum(sin(linalg.linearSolve(general(M), v).value));
    assertClose(hessian(g)(b), hessian(ref)(b), { rtol: 1e-7, atol: 1e-9 });
    assertClose(grad((m: Tensor) => sum(sin(f(m, b))))(M), grad((m: Tensor) => sum(sin(linalg.solve(m, b))))(M), {
      rtol: 1e-7,
      atol: 1e-9,
    });
  });

  test("non-convergence is a LinearSolveError unless throwOnFailure is false", () => {
    const opts = { inner: { solver: "cg", rtol: 0.5 }, maxIter: 1 } as const;
    assert.throws(() => linalg.iterativeRefinement(spd(A), b, opts), linalg.LinearSolveError);
    const { info } = linalg.iterativeRefinement(spd(A), b, { ...opts, throwOnFailure: false });
    assert.equal(info.converged, false);
    assert.throws(() => linalg.iterativeRefinement(spd(A), b, { ridge: -1 }), /ridge must be non-negative/);
  });
});
