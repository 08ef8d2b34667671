import { test, describe } from "node:test";
import assert from "node:assert/strict";
import {
  GaussNewton,
  LevenbergMarquardt,
  jacfwd,
  jacrev,
  linalg,
  tensor,
  linspace,
  exp,
  sin,
  mul,
  sub,
  add,
  matmul,
  Tensor,
  NonFiniteError,
  type LeastSquaresSolver,
} from "../src/index.js";
import { assertClose, randn, rng } from "./helpers.js";

// θ₀·exp(θ₁t) fitted to data it cannot match: the residual at the solution is not zero.
const t = linspace(0, 3, 8);
const y = add(mul(2, exp(mul(-0.5, t))), mul(0.15, sin(mul(3, t))));
const residuals = (theta: Tensor, y: Tensor) => sub(mul(theta.at(0).get(), exp(mul(theta.at(1).get(), t))), y);
const init = tensor([1, 0]);

const zoo: [string, (o: { tol?: number; maxIter?: number; implicitDiff?: boolean }) => LeastSquaresSolver][] = [
  ["GaussNewton", (o) => new GaussNewton({ residualFun: residuals, ...o })],
  ["LevenbergMarquardt", (o) => new LevenbergMarquardt({ residualFun: residuals, ...o })],
  [
    "LevenbergMarquardt with geodesic acceleration",
    (o) => new LevenbergMarquardt({ residualFun: residuals, geodesicAcceleration: true, ...o }),
  ],
];

/** Fourth-order central differences (error O(h⁴)) of the re-solved fit in each datum. */
function fdJacobian(solve: (y: Tensor) => Tensor, y0: Tensor, h = 1e-3): number[][] {
  const cols: number[][] = [];
  for (let j = 0; j < y0.size; j++) {
    const at = (k: number) => {
      const e = new Float64Array(y0.size);
      e[j] = k * h;
      return solve(y0.add(tensor(e))).toArray() as number[];
    };
    const [p1, m1, p2, m2] = [at(1), at(-1), at(2), at(-2)];
    cols.push(p1.map((_, i) => (8 * (p1[i]! - m1[i]!) - (p2[i]! - m2[i]!)) / (12 * h)));
  }
  return cols[0]!.map((_, i) => cols.map((c) => c[i]!));
}

describe("the exponential fit with a non-zero residual", () => {
  const reference = new LevenbergMarquardt({ residualFun: residuals, tol: 1e-12 }).run(init, y).params as Tensor;
  const r = residuals(reference, y);
  const fd = fdJacobian((yy) => new LevenbergMarquardt({ residualFun: residuals, tol: 1e-12 }).run(init, yy).params, y);

  test("the residual at the solution is far from zero", () => {
    assert.ok(r.square().sum().sqrt().item() > 0.1);
  });

  for (const [name, make] of zoo) {
    test(`${name}: converges, and its implicit Jacobian (forward and reverse) matches re-solved differences`, () => {
      const solver = make({ tol: 1e-11 });
      const { params, state } = solver.run(init, y);
      assert.equal(state.status, "converged", state.message);
      assertClose(params, reference, { atol: 1e-9, rtol: 0 });
      const argmin = (yy: Tensor) => solver.run(init, yy).params as Tensor;
      assertClose(jacfwd(argmin)(y) as Tensor, fd.flat(), { atol: 1e-7, rtol: 1e-6 });
      assertClose(jacrev(argmin)(y) as Tensor, fd.flat(), { atol: 1e-7, rtol: 1e-6 });
    });
  }

  test("the Gauss–Newton approximation of that Jacobian, (JᵀJ)⁻¹Jᵀ, is measurably different", () => {
    const J = jacfwd((th: Tensor) => residuals(th, y))(reference) as Tensor;
    // r = model − y, so ∂(Jᵀr)/∂y = −Jᵀ and the Gauss–Newton derivative is (JᵀJ)⁻¹Jᵀ.
    const approx = linalg.solve(matmul(J.T, J), J.T).toArray() as number[][];
    let maxRel = 0;
    approx
      .flat()
      .forEach(
        (a, i) => (maxRel = Math.max(maxRel, Math.abs(a - fd.flat()[i]!) / Math.max(...fd.flat().map(Math.abs)))),
      );
    assert.ok(maxRel > 0.01, `relative difference ${maxRel}`);
  });

  test("every solver's unrolled derivative approaches the implicit one as iterations grow", () => {
    const implicit = jacrev((yy: Tensor) => zoo[1]![1]({ tol: 1e-12 }).run(init, yy).params as Tensor)(y) as Tensor;
    for (const [name, make] of zoo) {
      const errs = [2, 5, 30].map((k) => {
        const s = make({ maxIter: k, tol: 0, implicitDiff: false });
        const Jk = jacrev((yy: Tensor) => s.run(init, yy).params as Tensor)(y) as Tensor;
        return Jk.sub(implicit).abs().max().item();
      });
      assert.ok(errs[2]! < 1e-8 && errs[2]! < errs[0]!, `${name}: ${errs}`);
    }
  });
});

test("Rosenbrock as least squares from (−1.2, 1)", () => {
  const rosen = (x: Tensor) =>
    tensor([1, 0])
      .mul(0)
      .add(
        mul(tensor([1, 0]), sub(1, x.at(0).get())).add(
          mul(tensor([0, 10]), sub(x.at(1).get(), x.at(0).get().square())),
        ),
      );
  for (const solver of [
    new GaussNewton({ residualFun: rosen, tol: 1e-10 }),
    new LevenbergMarquardt({ residualFun: rosen, tol: 1e-10 }),
    new LevenbergMarquardt({ residualFun: rosen, tol: 1e-10, geodesicAcceleration: { alpha: 0.5 } }),
  ]) {
    const { params, state } = solver.run(tensor([-1.2, 1]));
    assert.equal(state.status, "converged", solver.name);
    assertClose(params, [1, 1], { atol: 1e-9 });
  }
});

test("Jacobian of the argmin of a parametric Rosenbrock fit, forward and reverse", () => {
  // r = (a − x₀, √b (x₁ − x₀²)): the minimiser (a, a²) has zero residual; ∂x*/∂(a, b) = [[1, 0], [2a, 0]].
  const res = (x: Tensor, th: Tensor) =>
    mul(tensor([1, 0]), sub(th.at(0).get(), x.at(0).get())).add(
      mul(tensor([0, 1]), mul(th.at(1).get().sqrt(), sub(x.at(1).get(), x.at(0).get().square()))),
    );
  for (const solver of [
    new GaussNewton({ residualFun: res, tol: 1e-10 }),
    new LevenbergMarquardt({ residualFun: res, tol: 1e-10 }),
  ]) {
    const argmin = (th: Tensor) => solver.run(tensor([-1.2, 1]), th).params as Tensor;
    for (const jac of [jacfwd, jacrev]) {
      assertClose(jac(argmin)(tensor([1.5, 50])) as Tensor, [1, 0, 3, 0], { atol: 1e-7 }, solver.name);
    }
  }
});

test("pytree params and residuals", () => {
  const res = (p: { a: Tensor; b: Tensor }, y: Tensor) => ({
    fit: sub(mul(p.a, exp(mul(p.b, t))), y),
    prior: [mul(0.1, sub(p.a, 2))],
  });
  const lm = new LevenbergMarquardt({ residualFun: res, tol: 1e-11 });
  const { params, state } = lm.run({ a: tensor(1), b: tensor(0) }, y);
  assert.equal(state.status, "converged");
  const gn = new GaussNewton({ residualFun: res, tol: 1e-11 }).run({ a: tensor(1), b: tensor(0) }, y).params;
  assertClose(params.a, gn.a, { atol: 1e-9 });
  assertClose(params.b, gn.b, { atol: 1e-9 });
  const fd = fdJacobian((yy) => tensor([lm.run({ a: tensor(1), b: tensor(0) }, yy).params.b.item()]), y);
  const jb = jacrev((yy: Tensor) => lm.run({ a: tensor(1), b: tensor(0) }, yy).params.b)(y) as Tensor;
  assertClose(jb, fd.flat(), { atol: 1e-7, rtol: 1e-6 });
});

test("a rank-deficient Jacobian stalls Gauss–Newton with a message; Levenberg–Marquardt solves it", () => {
  // r depends on x₀ + x₁ only: JᵀJ is singular everywhere.
  const res = (x: Tensor) => sub(mul(tensor([1, 2, 3]), x.sum()), tensor([1, 2, 2]));
  const gn = new GaussNewton({ residualFun: res }).run(tensor([0, 0]));
  assert.equal(gn.state.status, "stalled");
  assert.match(gn.state.message, /rank deficient.*LevenbergMarquardt/);
  const lm = new LevenbergMarquardt({ residualFun: res, tol: 1e-10 }).run(tensor([0, 0]));
  assert.equal(lm.state.status, "converged");
  assertClose(lm.params.sum(), 11 / 14, { rtol: 1e-9 });
});

test("large problems use matrix-free CG on JᵀJ + λI", () => {
  const r = rng(3);
  const n = 201;
  const A = randn(r, [n, n])
    .mul(0.3 / Math.sqrt(n))
    .add(linalg.diagonal(tensor(new Float64Array(n).fill(1))).materialize());
  const model = (x: Tensor) => matmul(A, x).add(mul(0.1, x.square()));
  const b = model(randn(r, [n]));
  const res = (x: Tensor) => sub(model(x), b);
  for (const solver of [
    new GaussNewton({ residualFun: res, tol: 1e-9 }),
    new LevenbergMarquardt({ residualFun: res, tol: 1e-9 }),
  ]) {
    const { params, state } = solver.run(tensor(new Float64Array(n)));
    assert.equal(state.status, "converged", `${solver.name}: ${state.message}`);
    assert.ok(res(params).abs().max().item() < 1e-8);
  }
});

test("non-finite residuals throw, or stop with status diverged", () => {
  const bad = y.add(tensor([NaN, 0, 0, 0, 0, 0, 0, 0]));
  for (const [, make] of zoo) assert.throws(() => make({}).run(init, bad), NonFiniteError);
  const { state } = new LevenbergMarquardt({ residualFun: residuals, throwOnDiverge: false }).run(init, bad);
  assert.equal(state.status, "diverged");
});

test("maxIter: 0 returns init; bad options throw", () => {
  for (const [, make] of zoo) {
    const { params, state } = make({ maxIter: 0 }).run(init, y);
    assert.equal(params, init);
    assert.equal(state.status, "maxIterReached");
  }
  assert.throws(
    () => new LevenbergMarquardt({ residualFun: residuals, tau: 0 }),
    /LevenbergMarquardt: tau must be positive/,
  );
  assert.throws(
    () => new LevenbergMarquardt({ residualFun: residuals, geodesicAcceleration: { alpha: 2 } }),
    /geodesicAcceleration.alpha must be in \(0, 1\)/,
  );
  assert.throws(
    () => new GaussNewton({ residualFun: 3 as never }),
    /GaussNewton: options\.residualFun must be a function/,
  );
});
