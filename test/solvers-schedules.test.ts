import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import {
  DifferentiationError,
  GradientDescent,
  MirrorDescent,
  ProjectedGradient,
  ProximalGradient,
  ValueError,
  makeProjectionGrad,
  objective,
  projection,
  prox,
  linalg,
  grad,
  softmax,
  log,
  tensor,
  tree,
  eye,
  matmul,
  sum,
  square,
  sub,
  mul,
  type Tensor,
} from "../src/index.js";
import { assertClose, checkDerivatives, randn, rng } from "./helpers.js";

// JAXopt's tests/proximal_gradient_test.py::test_lasso_manual_loop: make_regression(n_samples=10, n_features=3,
// random_state=0), lam = 10, 10 updates, then error < 2e-2 (JAXopt's error: ‖prox(x − ∇f(x), 1) − x‖, our
// optimalityFun). Data and scikit-learn's solution from test/fixtures/jaxopt-lasso.py.
const lassoData = JSON.parse(readFileSync(new URL("./fixtures/jaxopt-lasso.json", import.meta.url), "utf8")) as {
  X: number[][];
  y: number[];
  lam: number;
  wSklearn: number[];
};
const LX = tensor(lassoData.X);
const Ly = tensor(lassoData.y);
const lam = tensor(lassoData.lam);
const wSklearn = tensor(lassoData.wSklearn);

describe("ProximalGradient backtracking (issue 14)", () => {
  for (const acceleration of [true, false]) {
    test(`10 updates on JAXopt's lasso reach its accuracy (acceleration ${acceleration})`, () => {
      const pg = new ProximalGradient({ fun: objective.leastSquares, prox: prox.lasso, acceleration });
      let params: Tensor = tensor([0, 0, 0]);
      let state = pg.init(params, lam, [LX, Ly]);
      const steps: number[] = [];
      for (let k = 0; k < 10; k++) {
        const r = pg.update(params, state, lam, [LX, Ly]);
        params = r.params as Tensor;
        state = r.state;
        steps.push(state.stepsize);
      }
      const jaxoptError = tree.norm(pg.optimalityFun(params, lam, [LX, Ly])).item();
      // JAXopt asks 2e-2; the step that grows back after a rejection gets far below it.
      assert.ok(jaxoptError < 1e-3, `${jaxoptError}`);
      assertClose(params, wSklearn, { rtol: 1e-5 });
      // the step grows again after a rejection
      assert.ok(
        steps.some((s, i) => i > 0 && s > steps[i - 1]!),
        `${steps}`,
      );
    });
  }

  test("run reaches scikit-learn's lasso solution", () => {
    const pg = new ProximalGradient({ fun: objective.leastSquares, prox: prox.lasso, tol: 1e-10 });
    const { params, state } = pg.run(tensor([0, 0, 0]), lam, [LX, Ly]);
    assert.equal(state.status, "converged");
    assertClose(params, wSklearn, { rtol: 1e-9 });
  });
});

// A small ridge problem: ½·mean((Xw − y)²) + ½λ‖w‖².
const r = rng(33);
const X = randn(r, [12, 3]);
const y = randn(r, [12]);
const l2 = tensor(0.2);
const ridgeClosed = (l: Tensor) => linalg.solve(matmul(X.T, X).div(12).add(eye(3).mul(l)), matmul(X.T, y).div(12));

/** A counting wrapper of an objective. */
function counted(f: (...a: any[]) => Tensor): { fun: (...a: any[]) => Tensor; calls: () => number } {
  let n = 0;
  return {
    fun: (...a) => {
      n++;
      return f(...a);
    },
    calls: () => n,
  };
}

describe("fixed steps evaluate fun once per update (issue 14)", () => {
  const cases: [string, (fun: (...a: any[]) => Tensor) => { run: () => { state: { iterNum: number } } }][] = [
    [
      "GradientDescent",
      (fun) => {
        const s = new GradientDescent({ fun, stepsize: 0.1, maxIter: 7, tol: 0 });
        return { run: () => s.run(tensor([0, 0, 0]), l2, [X, y]) };
      },
    ],
    [
      "ProximalGradient",
      (fun) => {
        const s = new ProximalGradient({ fun, prox: prox.lasso, stepsize: 0.1, maxIter: 7, tol: 0 });
        return { run: () => s.run(tensor([0, 0, 0]), tensor(0.01), l2, [X, y]) };
      },
    ],
    [
      "ProjectedGradient",
      (fun) => {
        const s = new ProjectedGradient({ fun, projection: projection.l2Ball, stepsize: 0.1, maxIter: 7, tol: 0 });
        return { run: () => s.run(tensor([0, 0, 0]), tensor(0.5), l2, [X, y]) };
      },
    ],
    [
      "MirrorDescent",
      (fun) => {
        const s = new MirrorDescent({ fun, stepsize: 0.1, maxIter: 7, tol: 0 });
        return { run: () => s.run(tensor([0.2, 0.3, 0.5]), l2, [X, y]) };
      },
    ],
  ];
  for (const [name, make] of cases) {
    test(name, () => {
      const c = counted(objective.ridgeRegression);
      const { state } = make(c.fun).run();
      assert.equal(state.iterNum, 7);
      assert.equal(c.calls(), state.iterNum + 1, name);
    });
  }

  test("a solution that depends on a closed-over differentiated value is still reported", () => {
    const s = new GradientDescent({ fun: (w: Tensor, c: Tensor) => sum(square(sub(w, c))), stepsize: 0.25 });
    assert.throws(
      () =>
        grad((c: Tensor) => {
          const closure = new GradientDescent({ fun: (w: Tensor) => sum(square(sub(w, c))), stepsize: 0.25 });
          return sum(closure.run(tensor([0, 0])).params);
        })(tensor([1, 2])),
      DifferentiationError,
    );
    // passed as an argument, the same derivative is implicit
    assertClose(grad((c: Tensor) => sum(s.run(tensor([0, 0]), c).params))(tensor([1, 2])), [1, 1], { rtol: 1e-8 });
  });
});

describe("MirrorDescent at a vertex of the simplex (issue 14)", () => {
  const f = (x: Tensor, c: Tensor) => sum(mul(x, c)).add(sum(square(x)));
  test("a start with a zero coordinate is a typed error; an interior start reaches the optimum", () => {
    const solver = new MirrorDescent({ fun: f, stepsize: 0.5, tol: 1e-10, maxIter: 5000 });
    assert.throws(
      () => solver.run(tensor([0, 1]), tensor([0, 1])),
      (e: Error) => e instanceof ValueError && /zero entry/.test(e.message) && /interior/.test(e.message),
    );
    // min x₀ + x₁² + x₀² … over the simplex with c = (0, 1): x = (0.75, 0.25)
    const { params, state } = solver.run(tensor([1e-3, 1 - 1e-3]), tensor([0, 1]));
    assert.equal(state.status, "converged");
    assertClose(params, [0.75, 0.25], { rtol: 1e-8 });
  });
});

describe("step-size schedules", () => {
  const schedule = (k: number) => 0.2 + 0.2 / (1 + k);
  const wStar = ridgeClosed(l2);

  test("GradientDescent follows the schedule, converges, and its implicit derivative is the closed form", () => {
    const seen: number[] = [];
    const solver = new GradientDescent({
      fun: objective.ridgeRegression,
      stepsize: (k) => {
        seen.push(k);
        return schedule(k);
      },
      tol: 1e-10,
      maxIter: 5000,
    });
    const { params, state } = solver.run(tensor([0, 0, 0]), l2, [X, y]);
    assert.equal(state.status, "converged");
    assert.deepEqual(seen.slice(0, 3), [0, 1, 2]);
    assertClose(params, wStar, { rtol: 1e-8 });
    // two manual updates with the schedule's steps equal two updates of the solver
    let w = tensor([0, 0, 0]);
    for (let k = 0; k < 2; k++) w = w.sub(grad(objective.ridgeRegression)(w, l2, [X, y]).mul(schedule(k)));
    assertClose(
      new GradientDescent({ fun: objective.ridgeRegression, stepsize: schedule, maxIter: 2, tol: 0 }).run(
        tensor([0, 0, 0]),
        l2,
        [X, y],
      ).params,
      w,
      { rtol: 1e-14 },
    );
    const dClosed = grad((l: Tensor) => sum(ridgeClosed(l)))(l2);
    assertClose(grad((l: Tensor) => sum(solver.run(tensor([0, 0, 0]), l, [X, y]).params))(l2), dClosed, { rtol: 1e-7 });
  });

  test("ProximalGradient and ProjectedGradient take a schedule", () => {
    const ista = new ProximalGradient({
      fun: objective.ridgeRegression,
      prox: prox.lasso,
      stepsize: schedule,
      tol: 1e-10,
      maxIter: 5000,
    });
    const ref = new ProximalGradient({ fun: objective.ridgeRegression, prox: prox.lasso, tol: 1e-12, maxIter: 5000 });
    const a = ista.run(tensor([0, 0, 0]), tensor(0.05), l2, [X, y]);
    assert.equal(a.state.status, "converged");
    assertClose(a.params, ref.run(tensor([0, 0, 0]), tensor(0.05), l2, [X, y]).params, { rtol: 1e-7, atol: 1e-10 });
    const onBall = new ProjectedGradient({
      fun: objective.ridgeRegression,
      projection: projection.l2Ball,
      stepsize: schedule,
      tol: 1e-10,
      maxIter: 5000,
    });
    const radius = tensor(0.05);
    const b = onBall.run(tensor([0, 0, 0]), radius, l2, [X, y]);
    assert.equal(b.state.status, "converged");
    assertClose(tree.norm(b.params).item(), 0.05, { rtol: 1e-10 });
    checkDerivatives((rad: Tensor) => onBall.run(tensor([0, 0, 0]), rad, l2, [X, y]).params, [radius], { rtol: 1e-6 });
  });

  test("a schedule returning a non-positive step is a typed error", () => {
    const solver = new GradientDescent({ fun: objective.ridgeRegression, stepsize: (k) => 0.1 - 0.05 * k });
    assert.throws(
      () => solver.run(tensor([0, 0, 0]), l2, [X, y]),
      (e: Error) => e instanceof ValueError && /schedule/.test(e.message) && /iteration 2/.test(e.message),
    );
  });
});

describe("MirrorDescent with a user mirror map (projectionGrad)", () => {
  const c = tensor([0.6, 0.5, -0.2]);
  const f = (x: Tensor, cc: Tensor) => sum(square(sub(x, cc))).mul(0.5);

  test("the Euclidean map is projected gradient: same iterates, same derivative in the simplex mass", () => {
    const euclidean = makeProjectionGrad(projection.simplex, (x: Tensor) => x);
    const md = new MirrorDescent({ fun: f, stepsize: 0.5, projectionGrad: euclidean, maxIter: 6, tol: 0 });
    const pg = new ProjectedGradient({
      fun: f,
      projection: projection.simplex,
      stepsize: 0.5,
      acceleration: false,
      maxIter: 6,
      tol: 0,
    });
    const init = tensor([1, 0, 0]); // a vertex is fine outside the KL geometry
    assertClose(md.run(init, tensor(1), c).params, pg.run(init, tensor(1), c).params, { rtol: 1e-14 });
    const tight = new MirrorDescent({ fun: f, stepsize: 0.5, projectionGrad: euclidean, tol: 1e-12 });
    assertClose(tight.run(init, tensor(1), c).params, [0.55, 0.45, 0], { atol: 1e-12 });
    checkDerivatives((mass: Tensor, cc: Tensor) => tight.run(init, mass, cc).params, [tensor(1), c], {
      rtol: 1e-6,
      atol: 1e-8,
    });
  });

  test("the KL map through makeProjectionGrad matches the built-in KL geometry", () => {
    const kl = makeProjectionGrad(
      (z: Tensor) => softmax(z),
      (x: Tensor) => log(x),
    );
    const custom = new MirrorDescent({ fun: f, stepsize: 0.5, projectionGrad: kl, maxIter: 20, tol: 0 });
    const builtin = new MirrorDescent({ fun: f, stepsize: 0.5, maxIter: 20, tol: 0 });
    const init = tensor([0.2, 0.3, 0.5]);
    assertClose(custom.run(init, null, c).params, builtin.run(init, c).params, { rtol: 1e-12 });
  });
});
