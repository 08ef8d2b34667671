import { test, describe } from "node:test";
import assert from "node:assert/strict";
import {
  LBFGSB,
  jacfwd,
  jacrev,
  linalg,
  tensor,
  sum,
  square,
  sub,
  mul,
  matmul,
  take,
  Tensor,
  ShapeError,
  TreeMismatchError,
  ValueError,
} from "../src/index.js";
import { assertClose, randn, rng } from "./helpers.js";

const rosen = (x: Tensor) =>
  square(sub(1, x.at(0).get())).add(mul(100, square(sub(x.at(1).get(), square(x.at(0).get())))));

test("LBFGSB on Rosenbrock from (−1.2, 1), unbounded and with an active bound", () => {
  const solver = new LBFGSB({ fun: rosen, tol: 1e-10 });
  const free = solver.run(tensor([-1.2, 1]), [-Infinity, Infinity]);
  assert.equal(free.state.status, "converged");
  assertClose(free.params, [1, 1], { atol: 1e-9 });
  const boxed = solver.run(tensor([-1.2, 1]), [tensor([-2, -2]), tensor([0.8, 2])]);
  assert.equal(boxed.state.status, "converged");
  assertClose(boxed.params, [0.8, 0.64], { atol: 1e-9 });
});

test("Jacobian of the argmin of a parametric Rosenbrock in an inactive box, forward and reverse", () => {
  // (a − x₀)² + b(x₁ − x₀²)² has its minimiser (a, a²) inside the box: ∂x*/∂(a, b) = [[1, 0], [2a, 0]].
  const f = (x: Tensor, th: Tensor) =>
    square(sub(th.at(0).get(), x.at(0).get())).add(
      mul(th.at(1).get(), square(sub(x.at(1).get(), square(x.at(0).get())))),
    );
  const solver = new LBFGSB({ fun: f, tol: 1e-10, maxIter: 1000 });
  const argmin = (th: Tensor) => solver.run(tensor([-1.2, 1]), [tensor([-2, -1]), tensor([2, 3])], th).params as Tensor;
  for (const jac of [jacfwd, jacrev])
    assertClose(jac(argmin)(tensor([1.5, 50])) as Tensor, [1, 0, 3, 0], { atol: 1e-7 });
});

describe("box-constrained quadratic with active bounds", () => {
  const r = rng(17);
  const n = 6;
  const M = randn(r, [n, n]);
  const Q = matmul(M.T, M).add(linalg.diagonal(tensor(new Float64Array(n).fill(1))).materialize());
  const c = randn(r, [n]).mul(3);
  const lower = tensor([-0.5, -0.5, -0.5, -Infinity, -1, -0.5]);
  const upper = tensor([0.5, 0.5, Infinity, 0.5, 1, 0.5]);
  const fun = (x: Tensor, c: Tensor) =>
    sum(mul(x, matmul(Q, x)))
      .mul(0.5)
      .add(sum(mul(c, x)));
  const solver = new LBFGSB({ fun, tol: 1e-11, maxIter: 500 });
  const init = tensor(new Float64Array(n));
  const { params: xs, state } = solver.run(init, [lower, upper], c);
  const x = xs as Tensor;
  // The active set of the solution, and the closed form given it: x_A at its bound, Q_FF x_F = −(c_F + Q_FA x_A).
  const atLower = [...x.data].map((v, i) => Math.abs(v - lower.data[i]!) < 1e-9);
  const atUpper = [...x.data].map((v, i) => Math.abs(v - upper.data[i]!) < 1e-9);
  const F = [...Array(n).keys()].filter((i) => !atLower[i] && !atUpper[i]);
  const A = [...Array(n).keys()].filter((i) => atLower[i] || atUpper[i]);
  const closedForm = (c: Tensor, lo: Tensor, hi: Tensor): Tensor => {
    const xA = A.map((i) => (atLower[i] ? take(lo, [i]) : take(hi, [i])));
    const QFF = take(take(Q, F, 0), F, 1);
    const QFA = take(take(Q, F, 0), A, 1);
    const xAt = xA.reduce(
      (acc, v, k) => acc.add(mul(v, tensor(A.map((_, j) => (j === k ? 1 : 0))))),
      tensor(new Float64Array(A.length)),
    );
    const xF = linalg.solve(QFF, take(c, F).add(matmul(QFA, xAt)).neg());
    let out = tensor(new Float64Array(n));
    F.forEach(
      (i, k) => (out = out.add(mul(take(xF, [k]), tensor([...Array(n).keys()].map((j) => (j === i ? 1 : 0)))))),
    );
    A.forEach(
      (i, k) => (out = out.add(mul(take(xAt, [k]), tensor([...Array(n).keys()].map((j) => (j === i ? 1 : 0)))))),
    );
    return out;
  };

  test("converges with some bounds active, to the closed form", () => {
    assert.equal(state.status, "converged", state.message);
    assert.ok(A.length >= 2 && F.length >= 2, `active ${A}, free ${F}`);
    assertClose(x, closedForm(c, lower, upper), { atol: 1e-9 });
  });

  test("derivatives with respect to the data and the bounds, forward and reverse", () => {
    const byC = (cc: Tensor) => solver.run(init, [lower, upper], cc).params as Tensor;
    const byLower = (lo: Tensor) => solver.run(init, [lo, upper], c).params as Tensor;
    const byUpper = (hi: Tensor) => solver.run(init, [lower, hi], c).params as Tensor;
    const expectC = jacfwd((cc: Tensor) => closedForm(cc, lower, upper))(c) as Tensor;
    const expectLo = jacfwd((lo: Tensor) => closedForm(c, lo, upper))(lower) as Tensor;
    const expectHi = jacfwd((hi: Tensor) => closedForm(c, lower, hi))(upper) as Tensor;
    assert.ok(expectLo.abs().sum().item() > 0.5 && expectHi.abs().sum().item() > 0.5);
    for (const jac of [jacfwd, jacrev]) {
      assertClose(jac(byC)(c) as Tensor, expectC, { atol: 1e-8 });
      assertClose(jac(byLower)(lower) as Tensor, expectLo, { atol: 1e-8 });
      assertClose(jac(byUpper)(upper) as Tensor, expectHi, { atol: 1e-8 });
    }
  });

  test("the unrolled derivative approaches the implicit one as iterations grow", () => {
    const implicit = jacrev((hi: Tensor) => solver.run(init, [lower, hi], c).params as Tensor)(upper) as Tensor;
    const errs = [3, 10, 60].map((k) => {
      const s = new LBFGSB({ fun, maxIter: k, tol: 0, implicitDiff: false });
      const J = jacrev((hi: Tensor) => s.run(init, [lower, hi], c).params as Tensor)(upper) as Tensor;
      return J.sub(implicit).abs().max().item();
    });
    assert.ok(errs[2]! < 1e-8 && errs[2]! <= errs[0]!, `${errs}`);
  });
});

test("pytree params, per-leaf and shared bounds", () => {
  const f = (p: { a: Tensor; b: Tensor[] }) => sum(square(sub(p.a, 2))).add(sum(square(p.b[0]!.add(3))));
  const solver = new LBFGSB({ fun: f, tol: 1e-10 });
  const init = { a: tensor([0, 0]), b: [tensor(0)] };
  const perLeaf = solver.run(init, [
    { a: tensor([0, -Infinity]), b: [tensor(-1)] },
    { a: tensor(1), b: [tensor(1)] },
  ]);
  assertClose(perLeaf.params.a, [1, 1]);
  assertClose(perLeaf.params.b[0], -1);
  const shared = solver.run(init, [-1, 1.5]);
  assertClose(shared.params.a, [1.5, 1.5]);
  assertClose(shared.params.b[0], -1);
});

test("bad bounds throw typed errors; maxIter: 0 returns the projected init", () => {
  const f = (x: Tensor) => sum(square(x));
  const solver = new LBFGSB({ fun: f });
  assert.throws(() => solver.run(tensor([0, 0]), [tensor([1, 0]), tensor([0, 1])]), /LBFGSB.run: lower > upper/);
  assert.throws(() => solver.run(tensor([0, 0]), [tensor([0, 0, 0]), 1]), ShapeError);
  assert.throws(() => solver.run({ a: tensor(0), b: tensor(0) }, [[0, 0, 0], 1]), TreeMismatchError);
  assert.throws(() => solver.run(tensor([0, 0]), tensor([0, 1]) as never), ValueError);
  const { params, state } = new LBFGSB({ fun: f, maxIter: 0 }).run(tensor([3, 0.5]), [0, 1]);
  assert.equal(state.status, "maxIterReached");
  assertClose(params, [1, 0.5]);
});
