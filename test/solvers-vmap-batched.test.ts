/**
 * `Solver.run` under `vmap` by batched updates (src/solvers/batched-run.ts): every element's final state must be
 * the one a loop of unbatched runs produces (same iterations and status, the same iterate, error and fields to
 * rounding), hypergradients in both nesting orders must match the loop and finite differences, and failures must
 * behave as in the loop. Each batched test also checks that the updates were batched (the objective is called
 * once per iteration for the whole batch, not once per element).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  FixedPointIteration,
  GradientDescent,
  MirrorDescent,
  NonFiniteError,
  ProjectedGradient,
  ProximalGradient,
  Tensor,
  cos,
  grad,
  mul,
  objective,
  projection,
  prox,
  random,
  square,
  sub,
  sum,
  tensor,
  vmap,
  type BatchStates,
  type SolverState,
  type Tree,
} from "../src/index.js";
import { assertClose } from "./helpers.js";

const X = random.normal(random.key(71), [12, 3]);
const y = random.normal(random.key(72), [12]);

/** An objective that counts its calls. */
function counted<F extends (...a: never[]) => Tensor>(f: F): { fun: F; calls: () => number } {
  let n = 0;
  const fun = ((...a: never[]) => {
    n += 1;
    return f(...a);
  }) as F;
  return { fun, calls: () => n };
}

type Run = (...a: Tensor[]) => { params: Tree; state: SolverState };

/** `run` under vmap (with `inAxes`), its stacked solutions and the per-element states. */
function batched(run: Run, args: Tensor[], inAxes: (number | null)[] = args.map(() => 0)) {
  let batch: BatchStates | undefined;
  let summary: SolverState | undefined;
  const params = vmap(
    (...a: Tensor[]) => {
      const r = run(...a);
      batch = r.state.batch;
      summary = r.state;
      return r.params;
    },
    { inAxes },
  )(...args) as Tensor;
  return { params, batch: batch!, summary: summary! };
}

/** Element `b` of each argument (unbatched ones as they are). */
function elementArgs(args: Tensor[], inAxes: (number | null)[], b: number): Tensor[] {
  return args.map((a, i) => (inAxes[i] === null ? a : tensor((a.toArray() as unknown[])[b] as number[])));
}

/** Equal to rounding, or the same non-finite value (a diverged element's error or iterate). */
function near(actual: number | Tensor, expected: number | Tensor, rtol: number, what: string): void {
  const a = typeof actual === "number" ? [actual] : Array.from(actual.data);
  const e = typeof expected === "number" ? [expected] : Array.from(expected.data);
  assert.equal(a.length, e.length, `${what} size`);
  e.forEach((v, i) => {
    if (Number.isFinite(v)) assertClose(a[i]!, v, { rtol, atol: 1e-14 }, `${what}[${i}]`);
    else assert.ok(Object.is(a[i], v), `${what}[${i}]: ${a[i]} vs ${v}`);
  });
}

/** Every field of two states equal: counts and statuses exactly, numbers and tensors to rounding. */
function sameState(actual: SolverState, expected: SolverState, what: string): void {
  assert.deepEqual(Object.keys(actual).sort(), Object.keys(expected).sort(), `${what} fields`);
  for (const [k, v] of Object.entries(expected)) {
    const a = (actual as unknown as Record<string, unknown>)[k];
    if (k === "iterNum" || k === "status") assert.equal(a, v, `${what}.${k}`);
    else if (typeof v === "number" || v instanceof Tensor) near(a as Tensor, v, 1e-9, `${what}.${k}`);
    else assert.deepEqual(a, v, `${what}.${k}`);
  }
}

/**
 * Runs `run` under vmap and as a loop of unbatched runs; checks every element's params and state, and returns the
 * batched result with the number of objective calls it took (`calls` counts them).
 */
function matchesLoop(run: Run, args: Tensor[], inAxes: (number | null)[], calls: () => number) {
  const before = calls();
  const r = batched(run, args, inAxes);
  const batchedCalls = calls() - before;
  const size = r.batch.elements.length;
  for (let b = 0; b < size; b++) {
    const alone = run(...elementArgs(args, inAxes, b));
    near(tensor((r.params.toArray() as number[][])[b]!), alone.params as Tensor, 1e-11, `params ${b}`);
    sameState(r.batch.elements[b]!, alone.state, `element ${b}`);
    assert.equal(r.batch.iterNum[b], alone.state.iterNum);
    assert.equal(r.batch.status[b], alone.state.status);
    near(r.batch.error[b]!, alone.state.error, 1e-9, `error ${b}`);
  }
  // batched: one call per element for init, then one per iteration for the whole batch
  const longest = Math.max(...r.batch.iterNum);
  assert.ok(batchedCalls <= size + longest + 1, `${batchedCalls} calls for ${size} elements, ${longest} iterations`);
  return r;
}

/** Central differences of a scalar function of one number. */
function centralDifference(f: (t: number) => number, t: number, h = 1e-5): number {
  return (f(t + h) - f(t - h)) / (2 * h);
}

/**
 * Hypergradients of Σ params(θ_b) per element: vmap(grad), grad(vmap) (one call, the sum over the batch), the
 * loop of grads, and central differences of the loop's solution.
 */
function hypergradients(solve: (theta: Tensor) => Tensor, thetas: number[], fdTol = 1e-6): void {
  const ts = tensor(thetas);
  const total = (t: Tensor) => sum(solve(t));
  const vg = vmap(grad(total))(ts) as Tensor;
  const gv = grad((u: Tensor) => sum(vmap(solve)(u)))(ts) as Tensor;
  const loop = thetas.map((t) => grad(total)(tensor(t)).item());
  assertClose(vg, tensor(loop), { rtol: 1e-9, atol: 1e-12 }, "vmap(grad)");
  assertClose(gv, tensor(loop), { rtol: 1e-9, atol: 1e-12 }, "grad(vmap)");
  const fd = thetas.map((t) => centralDifference((u) => total(tensor(u)).item(), t));
  assertClose(vg, tensor(fd), { rtol: fdTol, atol: fdTol }, "finite differences");
}

describe("Solver.run under vmap: batched updates", () => {
  test("GradientDescent, fixed step, over the regularisation: elements converge at very different iterations", () => {
    const { fun, calls } = counted(objective.ridgeRegression);
    for (const acceleration of [false, true]) {
      const gd = new GradientDescent({ fun, stepsize: 0.05, acceleration, tol: 1e-10, maxIter: 5000 });
      const run = (lam: Tensor) => gd.run(tensor([0, 0, 0]), lam, [X, y]);
      const { batch, summary } = matchesLoop(run, [tensor([0.001, 0.3, 3, 12])], [0], calls);
      assert.deepEqual(batch.status, ["converged", "converged", "converged", "converged"]);
      assert.ok(batch.iterNum[0]! > 5 * batch.iterNum[3]!, `iterations ${batch.iterNum}`);
      assert.equal(summary.error, Math.max(...batch.error));
      hypergradients((lam) => gd.run(tensor([0, 0, 0]), lam, [X, y]).params, [0.01, 0.5, 4]);
    }
  });

  test("GradientDescent over data and over initialisations", () => {
    const { fun, calls } = counted(objective.leastSquares);
    const gd = new GradientDescent({ fun, stepsize: 0.05, tol: 1e-10, maxIter: 5000 });
    const ys = random.normal(random.key(73), [3, 12]);
    matchesLoop((yb: Tensor) => gd.run(tensor([0, 0, 0]), [X, yb]), [ys], [0], calls);
    const inits = random.normal(random.key(74), [4, 3]);
    const r = matchesLoop((w0: Tensor) => gd.run(w0, [X, y]), [inits], [0], calls);
    // the same minimiser from every start
    const W = r.params.toArray() as number[][];
    W.forEach((w) => assertClose(w, W[0]!, { atol: 1e-8 }));
    // data and regularisation batched together, the data along axis 1
    const { fun: ridge, calls: ridgeCalls } = counted(objective.ridgeRegression);
    const gr = new GradientDescent({ fun: ridge, stepsize: 0.05, tol: 1e-10, maxIter: 5000 });
    const run = (lam: Tensor, yb: Tensor) => gr.run(tensor([0, 0, 0]), lam, [X, yb]);
    const yt = ys.T;
    const rr = batched(run, [tensor([0.1, 1, 10]), yt], [0, 1]);
    for (let b = 0; b < 3; b++) {
      const alone = run(tensor([0.1, 1, 10][b]!), tensor((ys.toArray() as number[][])[b]!));
      assertClose(tensor((rr.params.toArray() as number[][])[b]!), alone.params, { rtol: 1e-11, atol: 1e-14 });
      sameState(rr.batch.elements[b]!, alone.state, `element ${b}`);
    }
    assert.ok(ridgeCalls() < 3 * Math.max(...rr.batch.iterNum));
  });

  test("ProximalGradient (lasso), fixed step and a schedule, accelerated or not: states and hypergradients", () => {
    const { fun, calls } = counted(objective.leastSquares);
    for (const acceleration of [false, true]) {
      for (const stepsize of [0.05, (k: number) => 0.05 / (1 + 1e-3 * k)]) {
        const pg = new ProximalGradient({ fun, prox: prox.lasso, stepsize, acceleration, tol: 1e-10, maxIter: 4000 });
        const run = (l1: Tensor) => pg.run(tensor([0, 0, 0]), l1, [X, y]);
        const { batch } = matchesLoop(run, [tensor([0.001, 0.05, 0.2, 5])], [0], calls);
        assert.equal(batch.status[3], "converged");
      }
      // over the data and over initialisations
      const pd = new ProximalGradient({
        fun,
        prox: prox.lasso,
        stepsize: 0.05,
        acceleration,
        tol: 1e-10,
        maxIter: 4000,
      });
      const ys = random.normal(random.key(76), [3, 12]);
      matchesLoop((yb: Tensor) => pd.run(tensor([0, 0, 0]), tensor(0.05), [X, yb]), [ys], [0], calls);
      const inits = random.normal(random.key(77), [3, 3]);
      matchesLoop((w0: Tensor) => pd.run(w0, tensor(0.05), [X, y]), [inits], [0], calls);
      const pg = new ProximalGradient({
        fun,
        prox: prox.lasso,
        stepsize: 0.05,
        acceleration,
        tol: 1e-12,
        maxIter: 2e4,
      });
      // strengths where the support is stable around θ (finite differences stay on one side of a kink)
      hypergradients((l1) => pg.run(tensor([0, 0, 0]), l1, [X, y]).params, [0.001, 0.02]);
    }
  });

  test("FixedPointIteration, plain and damped, over a parameter and over initialisations", () => {
    const { fun: T, calls } = counted((x: Tensor, theta: Tensor) => cos(mul(x, theta)));
    for (const damping of [0, 0.3]) {
      const fp = new FixedPointIteration({ fixedPointFun: T, damping, tol: 1e-12, maxIter: 2000 });
      matchesLoop((theta: Tensor) => fp.run(tensor([0, 0.5]), theta), [tensor([0.2, 0.9, 1.3])], [0], calls);
      matchesLoop(
        (x0: Tensor, theta: Tensor) => fp.run(x0, theta),
        [
          tensor([
            [0, 0],
            [3, -2],
          ]),
          tensor(1),
        ],
        [0, null],
        calls,
      );
      hypergradients((theta) => fp.run(tensor([0, 0.5]), theta).params as Tensor, [0.2, 0.9, 1.3]);
    }
  });

  test("MirrorDescent (KL on the simplex, fixed step) and ProjectedGradient over the data and initialisations", () => {
    const { fun, calls } = counted((x: Tensor, c: Tensor) => mul(sum(square(sub(x, c))), 0.5));
    const md = new MirrorDescent({ fun, stepsize: 1, tol: 1e-9, maxIter: 5000 });
    const cs = tensor([
      [0.6, 0.5, -0.2],
      [0.2, 0.3, 0.5],
      [1, 0, 0.1],
    ]);
    const r = matchesLoop((c: Tensor) => md.run(tensor([1 / 3, 1 / 3, 1 / 3]), c), [cs], [0], calls);
    // over initialisations in the interior of the simplex
    const inits = tensor([
      [0.2, 0.3, 0.5],
      [0.8, 0.1, 0.1],
    ]);
    matchesLoop((x0: Tensor) => md.run(x0, tensor([0.6, 0.5, -0.2])), [inits], [0], calls);
    // ProjectedGradient on the simplex (a projection per element inside the batched update), over the data
    const pgs = new ProjectedGradient({
      fun,
      projection: projection.simplex,
      stepsize: 0.5,
      tol: 1e-10,
      maxIter: 3000,
    });
    matchesLoop((c: Tensor) => pgs.run(tensor([1 / 3, 1 / 3, 1 / 3]), tensor(1), c), [cs], [0], calls);
    assertClose(tensor((r.params.toArray() as number[][])[0]!), tensor([0.55, 0.45, 0]), { atol: 1e-6 });
    // the derivative of Σ x*(c) along a shift of c's first coordinate (interior solutions)
    const shift = tensor([1, 0, 0]);
    hypergradients(
      (t) => md.run(tensor([1 / 3, 1 / 3, 1 / 3]), tensor([0.2, 0.3, 0.5]).add(shift.mul(t))).params as Tensor,
      [0, 0.05],
      1e-5,
    );
  });

  test("a diverging element: status 'diverged' with the others untouched, or the loop's error naming it", () => {
    const { fun, calls } = counted(objective.leastSquares);
    const make = (throwOnDiverge: boolean) =>
      new GradientDescent({ fun, stepsize: 0.05, maxIter: 3000, tol: 1e-10, throwOnDiverge });
    const run = (gd: GradientDescent) => (s: Tensor) => gd.run(tensor([0, 0, 0]), [mul(X, s), y]);
    // the step is too long for element 1 (which diverges slowly) and element 3 (fast)
    const scales = tensor([1, 7, 2, 15]);
    const { batch } = matchesLoop(run(make(false)), [scales], [0], calls);
    assert.deepEqual(batch.status, ["converged", "diverged", "converged", "diverged"]);
    assert.deepEqual(batch.failed, [1, 3]);
    assert.ok(batch.iterNum[3]! < batch.iterNum[1]!, `element 3 diverges first: ${batch.iterNum}`);
    // throwing: the loop would stop at element 1, although element 3 diverges at an earlier iteration
    const loopError = (() => {
      try {
        (scales.toArray() as number[]).forEach((s) => run(make(true))(tensor(s)));
      } catch (e) {
        return e as Error;
      }
      return null;
    })();
    assert.ok(loopError instanceof NonFiniteError);
    assert.throws(
      () => batched(run(make(true)), [scales]),
      (e: Error) =>
        e instanceof NonFiniteError &&
        e.message === `GradientDescent.run under vmap, batch element 1 of 4: ${loopError.message}`,
    );
  });

  test("NaN data: the element diverges at iteration 0; an element that reaches maxIter", () => {
    const { fun, calls } = counted(objective.ridgeRegression);
    const gd = new GradientDescent({ fun, stepsize: 0.05, maxIter: 300, tol: 1e-10, throwOnDiverge: false });
    const run = (lam: Tensor) => gd.run(tensor([0, 0, 0]), lam, [X, y]);
    const { batch, summary } = matchesLoop(run, [tensor([10, NaN, 0.01, 5])], [0], calls);
    assert.deepEqual(batch.status, ["converged", "diverged", "maxIterReached", "converged"]);
    assert.equal(batch.iterNum[1], 0);
    assert.equal(batch.iterNum[2], 300);
    assert.equal(summary.status, "diverged", "the summary is the first failed element");
    const throwing = new GradientDescent({ fun, stepsize: 0.05, tol: 1e-10 });
    assert.throws(
      () => batched((lam: Tensor) => throwing.run(tensor([0, 0, 0]), lam, [X, y]), [tensor([1, NaN])]),
      (e: Error) =>
        e instanceof NonFiniteError && /batch element 1 of 2: GradientDescent: diverged at iteration 0/.test(e.message),
    );
  });

  test("batches of 0 and 1", () => {
    const { fun, calls } = counted(objective.ridgeRegression);
    const gd = new GradientDescent({ fun, stepsize: 0.05, tol: 1e-10, maxIter: 5000 });
    const run = (lam: Tensor) => gd.run(tensor([0, 0, 0]), lam, [X, y]);
    const one = matchesLoop(run, [tensor([0.5])], [0], calls);
    assert.deepEqual(one.params.shape, [1, 3]);
    const none = batched(run, [tensor([])]);
    assert.deepEqual(none.params.shape, [0, 3]);
    assert.deepEqual(none.batch.iterNum, []);
    assert.deepEqual(none.batch.elements, []);
  });

  test("nested vmap: the outer level loops, the inner one batches; a traced value closed over is refused", () => {
    const { fun, calls } = counted(objective.ridgeRegression);
    const gd = new GradientDescent({ fun, stepsize: 0.05, tol: 1e-10, maxIter: 5000 });
    const ys = random.normal(random.key(75), [2, 12]);
    const lams = tensor([0.1, 1, 5]);
    const W = vmap((yb: Tensor) =>
      vmap((lam: Tensor) => gd.run(tensor([0, 0, 0]), lam, [X, yb]).params as Tensor)(lams),
    )(ys) as Tensor;
    assert.deepEqual(W.shape, [2, 3, 3]);
    (ys.toArray() as number[][]).forEach((yb, i) =>
      (lams.toArray() as number[]).forEach((l, j) => {
        const alone = gd.run(tensor([0, 0, 0]), tensor(l), [X, tensor(yb)]).params;
        assertClose(tensor((W.toArray() as number[][][])[i]![j]!), alone, { rtol: 1e-11, atol: 1e-14 });
      }),
    );
    assert.ok(calls() < 3 * 2 * 3000, `${calls()} calls: the inner level batched`);
    // the objective closes over the differentiated scale: its derivative would be lost
    const closing = (s: Tensor) => {
      const g = new GradientDescent({ fun: (w: Tensor, lam: Tensor) => fun(w, lam, [mul(X, s), y]), stepsize: 0.05 });
      return sum(vmap((lam: Tensor) => g.run(tensor([0, 0, 0]), lam).params as Tensor)(lams));
    };
    assert.throws(() => grad(closing)(tensor(1)), /closes over/);
  });

  test("the per-element loop where the update reads numbers, and for unrolled derivatives", () => {
    const lams = tensor([0.01, 1]);
    // an objective that reads a number cannot batch: the run falls back to the loop
    const reads = (w: Tensor, lam: Tensor) => objective.ridgeRegression(w, tensor(lam.item()), [X, y]);
    const gd = new GradientDescent({ fun: reads, stepsize: 0.05, tol: 1e-10, maxIter: 5000 });
    const r = batched((lam: Tensor) => gd.run(tensor([0, 0, 0]), lam), [lams]);
    (lams.toArray() as number[]).forEach((l, b) => {
      const alone = gd.run(tensor([0, 0, 0]), tensor(l));
      assertClose(tensor((r.params.toArray() as number[][])[b]!), alone.params, { rtol: 0, atol: 0 });
      assert.equal(r.batch.iterNum[b], alone.state.iterNum);
    });
    // unrolled: each element's iterations are traced, per element; same derivative as the implicit one here
    const { fun, calls } = counted(objective.ridgeRegression);
    const unrolled = new GradientDescent({ fun, stepsize: 0.05, tol: 1e-12, maxIter: 5000, implicitDiff: false });
    const implicit = new GradientDescent({ fun, stepsize: 0.05, tol: 1e-12, maxIter: 5000 });
    const hyper = (s: GradientDescent) => (lam: Tensor) => sum(s.run(tensor([0, 0, 0]), lam, [X, y]).params);
    const before = calls();
    // (grad above vmap: an unrolled loop reads numbers, which a derivative level above vmap cannot split)
    const gu = grad((ls: Tensor) => sum(vmap((l: Tensor) => unrolled.run(tensor([0, 0, 0]), l, [X, y]).params)(ls)))(
      lams,
    ) as Tensor;
    assert.ok(calls() - before > 2 * 50, "the unrolled run loops per element");
    assertClose(gu, vmap(grad(hyper(implicit)))(lams) as Tensor, { rtol: 1e-7 });
    // a callback is called per element and iteration: the loop
    let seen = 0;
    const watched = new GradientDescent({ fun, stepsize: 0.05, tol: 1e-10, callback: () => void (seen += 1) });
    const w = batched((lam: Tensor) => watched.run(tensor([0, 0, 0]), lam, [X, y]), [lams]);
    assert.equal(seen, w.batch.iterNum[0]! + w.batch.iterNum[1]!);
  });
});
