import { test, describe } from "node:test";
import assert from "node:assert/strict";
import {
  AndersonAcceleration,
  AndersonWrapper,
  Bisection,
  Broyden,
  FixedPointIteration,
  GradientDescent,
  ProximalGradient,
  NonFiniteError,
  TreeMismatchError,
  ValueError,
  objective,
  prox,
  linalg,
  grad,
  hessian,
  jacfwd,
  jacrev,
  tensor,
  eye,
  matmul,
  tanh,
  sub,
  add,
  mul,
  sum,
  square,
  diag,
  type Tensor,
} from "../src/index.js";
import { assertClose, checkDerivatives, randn, rng } from "./helpers.js";

// A deep-equilibrium layer z = tanh(Wz + x): a contraction because ‖W‖ < 1.
const r = rng(9);
const n = 4;
const W = randn(r, [n, n]).mul(0.5 / Math.sqrt(n));
const x = randn(r, [n]);
const z0 = tensor(new Float64Array(n));
const deq = (z: Tensor, Wm: Tensor, xv: Tensor) => tanh(add(matmul(Wm, z), xv));
const deqResidual = (z: Tensor, Wm: Tensor, xv: Tensor) => sub(deq(z, Wm, xv), z);

/** The closed-form Jacobian of z*(x) = tanh(Wz* + x): (I − DW)⁻¹D with D = diag(1 − z*²). */
function deqJacobianX(z: Tensor, Wm: Tensor): Tensor {
  const D = diag(sub(1, square(z)));
  return linalg.solve(sub(eye(n), matmul(D, Wm)), D);
}

const solvers = {
  FixedPointIteration: (o: object = {}) => new FixedPointIteration({ fixedPointFun: deq, tol: 1e-13, ...o }),
  AndersonAcceleration: (o: object = {}) => new AndersonAcceleration({ fixedPointFun: deq, tol: 1e-13, ...o }),
  Broyden: (o: object = {}) => new Broyden({ fun: deqResidual, tol: 1e-13, ...o }),
};

describe("deep-equilibrium layer z = tanh(Wz + x)", () => {
  for (const [name, make] of Object.entries(solvers)) {
    test(`${name}: converges to a fixed point; gradients in W and x match finite differences and the closed form`, () => {
      const solver = make();
      const { params, state } = solver.run(z0, W, x);
      assert.equal(state.status, "converged");
      assertClose(deq(params, W, x), params, { atol: 1e-12 });
      const layer = (Wm: Tensor, xv: Tensor) => solver.run(z0, Wm, xv).params as Tensor;
      checkDerivatives(layer, [W, x], { rtol: 1e-6, atol: 1e-8 }, name);
      assertClose(jacrev(layer, { argnums: 1 })(W, x), deqJacobianX(params, W), { rtol: 1e-9, atol: 1e-12 });
    });

    test(`${name}: the unrolled derivative approaches the implicit one as iterations grow`, () => {
      const implicitJ = jacfwd((xv: Tensor) => make().run(z0, W, xv).params)(x) as Tensor;
      const errors = [2, 5, 40].map((k) => {
        const unrolled = make({ implicitDiff: false, maxIter: k, tol: 0 });
        const J = jacfwd((xv: Tensor) => unrolled.run(z0, W, xv).params)(x) as Tensor;
        return Math.max(...J.sub(implicitJ).abs().data);
      });
      assert.ok(errors[0]! > errors[1]! && errors[1]! > errors[2]!, `${name}: ${errors}`);
      assert.ok(errors[2]! < 1e-8, `${name}: ${errors}`);
    });

    test(`${name}: maxIter 0 returns init with status maxIterReached`, () => {
      const { params, state } = make({ maxIter: 0 }).run(z0, W, x);
      assert.equal(state.status, "maxIterReached");
      assert.equal(state.iterNum, 0);
      assertClose(params, z0, { atol: 0 });
    });

    test(`${name}: a non-finite map stops the run`, () => {
      const bad = (z: Tensor) => z.sub(z.mul(Infinity).exp().mul(0).add(NaN));
      const opts = name === "Broyden" ? { fun: bad } : { fixedPointFun: bad };
      assert.throws(() => make(opts).run(z0, W, x), NonFiniteError);
      const { state } = make({ ...opts, throwOnDiverge: false }).run(z0, W, x);
      assert.equal(state.status, "diverged");
    });
  }

  test("Anderson needs fewer evaluations than plain iteration", () => {
    const plain = solvers.FixedPointIteration().run(z0, W, x).state.iterNum;
    const anderson = solvers.AndersonAcceleration().run(z0, W, x).state.iterNum;
    assert.ok(anderson * 2 < plain, `${anderson} vs ${plain}`);
  });
});

describe("FixedPointIteration and AndersonAcceleration", () => {
  // T(x) = b − 1.5·x: plain iteration diverges (eigenvalue −1.5); damping or Anderson converge to b / 2.5.
  const b = tensor([1, -2, 0.5]);
  const T = (v: Tensor, bb: Tensor) => sub(bb, v.mul(1.5));
  const v0 = tensor([0, 0, 0]);

  test("damping makes an oscillating map converge; the solution's derivative is the closed form", () => {
    const damped = new FixedPointIteration({ fixedPointFun: T, damping: 0.6, tol: 1e-12, maxIter: 200 });
    const { params, state } = damped.run(v0, b);
    assert.equal(state.status, "converged");
    assertClose(params, b.div(2.5), { rtol: 1e-10 });
    assertClose(jacrev((bb: Tensor) => damped.run(v0, bb).params)(b), eye(3).div(2.5), { atol: 1e-12 });
    const undamped = new FixedPointIteration({ fixedPointFun: T, maxIter: 50 }).run(v0, b).state;
    assert.equal(undamped.status, "maxIterReached");
    assert.ok(undamped.error > 1e6, `${undamped.error}`);
  });

  test("Anderson solves a linear fixed point in n + 1 updates where plain iteration diverges", () => {
    const anderson = new AndersonAcceleration({ fixedPointFun: T, historySize: 5, tol: 1e-10 });
    const { params, state } = anderson.run(v0, b);
    assert.equal(state.status, "converged");
    assert.ok(state.iterNum <= 4, `${state.iterNum}`);
    assertClose(params, b.div(2.5), { rtol: 1e-10 });
  });

  test("pytree iterates; each update evaluates T once", () => {
    let calls = 0;
    const Tp = (p: { a: Tensor; b: Tensor }, c: Tensor) => {
      calls++;
      return { a: mul(0.5, p.b).add(c), b: mul(-0.25, p.a) };
    };
    const init = { a: tensor([0, 0]), b: tensor(0) };
    for (const solver of [
      new FixedPointIteration({ fixedPointFun: Tp, tol: 1e-12, implicitDiff: false }),
      new AndersonAcceleration({ fixedPointFun: Tp, tol: 1e-12, implicitDiff: false }),
    ]) {
      calls = 0;
      // c is a vector: b = −a/4 has shape [2] then, so use a matching init
      const { params, state } = solver.run({ a: tensor([0, 0]), b: tensor([0, 0]) }, tensor([1, 2]));
      assert.equal(calls, state.iterNum + 1, solver.name);
      // a = b/2 + c, b = −a/4 ⇒ a = c / (1 + 1/8)
      assertClose(params.a, tensor([1, 2]).div(1.125), { rtol: 1e-10 }, solver.name);
      assertClose(params.b, tensor([1, 2]).div(-4.5), { rtol: 1e-10 }, solver.name);
    }
    assert.throws(
      () => new FixedPointIteration({ fixedPointFun: (p: { a: Tensor }) => p.a }).run(init, tensor(1)),
      TreeMismatchError,
    );
  });

  test("options are validated", () => {
    assert.throws(() => new FixedPointIteration({ fixedPointFun: T, damping: 1 }), ValueError);
    assert.throws(() => new AndersonAcceleration({ fixedPointFun: T, historySize: 0 }), ValueError);
    assert.throws(() => new AndersonAcceleration({ fixedPointFun: T, beta: -1 }), ValueError);
    assert.throws(() => new AndersonAcceleration({ fixedPointFun: T, ridge: -1 }), ValueError);
  });
});

describe("AndersonWrapper", () => {
  const X = randn(r, [12, 4]).mul(tensor([1, 3, 0.3, 1]));
  const y = randn(r, [12]);
  const lam = tensor(0.1);
  const closed = (l: Tensor) => linalg.solve(matmul(X.T, X).div(12).add(eye(4).mul(l)), matmul(X.T, y).div(12));

  test("accelerates gradient descent; same solution and implicit derivative", () => {
    const gd = new GradientDescent({ fun: objective.ridgeRegression, stepsize: 0.1, tol: 1e-10, maxIter: 20000 });
    const wrapped = new AndersonWrapper({ solver: gd, historySize: 5 });
    const plain = gd.run(tensor([0, 0, 0, 0]), lam, [X, y]);
    const fast = wrapped.run(tensor([0, 0, 0, 0]), lam, [X, y]);
    assert.equal(fast.state.status, "converged");
    assert.ok(fast.state.iterNum * 10 < plain.state.iterNum, `${fast.state.iterNum} vs ${plain.state.iterNum}`);
    assertClose(fast.params, closed(lam), { rtol: 1e-8 });
    const dClosed = grad((l: Tensor) => sum(closed(l)))(lam) as Tensor;
    assertClose(grad((l: Tensor) => sum(wrapped.run(tensor([0, 0, 0, 0]), l, [X, y]).params))(lam), dClosed, {
      rtol: 1e-8,
    });
  });

  test("unrolled through the wrapped updates, the derivative approaches the implicit one", () => {
    const gd = new GradientDescent({ fun: objective.ridgeRegression, stepsize: 0.1 });
    const dClosed = grad((l: Tensor) => sum(closed(l)))(lam) as Tensor;
    const errors = [2, 6, 30].map((k) => {
      const unrolled = new AndersonWrapper({ solver: gd, historySize: 5, implicitDiff: false, maxIter: k, tol: 0 });
      const g = grad((l: Tensor) => sum(unrolled.run(tensor([0, 0, 0, 0]), l, [X, y]).params))(lam) as Tensor;
      return Math.abs(g.item() - dClosed.item());
    });
    assert.ok(errors[0]! > errors[1]! && errors[1]! > errors[2]! && errors[2]! < 1e-8, `${errors}`);
  });

  test("accelerates proximal gradient on a lasso and keeps its fixed-point condition", () => {
    const ista = new ProximalGradient({
      fun: objective.leastSquares,
      prox: prox.lasso,
      acceleration: false,
      stepsize: 0.1,
      tol: 1e-10,
      maxIter: 20000,
    });
    const wrapped = new AndersonWrapper({ solver: ista, historySize: 5 });
    const ref = ista.run(tensor([0, 0, 0, 0]), tensor(0.05), [X, y]);
    const fast = wrapped.run(tensor([0, 0, 0, 0]), tensor(0.05), [X, y]);
    assert.equal(fast.state.status, "converged");
    assert.ok(fast.state.iterNum < ref.state.iterNum, `${fast.state.iterNum} vs ${ref.state.iterNum}`);
    assertClose(fast.params, ref.params, { rtol: 1e-7, atol: 1e-9 });
    const g = (s: ProximalGradient | AndersonWrapper) =>
      grad((l: Tensor) => sum(square(s.run(tensor([0, 0, 0, 0]), l, [X, y]).params)))(tensor(0.05)) as Tensor;
    assertClose(g(wrapped), g(ista), { rtol: 1e-6, atol: 1e-9 });
  });
});

describe("Broyden", () => {
  test("pytree unknowns; identity start; a reset when the search fails", () => {
    // x + y² = a, x·y = 1 near (1, 1) for a = 2
    const F = (p: { x: Tensor; y: Tensor }, a: Tensor) => ({
      x: add(p.x, square(p.y)).sub(a),
      y: mul(p.x, p.y).sub(1),
    });
    for (const initialJacobian of ["exact", "identity"] as const) {
      const solver = new Broyden({ fun: F, initialJacobian, tol: 1e-12, maxIter: 200 });
      const { params, state } = solver.run({ x: tensor(1.3), y: tensor(0.6) }, tensor(2.5));
      assert.equal(state.status, "converged", initialJacobian);
      const res = F(params, tensor(2.5));
      assertClose(tensor([res.x.item(), res.y.item()]), tensor([0, 0]), { atol: 1e-12 });
      // implicit derivative of x* in a against finite differences of re-solved problems
      const xOf = (a: Tensor) => solver.run({ x: tensor(1.3), y: tensor(0.6) }, a).params.x as Tensor;
      checkDerivatives(xOf, [tensor(2.5)], { rtol: 1e-6 }, initialJacobian);
    }
  });

  test("stops as stalled, with a message, at a local minimum of ‖F‖ that is not a root", () => {
    // F(x) = x² + 1 has no real root; ‖F‖ is smallest (1 per entry) at x = 0, where the Jacobian 2x is singular.
    const F = (x: Tensor) => add(mul(x, x), 1);
    for (const [init, initialJacobian] of [
      [tensor([0.5]), "exact"],
      [tensor([3, -2]), "identity"],
    ] as const) {
      const { params, state } = new Broyden({ fun: F, initialJacobian, tol: 1e-10, maxIter: 500 }).run(init);
      assert.equal(state.status, "stalled", initialJacobian);
      assert.ok(state.iterNum < 100, `stalled after ${state.iterNum} iterations, not at maxIter`);
      assert.match(state.message ?? "", /Broyden: stalled at iteration \d+ .*not a root/);
      assertClose(state.error, Math.sqrt(init.size), { rtol: 1e-6 });
      assert.ok(Math.max(...(params as Tensor).data.map(Math.abs)) < 1e-3);
    }
  });
});

describe("Bisection", () => {
  const cube = (x: Tensor, a: Tensor) => sub(x.mul(x).mul(x), a);
  const solver = new Bisection({ optimalityFun: cube, lower: 0, upper: 10, tol: 1e-12 });
  const root = (a: Tensor) => solver.run(undefined, a).params as Tensor;

  test("finds the cube root; first, second and third derivatives match the closed forms", () => {
    const a = tensor(8);
    assertClose(root(a), 2, { rtol: 1e-12 });
    // x*(a) = a^(1/3): x' = a^(−2/3)/3, x'' = −(2/9)a^(−5/3), x''' = (10/27)a^(−8/3)
    assertClose(grad(root)(a), Math.pow(8, -2 / 3) / 3, { rtol: 1e-10 });
    assertClose(hessian(root)(a), (-2 / 9) * Math.pow(8, -5 / 3), { rtol: 1e-9 });
    assertClose(grad(grad(grad(root)))(a), (10 / 27) * Math.pow(8, -8 / 3), { rtol: 1e-8 });
  });

  test("a decreasing function, an init inside the bracket, and a bracket exhausted to machine precision", () => {
    const dec = new Bisection({
      optimalityFun: (x: Tensor, a: Tensor) => sub(a, x.mul(x)),
      lower: 0,
      upper: 4,
      tol: 0,
    });
    const { params, state } = dec.run(tensor(0.5), tensor(2));
    assert.equal(state.status, "converged");
    assert.equal(state.error, 0);
    assert.ok(Math.abs(params.item() - Math.SQRT2) <= 4e-16, `${params.item()}`);
    assert.ok(state.iterNum < 60, `${state.iterNum}`);
  });

  test("typed errors: no sign change, bad bracket, init outside, non-scalar function, unrolling", () => {
    assert.throws(
      () => solver.run(undefined, tensor(-1)),
      (e: Error) => e instanceof ValueError && /same sign/.test(e.message),
    );
    assert.throws(() => new Bisection({ optimalityFun: cube, lower: 1, upper: 1 }), ValueError);
    assert.throws(() => solver.run(tensor(11), tensor(8)), ValueError);
    assert.throws(
      () => new Bisection({ optimalityFun: cube, lower: 0, upper: 1, implicitDiff: false as unknown as true }),
      ValueError,
    );
    const nan = new Bisection({ optimalityFun: (x: Tensor) => x.mul(NaN), lower: 0, upper: 1 });
    assert.throws(() => nan.run(undefined), NonFiniteError);
    assert.equal(
      new Bisection({ optimalityFun: cube, lower: 0, upper: 10, maxIter: 0 }).run(tensor(3), tensor(8)).state.status,
      "maxIterReached",
    );
  });
});
