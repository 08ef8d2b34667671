import { test, describe } from "node:test";
import assert from "node:assert/strict";
import {
  backtrackingLineSearch,
  wolfeLineSearch,
  grad,
  tensor,
  sum,
  square,
  sub,
  mul,
  matmul,
  tree,
  Tensor,
  ValueError,
  type LineSearchFunction,
} from "../src/index.js";
import { assertClose } from "./helpers.js";

/** Rosenbrock's function 100(x₁ − x₀²)² + (1 − x₀)², minimum 0 at (1, 1). */
const rosenbrock = (x: Tensor) => {
  const x0 = matmul(tensor([1, 0]), x);
  const x1 = matmul(tensor([0, 1]), x);
  return mul(100, square(sub(x1, square(x0)))).add(square(sub(1, x0)));
};

function problem(f: (x: Tensor) => Tensor): LineSearchFunction & { evals: number } {
  const p = {
    evals: 0,
    value: (x: any) => {
      p.evals++;
      return f(x).item();
    },
    valueAndGrad: (x: any): [number, any] => {
      p.evals++;
      return [f(x).item(), grad(f)(x)];
    },
  };
  return p;
}

const dot = (a: Tensor, b: Tensor) => tree.vdot(a, b).item();

describe("backtrackingLineSearch", () => {
  test("quadratic: halves once to the exact minimiser along −∇f; counts evaluations", () => {
    const f = (x: Tensor) => sum(square(x));
    const fn = problem(f);
    const x = tensor([1, 2]);
    const g = grad(f)(x) as Tensor;
    const r = backtrackingLineSearch(fn, x, f(x).item(), g, g.neg());
    assert.equal(r.stepsize, 0.5);
    assert.equal(r.succeeded, true);
    assertClose(r.params as Tensor, [0, 0]);
    assert.equal(r.value, 0);
    assertClose(r.grad as Tensor, [0, 0]);
    assert.equal(r.numEvals, 3);
    assert.equal(fn.evals, 3);
  });
  test("Rosenbrock: the accepted step satisfies the Armijo condition and the previous one did not", () => {
    const x = tensor([-1.2, 1]);
    const v = rosenbrock(x).item();
    const g = grad(rosenbrock)(x) as Tensor;
    const p = g.neg();
    const c1 = 1e-4;
    const r = backtrackingLineSearch(problem(rosenbrock), x, v, g, p, { c1, decreaseFactor: 0.5, initialStepsize: 1 });
    assert.ok(r.succeeded);
    assert.ok(r.value <= v + c1 * r.stepsize * dot(g, p));
    const prev = r.stepsize / 0.5;
    assert.ok(rosenbrock(x.add(p.mul(prev))).item() > v + c1 * prev * dot(g, p));
    assertClose(r.value, rosenbrock(r.params as Tensor).item(), { rtol: 1e-15 });
  });
  test("reports failure when the cap is hit, and rejects bad input", () => {
    const x = tensor([-1.2, 1]);
    const g = grad(rosenbrock)(x) as Tensor;
    const r = backtrackingLineSearch(problem(rosenbrock), x, rosenbrock(x).item(), g, g.neg(), { maxIter: 2 });
    assert.equal(r.succeeded, false);
    assert.equal(r.stepsize, 0.5);
    assert.throws(
      () => backtrackingLineSearch(problem(rosenbrock), x, 0, g, g),
      (e) => e instanceof ValueError && /descent direction/.test(e.message),
    );
    assert.throws(() => backtrackingLineSearch(problem(rosenbrock), x, 0, g, g.neg(), { c1: 1.5 }), ValueError);
    assert.throws(
      () => backtrackingLineSearch(problem(rosenbrock), x, 0, g, g.neg(), { decreaseFactor: 0 }),
      ValueError,
    );
  });
});

describe("wolfeLineSearch", () => {
  const starts = [tensor([-1.2, 1]), tensor([0, 0]), tensor([2, 2]), tensor([1.5, -0.5])];
  for (const interpolation of ["cubic", "bisection"] as const) {
    test(`strong Wolfe conditions hold on Rosenbrock (${interpolation})`, () => {
      const c1 = 1e-4;
      const c2 = 0.4;
      for (const x of starts) {
        const v = rosenbrock(x).item();
        const g = grad(rosenbrock)(x) as Tensor;
        const p = g.neg();
        // a long first step forces the zoom phase
        const r = wolfeLineSearch(problem(rosenbrock), x, v, g, p, { c1, c2, interpolation, initialStepsize: 1 });
        assert.ok(r.succeeded, `start ${x.toArray()}`);
        assert.ok(r.value <= v + c1 * r.stepsize * dot(g, p));
        assert.ok(Math.abs(dot(r.grad as Tensor, p)) <= c2 * Math.abs(dot(g, p)));
        assertClose(r.grad as Tensor, grad(rosenbrock)(r.params as Tensor), { rtol: 1e-14 });
      }
    });
  }
  test("weak Wolfe conditions, and bracketing by growing a short first step", () => {
    const c1 = 1e-4;
    const c2 = 0.9;
    const x = tensor([-1.2, 1]);
    const v = rosenbrock(x).item();
    const g = grad(rosenbrock)(x) as Tensor;
    const p = g.neg().div(Math.sqrt(dot(g, g)));
    const r = wolfeLineSearch(problem(rosenbrock), x, v, g, p, { c1, c2, strong: false, initialStepsize: 1e-4 });
    assert.ok(r.succeeded);
    assert.ok(r.stepsize > 1e-4);
    assert.ok(r.value <= v + c1 * r.stepsize * dot(g, p));
    assert.ok(dot(r.grad as Tensor, p) >= c2 * dot(g, p));
  });
  test("quadratic with a tight curvature condition: the step is the exact line minimiser", () => {
    const A = tensor([
      [3, 1],
      [1, 2],
    ]);
    const f = (x: Tensor) => mul(0.5, sum(mul(x, matmul(A, x))));
    const x = tensor([1, -2]);
    const g = grad(f)(x) as Tensor;
    const exact = dot(g, g) / dot(g, matmul(A, g));
    for (const interpolation of ["cubic", "bisection"] as const) {
      const r = wolfeLineSearch(problem(f), x, f(x).item(), g, g.neg(), {
        c1: 1e-7,
        c2: 1e-6,
        initialStepsize: 10,
        interpolation,
      });
      assert.ok(r.succeeded);
      assertClose(r.stepsize, exact, { rtol: 1e-5 });
    }
    // cubic interpolation is exact on a quadratic: one zoom evaluation once the minimiser is bracketed inside
    // the safeguarded interval (the first step 1.5·t* overshoots it)
    const r = wolfeLineSearch(problem(f), x, f(x).item(), g, g.neg(), {
      c1: 1e-7,
      c2: 1e-6,
      initialStepsize: 1.5 * exact,
    });
    assert.equal(r.numEvals, 2);
    assertClose(r.stepsize, exact, { rtol: 1e-12 });
  });
  test("rejects bad constants and ascent directions", () => {
    const x = tensor([0, 0]);
    const g = grad(rosenbrock)(x) as Tensor;
    assert.throws(() => wolfeLineSearch(problem(rosenbrock), x, 1, g, g.neg(), { c1: 0.5, c2: 0.4 }), ValueError);
    assert.throws(() => wolfeLineSearch(problem(rosenbrock), x, 1, g, g), ValueError);
  });
});
