import { test, describe } from "node:test";
import assert from "node:assert/strict";
import {
  GradientDescent,
  gradientStepFixedPoint,
  customFixedPoint,
  objective,
  linalg,
  grad,
  jvp,
  tensor,
  eye,
  matmul,
  sum,
  square,
  sub,
  Tensor,
  NonFiniteError,
  NonScalarOutputError,
  ValueError,
} from "../src/index.js";
import { assertClose, randn, rng } from "./helpers.js";

const r = rng(21);
const n = 30;
const d = 5;
const X = randn(r, [n, d]);
const y = randn(r, [n]);
const Xval = randn(r, [10, d]);
const yval = randn(r, [10]);
const init = tensor(new Float64Array(d));

/** Ridge minimiser of ½·mean((Xw − y)²) + ½λ‖w‖², differentiable in λ through the dense solve. */
const ridgeClosedForm = (lam: Tensor) =>
  linalg.solve(matmul(X.T, X).div(n).add(eye(d).mul(lam)), matmul(X.T, y).div(n));
const outer = (w: Tensor) => sum(square(sub(matmul(Xval, w), yval))).mul(0.5);

describe("GradientDescent", () => {
  const lam = tensor(0.3);
  const wStar = ridgeClosedForm(lam);
  for (const [label, opts] of [
    ["fixed step", { stepsize: 0.5 }],
    ["backtracking", {}],
    ["Nesterov, fixed step", { stepsize: 0.5, acceleration: true }],
    ["Nesterov, backtracking", { acceleration: true }],
  ] as const) {
    test(`reaches the ridge closed form (${label})`, () => {
      const solver = new GradientDescent({ fun: objective.ridgeRegression, tol: 1e-10, maxIter: 2000, ...opts });
      const { params, state } = solver.run(init, lam, [X, y]);
      assert.equal(state.status, "converged");
      assert.ok(state.error <= 1e-10);
      assertClose(params, wStar, { rtol: 1e-8, atol: 1e-10 });
      assertClose(state.value, objective.ridgeRegression(wStar, lam, [X, y]).item(), { rtol: 1e-12 });
      assertClose(solver.optimalityFun(params, lam, [X, y]) as Tensor, new Float64Array(d), { atol: 1e-9 });
    });
  }

  test("init/update step by step equals run with implicitDiff off", () => {
    const solver = new GradientDescent({ fun: objective.ridgeRegression, stepsize: 0.4, maxIter: 7, tol: 0 });
    let state = solver.init(init, lam, [X, y]);
    let params: Tensor = init;
    for (let k = 0; k < 7; k++) {
      const r = solver.update(params, state, lam, [X, y]);
      [params, state] = [r.params as Tensor, r.state];
    }
    const run = solver.run(init, lam, [X, y]);
    assert.equal(run.state.iterNum, 7);
    assert.equal(run.state.status, "maxIterReached");
    assertClose(run.params, params, { rtol: 1e-15 });
  });

  test("implicit hypergradient with respect to l2reg matches the closed form (reverse and forward)", () => {
    const solver = new GradientDescent({ fun: objective.ridgeRegression, tol: 1e-10, maxIter: 2000 });
    const hyper = (l: Tensor) => outer(solver.run(init, l, [X, y]).params);
    const expected = grad((l: Tensor) => outer(ridgeClosedForm(l)))(lam) as Tensor;
    assertClose(grad(hyper)(lam) as Tensor, expected, { rtol: 1e-7 });
    const [, tangent] = jvp((l: Tensor) => solver.run(init, l, [X, y]).params, [lam], [tensor(1)]);
    const [, expectedTangent] = jvp(ridgeClosedForm, [lam], [tensor(1)]);
    assertClose(tangent as Tensor, expectedTangent as Tensor, { rtol: 1e-7, atol: 1e-12 });
    // also with respect to the data
    const gy = grad((yy: Tensor) => outer(solver.run(init, lam, [X, yy]).params))(y) as Tensor;
    const gyExpected = grad((yy: Tensor) =>
      outer(linalg.solve(matmul(X.T, X).div(n).add(eye(d).mul(lam)), matmul(X.T, yy).div(n))),
    )(y) as Tensor;
    assertClose(gy, gyExpected, { rtol: 1e-7, atol: 1e-12 });
  });

  test("unrolled mode (implicitDiff: false) gives gradients matching finite differences of the same iterations", () => {
    for (const opts of [{ stepsize: 0.3 }, { acceleration: true, stepsize: 0.3 }, {}]) {
      const solver = new GradientDescent({
        fun: objective.ridgeRegression,
        maxIter: 15,
        tol: 0,
        implicitDiff: false,
        ...opts,
      });
      const hyper = (l: Tensor) => outer(solver.run(init, l, [X, y]).params);
      const g = (grad(hyper)(lam) as Tensor).item();
      const eps = 1e-6;
      const fd = (hyper(tensor(0.3 + eps)).item() - hyper(tensor(0.3 - eps)).item()) / (2 * eps);
      // backtracking: the step is a constant of the derivative, and it does not change under ±eps here
      assertClose(g, fd, { rtol: 1e-6, atol: 1e-9 });
    }
  });

  test("solve with one solver, differentiate with the gradient-step fixed point", () => {
    const solver = new GradientDescent({
      fun: objective.ridgeRegression,
      tol: 1e-11,
      maxIter: 2000,
      implicitDiff: false,
    });
    const T = gradientStepFixedPoint(objective.ridgeRegression, 0.5);
    const argmin = customFixedPoint(T, { positiveDefinite: true })(
      (x0: Tensor, l: Tensor, data: [Tensor, Tensor]) => solver.run(x0, l, data).params,
    );
    const expected = grad((l: Tensor) => outer(ridgeClosedForm(l)))(lam) as Tensor;
    assertClose(grad((l: Tensor) => outer(argmin(init, l, [X, y])))(lam) as Tensor, expected, { rtol: 1e-7 });
  });

  test("divergence: a step far above 2/L throws by default, or stops with status diverged", () => {
    const opts = { fun: objective.ridgeRegression, stepsize: 100, maxIter: 2000 };
    assert.throws(
      () => new GradientDescent(opts).run(init, lam, [X, y]),
      (e) => e instanceof NonFiniteError && /GradientDescent: diverged/.test(e.message),
    );
    const { params, state } = new GradientDescent({ ...opts, throwOnDiverge: false, implicitDiff: false }).run(
      init,
      lam,
      [X, y],
    );
    assert.equal(state.status, "diverged");
    assert.ok(state.iterNum < 2000);
    assert.ok(!Number.isFinite(state.value!) || !params.data.every(Number.isFinite));
  });

  test("callback sees every iterate; options are validated", () => {
    const seen: number[] = [];
    const solver = new GradientDescent({
      fun: objective.ridgeRegression,
      stepsize: 0.5,
      maxIter: 5,
      tol: 0,
      callback: (_p, s) => seen.push(s.iterNum),
    });
    solver.run(init, lam, [X, y]);
    assert.deepEqual(seen, [1, 2, 3, 4, 5]);
    assert.throws(
      () => new GradientDescent({ fun: objective.ridgeRegression, stepsize: -1 }),
      (e) => e instanceof ValueError && /stepsize/.test(e.message),
    );
    assert.throws(() => new GradientDescent({ fun: objective.ridgeRegression, maxIter: 1.5 }), ValueError);
    assert.throws(() => new GradientDescent({ fun: objective.ridgeRegression, tol: -1 }), ValueError);
    assert.throws(
      () => new GradientDescent({ fun: (w: Tensor) => w }).run(init),
      (e) => e instanceof NonScalarOutputError && /GradientDescent: fun must return a scalar/.test(e.message),
    );
  });
});
