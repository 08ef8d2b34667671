/**
 * MirrorDescent without a step size: backtracking on the relative-smoothness bound
 * f(x⁺) ≤ f(x) + ⟨∇f(x), x⁺ − x⟩ + KL(x⁺‖x)/η. Every accepted step is checked against the bound (the KL computed
 * independently), the run against the fixed-step one, the implicit derivative against finite differences, the
 * unrolled derivative against the fixed-schedule run with the steps it took, `vmap` against the loop, and a search
 * that cannot pass against its "stalled" status.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  MirrorDescent,
  ProjectedGradient,
  ValueError,
  grad,
  linalg,
  makeProjectionGrad,
  matmul,
  objective,
  projection,
  square,
  sub,
  sum,
  tensor,
  vmap,
  type Tensor,
} from "../src/index.js";
import { assertClose, randn, rng } from "./helpers.js";

// Multiclass SVM dual on noisy data (as in solvers-simplex.test.ts): 30 samples, 10 features, 3 classes.
const r = rng(7);
const m = 30;
const p = 10;
const k = 3;
const X = randn(r, [m, p]).mul(0.3);
const Yd = new Float64Array(m * k);
for (let i = 0; i < m; i++) Yd[i * k + Math.floor(r.uniform(0, k))] = 1;
const data: [Tensor, Tensor] = [X, tensor(Yd, [m, k])];
const Xval = randn(r, [8, p]).mul(0.3);
const Yval = randn(r, [8, k]);
const init = tensor(new Float64Array(m * k).fill(1 / k), [m, k]);
const fun = objective.multiclassLinearSvmDual;
const outer = (beta: Tensor, th: Tensor) =>
  sum(square(sub(matmul(Xval, objective.svmDualPrimalWeights(beta, th, data)), Yval))).mul(0.5);
const theta = tensor(1);
/** The safe fixed step 2θ/λ_max(XXᵀ): f is (λ_max/2θ)-smooth relative to the entropy (Pinsker's inequality). */
const safeStep = 2 / linalg.eigh(matmul(X, X.T)).eigenvalues.data[m - 1]!;

/** KL(a‖b) summed over all entries, straight from the definition (0·log 0 = 0). */
function kl(a: Tensor, b: Tensor): number {
  let s = 0;
  a.data.forEach((ai, i) => {
    if (ai > 0) s += ai * Math.log(ai / b.data[i]!);
  });
  return s;
}

describe("MirrorDescent with backtracking", () => {
  test("every accepted step meets the relative-smoothness bound, f decreases, and the steps outgrow the safe 1/L", () => {
    const solver = new MirrorDescent({ fun, tol: 0, maxIter: 0 });
    let x = init;
    let state = solver.init(x, theta, data);
    const steps: number[] = [];
    for (let i = 0; i < 60; i++) {
      const g = grad(fun)(x, theta, data) as Tensor;
      const fx = fun(x, theta, data).item();
      const next = solver.update(x, state, theta, data);
      const xn = next.params as Tensor;
      const eta = next.state.stepsize;
      const d = xn.sub(x);
      const bound = fx + sum(g.mul(d)).item() + kl(xn, x) / eta;
      const fn = fun(xn, theta, data).item();
      assert.ok(fn <= bound + 1e-12 * Math.abs(fx), `iteration ${i}: f(x⁺) = ${fn} > bound ${bound}`);
      assert.ok(fn <= fx + 1e-14 * Math.abs(fx), `iteration ${i}: f increased`);
      assert.equal(next.state.value, fn);
      assert.equal(next.state.iterNum, i + 1);
      steps.push(eta);
      ({ params: x, state } = next as { params: Tensor; state: typeof state });
    }
    // the global relative constant λ_max(XXᵀ)/2θ gives the safe step 2θ/λ_max: near the sparse solution the
    // search takes longer ones
    assert.ok(steps.at(-1)! > 2 * safeStep, `last step ${steps.at(-1)}, safe ${safeStep}`);
  });

  test("reaches the projected-gradient solution in fewer iterations than the safe fixed step; the state reports the step", () => {
    const reference = new ProjectedGradient({ fun, projection: projection.simplex, tol: 1e-12, maxIter: 20000 }).run(
      init,
      null,
      theta,
      data,
    ).params as Tensor;
    const bt = new MirrorDescent({ fun, tol: 1e-10, maxIter: 20000 }).run(init, theta, data);
    assert.equal(bt.state.status, "converged");
    assertClose(bt.params, reference, { atol: 1e-7 });
    const fixed = new MirrorDescent({ fun, stepsize: safeStep, tol: 1e-10, maxIter: 20000 }).run(init, theta, data);
    assert.equal(fixed.state.status, "converged");
    assert.ok(2 * bt.state.iterNum < fixed.state.iterNum, `${bt.state.iterNum} vs ${fixed.state.iterNum} iterations`);
    assert.ok(bt.state.stepsize > safeStep);
    assert.equal(bt.state.message, undefined);
  });

  test("the implicit hypergradient matches central finite differences of re-solved problems", () => {
    const solver = new MirrorDescent({ fun, tol: 1e-12, maxIter: 50000 });
    const hyper = (th: Tensor) => outer(solver.run(init, th, data).params as Tensor, th);
    const g = (grad(hyper)(theta) as Tensor).item();
    const pg = new ProjectedGradient({ fun, projection: projection.simplex, tol: 1e-13, maxIter: 50000 });
    const L = (t: number) => outer(pg.run(init, null, tensor(t), data).params as Tensor, tensor(t)).item();
    const e = 1e-5;
    const fd = (L(1 + e) - L(1 - e)) / (2 * e);
    assert.ok(Math.abs(fd) > 0.05, `hypergradient ${fd}`);
    assertClose(g, fd, { rtol: 1e-6 });
  });

  test("unrolled: the derivative of the iterations with the steps the search took as constants", () => {
    const steps: number[] = [];
    const bt = new MirrorDescent({ fun, tol: 0, maxIter: 25, implicitDiff: false });
    const solved = bt.run(init, theta, data);
    let x = init;
    let state = bt.init(x, theta, data);
    steps.push(state.stepsize);
    for (let i = 0; i < 25; i++) {
      ({ params: x, state } = bt.update(x, state, theta, data) as { params: Tensor; state: typeof state });
      steps.push(state.stepsize);
    }
    assertClose(solved.params, x, { rtol: 1e-14, atol: 1e-15 });
    // update i takes steps[i + 1]
    const scheduled = new MirrorDescent({
      fun,
      stepsize: (i) => steps[i + 1]!,
      tol: 0,
      maxIter: 25,
      implicitDiff: false,
    });
    const gBt = (grad((th: Tensor) => outer(bt.run(init, th, data).params as Tensor, th))(theta) as Tensor).item();
    const gFixed = (
      grad((th: Tensor) => outer(scheduled.run(init, th, data).params as Tensor, th))(theta) as Tensor
    ).item();
    assertClose(gBt, gFixed, { rtol: 1e-12 });
    // … which is the derivative of the fixed-schedule iterations (central differences)
    const e = 1e-6;
    const run = (t: number) => outer(scheduled.run(init, tensor(t), data).params as Tensor, tensor(t)).item();
    assertClose(gFixed, (run(1 + e) - run(1 - e)) / (2 * e), { rtol: 1e-6 });
  });

  test("under vmap each element runs its own search (the loop), as separate runs do", () => {
    const f = (x: Tensor, c: Tensor) => sum(square(sub(x, c))).mul(0.5);
    const solver = new MirrorDescent({ fun: f, tol: 1e-10, maxIter: 2000 });
    const cs = tensor([
      [0.6, 0.5, -0.2],
      [0.2, 0.3, 0.5],
    ]);
    const x0 = tensor([1 / 3, 1 / 3, 1 / 3]);
    const batched = vmap((c: Tensor) => solver.run(x0, c).params as Tensor)(cs);
    const each = [0, 1].map((i) => solver.run(x0, tensor((cs.toArray() as number[][])[i]!)));
    assertClose(batched, tensor(each.map((e) => (e.params as Tensor).toArray() as number[])), { rtol: 1e-14 });
    assertClose(tensor((batched.toArray() as number[][])[0]!), [0.55, 0.45, 0], { atol: 1e-8 });
  });

  test("a search in which no trial passes stops the run with status 'stalled' and says why", () => {
    // a steep quadratic in the one free direction of a 2-simplex: with one trial per search (twice the inverse
    // relative curvature at the start, then one factor above the last step) the bound fails
    const f = (x: Tensor) => sum(square(sub(x, tensor([0.3, 0.7])))).mul(50);
    const solver = new MirrorDescent({ fun: f, maxBacktrackingIter: 1, tol: 1e-12, maxIter: 100 });
    const { params, state } = solver.run(tensor([0.9, 0.1]));
    assert.equal(state.status, "stalled");
    assert.match(
      state.message ?? "",
      /^MirrorDescent: stalled at iteration \d+: no step from .* met the relative-smoothness bound/,
    );
    assert.ok(state.iterNum < 100);
    assert.ok(Number.isFinite((params as Tensor).data[0]!));
  });

  test("options: backtracking needs the KL geometry; decreaseFactor, maxStepsize and maxBacktrackingIter are checked", () => {
    const euclidean = makeProjectionGrad(projection.simplex, (x) => x);
    assert.throws(
      () => new MirrorDescent({ fun, projectionGrad: euclidean }),
      (e: Error) =>
        e instanceof ValueError && /MirrorDescent: backtracking .* projectionGrad; give a stepsize/.test(e.message),
    );
    assert.throws(
      () => new MirrorDescent({ fun, decreaseFactor: 1 }),
      /MirrorDescent: decreaseFactor must be in \(0, 1\)/,
    );
    assert.throws(() => new MirrorDescent({ fun, maxStepsize: -1 }), /MirrorDescent: maxStepsize must be positive/);
    assert.throws(() => new MirrorDescent({ fun, maxBacktrackingIter: 0 }), /MirrorDescent: maxBacktrackingIter/);
  });
});
