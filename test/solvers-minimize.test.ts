import { test, describe } from "node:test";
import assert from "node:assert/strict";
import {
  LBFGS,
  BFGS,
  NonlinearCG,
  Newton,
  TrustRegion,
  hagerZhangLineSearch,
  objective,
  grad,
  jacfwd,
  jacrev,
  tensor,
  sum,
  square,
  sub,
  mul,
  add,
  stopGradient,
  Tensor,
  NonFiniteError,
  ValueError,
  type DescentMinimizer,
} from "../src/index.js";
import { assertClose, randn, rng } from "./helpers.js";

/** Parametric Rosenbrock (a − x₀)² + b(x₁ − x₀²)²: minimiser (a, a²) for b > 0, whatever b. */
const rosen = (x: Tensor, theta: Tensor) => {
  const x0 = x.at(0).get();
  const x1 = x.at(1).get();
  const a = theta.at(0).get();
  const b = theta.at(1).get();
  return add(square(sub(a, x0)), mul(b, square(sub(x1, square(x0)))));
};
const x0 = tensor([-1.2, 1]);
const theta = tensor([1, 100]);

type Make = (opts: { tol?: number; maxIter?: number; implicitDiff?: boolean }) => DescentMinimizer;
const zoo: [string, Make][] = [
  ["LBFGS", (o) => new LBFGS({ fun: rosen, ...o })],
  ["LBFGS backtracking", (o) => new LBFGS({ fun: rosen, lineSearch: "backtracking", ...o })],
  ["LBFGS Hager–Zhang", (o) => new LBFGS({ fun: rosen, lineSearch: "hagerZhang", historySize: 3, ...o })],
  ["BFGS", (o) => new BFGS({ fun: rosen, ...o })],
  ["NonlinearCG PR+", (o) => new NonlinearCG({ fun: rosen, ...o })],
  ["NonlinearCG PR+ strong Wolfe", (o) => new NonlinearCG({ fun: rosen, lineSearch: "strongWolfe", ...o })],
  ["NonlinearCG FR", (o) => new NonlinearCG({ fun: rosen, method: "fletcherReeves", ...o })],
  ["NonlinearCG HS", (o) => new NonlinearCG({ fun: rosen, method: "hestenesStiefel", restartEvery: 5, ...o })],
  ["NonlinearCG DY", (o) => new NonlinearCG({ fun: rosen, method: "daiYuan", lineSearch: "hagerZhang", ...o })],
  ["Newton dense", (o) => new Newton({ fun: rosen, method: "dense", ...o })],
  ["Newton-CG", (o) => new Newton({ fun: rosen, method: "cg", lineSearch: "strongWolfe", ...o })],
  ["TrustRegion Steihaug", (o) => new TrustRegion({ fun: rosen, ...o })],
  ["TrustRegion dogleg", (o) => new TrustRegion({ fun: rosen, method: "dogleg", ...o })],
];

describe("minimisers on Rosenbrock from (−1.2, 1)", () => {
  for (const [name, make] of zoo) {
    test(name, () => {
      const solver = make({ tol: 1e-10, maxIter: 1000 });
      const { params, state } = solver.run(x0, theta);
      assert.equal(state.status, "converged", state.message);
      assert.ok(state.error <= 1e-10);
      assertClose(params, [1, 1], { atol: 1e-9, rtol: 0 });
      assert.ok(state.value <= 1e-18, `value ${state.value}`);
    });
  }
});

describe("Jacobian of the argmin of a parametric Rosenbrock", () => {
  // x*(a, b) = (a, a²): ∂x*/∂(a, b) = [[1, 0], [2a, 0]].
  const th = tensor([1.5, 50]);
  const expected = [1, 0, 3, 0];
  for (const [name, make] of zoo.filter(([n]) => !/backtracking|FR|HS|DY|Hager|Wolfe/.test(n))) {
    test(`${name}: forward and reverse mode`, () => {
      const solver = make({ tol: 1e-10, maxIter: 1000 });
      const argmin = (t: Tensor) => solver.run(x0, t).params as Tensor;
      assertClose(jacfwd(argmin)(th) as Tensor, expected, { atol: 1e-7, rtol: 0 });
      assertClose(jacrev(argmin)(th) as Tensor, expected, { atol: 1e-7, rtol: 0 });
    });
  }
});

test("params may be any pytree", () => {
  const f = (p: { u: Tensor; v: Tensor[] }, theta: Tensor) =>
    rosen(tensor([0, 0]).add(0), theta)
      .mul(0)
      .add(add(square(sub(theta.at(0).get(), p.u)), mul(theta.at(1).get(), square(sub(p.v[0]!, square(p.u))))));
  const init = { u: tensor(-1.2), v: [tensor(1)] };
  for (const solver of [
    new LBFGS({ fun: f, tol: 1e-10 }),
    new BFGS({ fun: f, tol: 1e-10 }),
    new Newton({ fun: f, tol: 1e-10 }),
    new TrustRegion({ fun: f, tol: 1e-10, method: "dogleg" }),
  ]) {
    const { params, state } = solver.run(init, theta);
    assert.equal(state.status, "converged", solver.name);
    assertClose(params.u, 1, { atol: 1e-9 });
    assertClose(params.v[0], 1, { atol: 1e-9 });
    const g = grad((t: Tensor) => solver.run(init, t).params.v[0])(tensor([1.5, 50]));
    assertClose(g, [3, 0], { atol: 1e-7 }, solver.name);
  }
});

describe("L2 logistic regression", () => {
  const r = rng(5);
  const X = randn(r, [40, 6]);
  const y = tensor(Array.from({ length: 40 }, () => (r.uniform() < 0.5 ? 1 : 0)));
  const fun = (w: Tensor, lam: Tensor, data: [Tensor, Tensor]) =>
    objective.binaryLogreg(w, data).add(mul(lam, sum(square(w))).mul(0.5));
  const lam = tensor(0.1);
  const init = tensor(new Float64Array(6));
  // The reference: dense Newton to the rounding level of the gradient.
  const reference = new Newton({ fun, method: "dense", tol: 1e-14 }).run(init, lam, [X, y]).params as Tensor;
  // The hypergradient of the sum of weights, by finite differences of reference solves.
  const h = 1e-5;
  const solveAt = (l: number) => new Newton({ fun, tol: 1e-14 }).run(init, tensor(l), [X, y]).params as Tensor;
  const fd = (sum(solveAt(0.1 + h)).item() - sum(solveAt(0.1 - h)).item()) / (2 * h);
  const solvers = [
    new LBFGS({ fun, tol: 1e-10 }),
    new BFGS({ fun, tol: 1e-10 }),
    new NonlinearCG({ fun, tol: 1e-10, maxIter: 2000 }),
    new Newton({ fun, method: "cg", tol: 1e-10 }),
    new TrustRegion({ fun, tol: 1e-10 }),
  ];
  for (const solver of solvers) {
    test(`${solver.name} matches the reference and its hypergradient`, () => {
      const { params, state } = solver.run(init, lam, [X, y]);
      assert.equal(state.status, "converged");
      assertClose(params, reference, { atol: 1e-9, rtol: 0 });
      const g = grad((l: Tensor) => sum(solver.run(init, l, [X, y]).params as Tensor))(lam).item();
      assertClose(g, fd, { rtol: 1e-6 });
    });
  }

  test("every solver's unrolled derivative approaches the implicit one as iterations grow", () => {
    const implicit = grad((l: Tensor) => sum(solvers[0]!.run(init, l, [X, y]).params as Tensor))(lam).item();
    const makers: ((maxIter: number) => DescentMinimizer)[] = [
      (k) => new LBFGS({ fun, maxIter: k, tol: 0, implicitDiff: false }),
      (k) => new BFGS({ fun, maxIter: k, tol: 0, implicitDiff: false }),
      (k) => new NonlinearCG({ fun, maxIter: k, tol: 0, implicitDiff: false }),
      (k) => new Newton({ fun, maxIter: k, tol: 0, implicitDiff: false }),
      (k) => new Newton({ fun, method: "cg", maxIter: k, tol: 0, implicitDiff: false }),
      (k) => new TrustRegion({ fun, maxIter: k, tol: 0, implicitDiff: false }),
      (k) => new TrustRegion({ fun, method: "dogleg", maxIter: k, tol: 0, implicitDiff: false }),
    ];
    for (const make of makers) {
      const errs = [3, 10, 40].map((k) => {
        const s = make(k);
        return Math.abs(grad((l: Tensor) => sum(s.run(init, l, [X, y]).params as Tensor))(lam).item() - implicit);
      });
      const name = make(1).name;
      assert.ok(errs[2]! < 1e-6 * Math.abs(implicit), `${name}: unrolled errors ${errs}`);
      assert.ok(errs[2]! < errs[0]!, `${name}: unrolled errors ${errs}`);
    }
  });
});

describe("failure semantics", () => {
  test("maxIter: 0 returns init with status maxIterReached", () => {
    for (const [, make] of zoo) {
      const { params, state } = make({ maxIter: 0 }).run(x0, theta);
      assert.equal(params, x0);
      assert.equal(state.status, "maxIterReached");
      assert.equal(state.iterNum, 0);
    }
  });

  test("a wrong gradient stalls with a message", () => {
    // value ‖x‖², gradient −2x: the directions go uphill, so no step decreases f.
    const f = (x: Tensor) => mul(2, sum(square(stopGradient(x)))).sub(sum(square(x)));
    for (const solver of [new LBFGS({ fun: f }), new BFGS({ fun: f }), new NonlinearCG({ fun: f })]) {
      const { params, state } = solver.run(tensor([1, 2]));
      assert.equal(state.status, "stalled", solver.name);
      assert.match(state.message, /stalled at iteration 1: .*line search found no decrease/);
      assertClose(params, [1, 2]);
    }
    const tr = new TrustRegion({ fun: f }).run(tensor([1, 2]));
    assert.equal(tr.state.status, "stalled");
    assert.match(tr.state.message, /trust region collapsed/);
  });

  test("a non-finite objective throws, or stops with status diverged", () => {
    const f = (x: Tensor) => sum(square(x)).add(x.at(0).get().log());
    assert.throws(() => new LBFGS({ fun: f }).run(tensor([-1, 1])), NonFiniteError);
    const { state } = new LBFGS({ fun: f, throwOnDiverge: false }).run(tensor([-1, 1]));
    assert.equal(state.status, "diverged");
  });

  test("options are checked", () => {
    const fun = (x: Tensor) => sum(square(x));
    assert.throws(() => new LBFGS({ fun, historySize: 0 }), /LBFGS: historySize must be a positive integer/);
    assert.throws(() => new LBFGS({ fun, c1: 0.9, c2: 0.5 }), /need c1 < c2/);
    assert.throws(() => new BFGS({ fun, lineSearch: "exact" as never }), /BFGS: lineSearch must be one of/);
    assert.throws(() => new NonlinearCG({ fun, method: "x" as never }), ValueError);
    assert.throws(() => new Newton({ fun, method: "lu" as never }), ValueError);
    assert.throws(() => new TrustRegion({ fun, eta: 0.5 }), /eta must be in/);
    assert.throws(() => new TrustRegion({ fun, initialRadius: -1 }), /initialRadius must be positive/);
  });
});

describe("hagerZhangLineSearch", () => {
  const fn = (f: (x: Tensor) => Tensor) => ({
    value: (x: Tensor) => f(x).item(),
    valueAndGrad: (x: Tensor): [number, Tensor] => [f(x).item(), grad(f)(x)],
  });
  test("finds the exact step of a quadratic along −∇f and meets the Wolfe conditions on Rosenbrock", () => {
    const q = (x: Tensor) => sum(mul(tensor([1, 3]), square(x)));
    const x = tensor([1, 1]);
    const g = grad(q)(x);
    const r = hagerZhangLineSearch(fn(q), x, q(x).item(), g, g.neg());
    assert.ok(r.succeeded);
    // φ(t) = (1 − 2t)² + 3(1 − 6t)²: the secant step on the linear φ' lands on its minimiser t = 40/224.
    assertClose(r.stepsize, 40 / 224, { rtol: 1e-12 });
    const f = (z: Tensor) => rosen(z, theta);
    const gr = grad(f)(x0);
    const s = hagerZhangLineSearch(fn(f), x0, f(x0).item(), gr, gr.neg(), { initialStepsize: 1e-3 });
    assert.ok(s.succeeded);
    const slope0 = gr.dot(gr.neg()).item();
    const slope = (s.grad as Tensor).dot(gr.neg()).item();
    assert.ok(slope >= 0.9 * slope0 && s.value < f(x0).item());
  });
  test("rejects ascent directions and bad constants", () => {
    const q = (x: Tensor) => sum(square(x));
    const x = tensor([1, 1]);
    const g = grad(q)(x);
    assert.throws(() => hagerZhangLineSearch(fn(q), x, 2, g, g), /not a descent direction/);
    assert.throws(() => hagerZhangLineSearch(fn(q), x, 2, g, g.neg(), { c1: 0.6 }), /need c1 < 0.5/);
  });
});
