import { test, describe } from "node:test";
import assert from "node:assert/strict";
import {
  ProximalGradient,
  ProjectedGradient,
  GradientDescent,
  proxGradFixedPoint,
  projectedGradientFixedPoint,
  customFixedPoint,
  objective,
  prox,
  projection,
  grad,
  jvp,
  tensor,
  matmul,
  sum,
  square,
  sub,
  Tensor,
  ValueError,
} from "../src/index.js";
import { assertClose, randn, rng } from "./helpers.js";

const r = rng(31);
const n = 20;
const d = 8;
const X = randn(r, [n, d]);
const wTrue = tensor([1.5, 0, -2, 0, 0, 0.7, 0, 0]);
const y = matmul(X, wTrue).add(randn(r, [n]).mul(0.3));
const Xval = randn(r, [10, d]);
const yval = matmul(Xval, wTrue);
const init = tensor(new Float64Array(d));
const outer = (w: Tensor) => sum(square(sub(matmul(Xval, w), yval))).mul(0.5);
const lsGrad = (w: Tensor, yy: Tensor = y) => grad((v: Tensor) => objective.leastSquares(v, [X, yy]))(w) as Tensor;

/** Lasso optimality: ∇f + λ·sign(w) = 0 on the support, |∇f| ≤ λ off it. */
function assertLassoOptimal(w: Tensor, l1: number, atol: number): { support: number } {
  const g = lsGrad(w).data;
  let support = 0;
  w.data.forEach((wi, i) => {
    if (wi !== 0) {
      support++;
      assertClose(g[i]! + l1 * Math.sign(wi), 0, { atol }, `stationarity at ${i}`);
    } else assert.ok(Math.abs(g[i]!) <= l1 + atol, `|∇f| ≤ λ at ${i}: ${g[i]}`);
  });
  return { support };
}

describe("ProximalGradient (lasso)", () => {
  const l1 = 0.15;
  for (const [label, opts] of [
    ["FISTA, backtracking", {}],
    ["ISTA, backtracking", { acceleration: false }],
    ["FISTA, fixed step", { stepsize: 0.2 }],
    ["ISTA, fixed step", { stepsize: 0.2, acceleration: false }],
  ] as const) {
    test(`solution satisfies the subgradient optimality conditions (${label})`, () => {
      const solver = new ProximalGradient({
        fun: objective.leastSquares,
        prox: prox.lasso,
        tol: 1e-10,
        maxIter: 5000,
        ...opts,
      });
      const { params, state } = solver.run(init, tensor(l1), [X, y]);
      assert.equal(state.status, "converged");
      const { support } = assertLassoOptimal(params, l1, 1e-8);
      assert.ok(support > 0 && support < d, `a sparse solution (support ${support})`);
      assertClose(solver.optimalityFun(params, tensor(l1), [X, y]) as Tensor, new Float64Array(d), { atol: 1e-9 });
    });
  }

  test("implicit hypergradient in l1reg matches finite differences of tightly solved problems", () => {
    const solver = new ProximalGradient({ fun: objective.leastSquares, prox: prox.lasso, tol: 1e-12, maxIter: 20000 });
    const hyper = (lam: Tensor) => outer(solver.run(init, lam, [X, y]).params);
    const g = (grad(hyper)(tensor(l1)) as Tensor).item();
    const eps = 1e-6;
    const fd = (hyper(tensor(l1 + eps)).item() - hyper(tensor(l1 - eps)).item()) / (2 * eps);
    assert.ok(Math.abs(g) > 1e-3, "non-trivial hypergradient");
    assertClose(g, fd, { rtol: 1e-6, atol: 1e-8 });
    // forward mode agrees; the Jacobian in l1reg is −(XₛᵀXₛ/n)⁻¹ sign(wₛ) on the support, 0 off it
    const [w, dw] = jvp((lam: Tensor) => solver.run(init, lam, [X, y]).params, [tensor(l1)], [tensor(1)]) as [
      Tensor,
      Tensor,
    ];
    w.data.forEach((wi, i) => {
      if (wi === 0) assert.equal(Math.abs(dw.data[i]!), 0);
    });
    const gw = grad(outer)(w) as Tensor;
    assertClose(sum(gw.mul(dw)).item(), g, { rtol: 1e-8 });
  });

  test("unrolled mode gives gradients matching finite differences of the same iterations", () => {
    for (const acceleration of [false, true]) {
      const solver = new ProximalGradient({
        fun: objective.leastSquares,
        prox: prox.lasso,
        stepsize: 0.2,
        acceleration,
        maxIter: 25,
        tol: 0,
        implicitDiff: false,
      });
      const hyper = (lam: Tensor, yy: Tensor) => outer(solver.run(init, lam, [X, yy]).params);
      const g = grad(hyper, { argnums: [0, 1] })(tensor(l1), y) as Tensor[];
      const eps = 1e-6;
      const fd = (hyper(tensor(l1 + eps), y).item() - hyper(tensor(l1 - eps), y).item()) / (2 * eps);
      assertClose(g[0]!.item(), fd, { rtol: 1e-6, atol: 1e-9 });
      const e3 = new Float64Array(n);
      e3[3] = eps;
      const fdY =
        (hyper(tensor(l1), y.add(tensor(e3))).item() - hyper(tensor(l1), y.sub(tensor(e3))).item()) / (2 * eps);
      assertClose(g[1]!.data[3]!, fdY, { rtol: 1e-6, atol: 1e-9 });
    }
  });

  test("without prox it is gradient descent; options are validated", () => {
    const pg = new ProximalGradient({
      fun: objective.ridgeRegression,
      stepsize: 0.2,
      acceleration: false,
      maxIter: 10,
      tol: 0,
      implicitDiff: false,
    });
    const gd = new GradientDescent({
      fun: objective.ridgeRegression,
      stepsize: 0.2,
      maxIter: 10,
      tol: 0,
      implicitDiff: false,
    });
    // ProximalGradient takes the prox hyperparameters first
    assertClose(pg.run(init, null, tensor(0.1), [X, y]).params, gd.run(init, tensor(0.1), [X, y]).params, {
      rtol: 1e-14,
    });
    assert.throws(
      () => new ProximalGradient({ fun: objective.leastSquares, stepsize: 0 }),
      (e) => e instanceof ValueError && /ProximalGradient: stepsize/.test(e.message),
    );
    assert.throws(() => new ProximalGradient({ fun: objective.leastSquares, decreaseFactor: 1 }), ValueError);
  });
});

describe("ProjectedGradient (least squares on the simplex)", () => {
  const value = tensor(1);
  const start = tensor(new Float64Array(d).fill(1 / d));

  test("solution is a fixed point of the projected-gradient map for any step, and KKT holds", () => {
    const solver = new ProjectedGradient({
      fun: objective.leastSquares,
      projection: projection.simplex,
      tol: 1e-11,
      maxIter: 5000,
    });
    const { params, state } = solver.run(start, value, [X, y]);
    assert.equal(state.status, "converged");
    assertClose(sum(params).item(), 1, { rtol: 1e-12 });
    assert.ok(params.data.every((v: number) => v >= 0));
    for (const eta of [0.05, 0.3, 2]) {
      const T = projectedGradientFixedPoint(objective.leastSquares, projection.simplex, eta);
      assertClose(T(params, value, [X, y]) as Tensor, params, { atol: 1e-9 }, `step ${eta}`);
    }
    // KKT: ∇f = −ν on the support, ≥ −ν off it
    const g = lsGrad(params).data;
    const support = [...params.data.keys()].filter((i) => params.data[i]! > 0);
    const nu = -g[support[0]!]!;
    support.forEach((i) => assertClose(-g[i]!, nu, { atol: 1e-8 }));
    params.data.forEach((v: number, i: number) => {
      if (v === 0) assert.ok(g[i]! >= -nu - 1e-8);
    });
    assert.ok(support.length < d, "some constraints are active");
  });

  test("implicit derivative in the data (and the simplex mass) matches finite differences", () => {
    const solver = new ProjectedGradient({
      fun: objective.leastSquares,
      projection: projection.simplex,
      tol: 1e-12,
      maxIter: 20000,
    });
    const hyper = (yy: Tensor, mass: Tensor) => outer(solver.run(start, mass, [X, yy]).params);
    const [gy, gm] = grad(hyper, { argnums: [0, 1] })(y, value) as Tensor[];
    const eps = 1e-6;
    for (const i of [0, 7, 13]) {
      const e = new Float64Array(n);
      e[i] = eps;
      const fd = (hyper(y.add(tensor(e)), value).item() - hyper(y.sub(tensor(e)), value).item()) / (2 * eps);
      assertClose(gy!.data[i]!, fd, { rtol: 1e-5, atol: 1e-8 }, `y[${i}]`);
    }
    const fdm = (hyper(y, tensor(1 + eps)).item() - hyper(y, tensor(1 - eps)).item()) / (2 * eps);
    assertClose(gm!.item(), fdm, { rtol: 1e-5, atol: 1e-8 });
  });

  test("solve with ProjectedGradient, differentiate with the prox-gradient fixed point of the same problem", () => {
    const solver = new ProjectedGradient({
      fun: objective.leastSquares,
      projection: projection.simplex,
      tol: 1e-12,
      maxIter: 20000,
    });
    const T = proxGradFixedPoint(objective.leastSquares, (x, mass) => projection.simplex(x, mass), 0.1);
    const argmin = customFixedPoint(T)(
      (x0: Tensor, mass: Tensor, data: [Tensor, Tensor]) => solver.run(x0, mass, data).params,
    );
    const g1 = grad((yy: Tensor) => outer(argmin(start, value, [X, yy])))(y) as Tensor;
    const g2 = grad((yy: Tensor) => outer(solver.run(start, value, [X, yy]).params))(y) as Tensor;
    assertClose(g1, g2, { rtol: 1e-7, atol: 1e-10 });
  });
});
