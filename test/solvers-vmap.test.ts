import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  GradientDescent,
  ProximalGradient,
  NonFiniteError,
  objective,
  prox,
  grad,
  vmap,
  tensor,
  mul,
  sum,
  random,
  type Tensor,
  type BatchStates,
  type SolverState,
} from "../src/index.js";
import { assertClose } from "./helpers.js";

const X = random.normal(random.key(31), [10, 3]);
const y = random.normal(random.key(32), [10]);
const lams = tensor([0.01, 0.1, 1]);

/** Runs `solver.run` under vmap over `lams`, returning the stacked solutions and the per-element states. */
function sweep(run: (lam: Tensor) => { params: Tensor; state: SolverState }, ls: Tensor) {
  let batch: BatchStates | undefined;
  let summary: SolverState | undefined;
  const W = vmap((lam: Tensor) => {
    const r = run(lam);
    batch = r.state.batch;
    summary = r.state;
    return r.params;
  })(ls) as Tensor;
  return { W, batch: batch!, summary: summary! };
}

describe("Solver.run under vmap", () => {
  test("GradientDescent over regularisation strengths: solutions, states and hypergradients match a loop", () => {
    const gd = new GradientDescent({ fun: objective.ridgeRegression, tol: 1e-10, maxIter: 2000 });
    const run = (lam: Tensor) => gd.run(tensor([0, 0, 0]), lam, [X, y]);
    const { W, batch, summary } = sweep(run, lams);
    const loop = (lams.toArray() as number[]).map((l) => run(tensor(l)));
    loop.forEach((r, i) => {
      assertClose((W.toArray() as number[][])[i]!, r.params.data, { rtol: 1e-13, atol: 1e-15 });
      assert.equal(batch.iterNum[i], r.state.iterNum);
      assert.equal(batch.error[i], r.state.error);
    });
    assert.deepEqual(batch.status, ["converged", "converged", "converged"]);
    assert.deepEqual(batch.failed, []);
    assert.equal(batch.elements.length, 3);
    assert.equal(summary.status, "converged");
    assert.equal(summary.error, Math.max(...batch.error), "the summary is the worst element");
    // hypergradients of Σw*(λ), per element, implicitly
    const hyper = (lam: Tensor) => sum(run(lam).params);
    const hv = vmap(grad(hyper))(lams) as Tensor;
    const hLoop = (lams.toArray() as number[]).map((l) => grad(hyper)(tensor(l)).item());
    assertClose(hv, tensor(hLoop), { rtol: 1e-9, atol: 1e-12 });
  });

  test("ProximalGradient (lasso) over L1 strengths: per-element status, a cap hit by one element only", () => {
    const solver = (maxIter: number) =>
      new ProximalGradient({ fun: objective.leastSquares, prox: prox.lasso, tol: 1e-9, maxIter });
    const run = (pg: ProximalGradient) => (l1: Tensor) => pg.run(tensor([0, 0, 0]), l1, [X, y]);
    const l1s = tensor([0.001, 0.05, 5]);
    const iterations = (l1s.toArray() as number[]).map((l) => run(solver(5000))(tensor(l)).state.iterNum);
    // a cap between the fastest and the slowest element
    const cap = Math.floor((Math.min(...iterations) + Math.max(...iterations)) / 2);
    assert.ok(Math.min(...iterations) < cap && cap < Math.max(...iterations), `iterations ${iterations}`);
    const { W, batch, summary } = sweep(run(solver(cap)), l1s);
    const slow = iterations.map((it, i) => (it > cap ? i : -1)).filter((i) => i >= 0);
    assert.deepEqual(batch.failed, slow);
    batch.status.forEach((s, i) => assert.equal(s, slow.includes(i) ? "maxIterReached" : "converged"));
    assert.equal(summary.status, "maxIterReached");
    (l1s.toArray() as number[]).forEach((l, i) => {
      assertClose((W.toArray() as number[][])[i]!, run(solver(cap))(tensor(l)).params.data, {
        rtol: 1e-13,
        atol: 1e-15,
      });
    });
    // the largest L1 strength zeroes the solution (prox of a strong lasso)
    assertClose((W.toArray() as number[][])[2]!, [0, 0, 0], { atol: 0 });
  });

  test("a diverging element: status 'diverged' at its index without touching the others, or an error naming it", () => {
    // data scaled ×100 in element 1 makes the fixed step size diverge there only
    const scales = tensor([1, 100, 1.2]);
    const make = (throwOnDiverge: boolean) =>
      new GradientDescent({ fun: objective.leastSquares, stepsize: 0.5, maxIter: 1000, tol: 1e-9, throwOnDiverge });
    const run = (gd: GradientDescent) => (s: Tensor) => gd.run(tensor([0, 0, 0]), [mul(X, s), y]);
    const { W, batch } = sweep(run(make(false)), scales);
    assert.equal(batch.status[1], "diverged");
    assert.deepEqual(batch.failed, [1]);
    [0, 2].forEach((i) => {
      assert.equal(batch.status[i], "converged");
      const alone = run(make(false))(tensor((scales.toArray() as number[])[i]!));
      assertClose((W.toArray() as number[][])[i]!, alone.params.data, { rtol: 1e-13, atol: 1e-15 });
    });
    assert.throws(
      () => sweep(run(make(true)), scales),
      (e: Error) => e instanceof NonFiniteError && /batch element 1 of 3/.test(e.message),
    );
  });
});
