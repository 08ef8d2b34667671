import { test } from "node:test";
import assert from "node:assert/strict";
import {
  customRoot,
  customFixedPoint,
  grad,
  vmap,
  tensor,
  sub,
  mul,
  add,
  cos,
  sum,
  GradientDescent,
  objective,
  NonFiniteError,
  type Tensor,
} from "../src/index.js";

// x*(a) = √a as the root of x² − a, by Newton's method on plain numbers: NaN for a < 0.
const sqrtOf = customRoot((x: Tensor, a: Tensor) => sub(mul(x, x), a))((init: Tensor, a: Tensor) => {
  let x = init.item();
  for (let i = 0; i < 60; i++) x = 0.5 * (x + a.item() / x);
  return tensor(Math.sqrt(a.item()) * Math.sign(x));
});

test("customRoot: a solver returning NaN is a NonFiniteError, not a silent NaN (eager, under grad, under vmap)", () => {
  assert.equal(sqrtOf(tensor(1), tensor(4)).item(), 2);
  assert.throws(
    () => sqrtOf(tensor(1), tensor(-9)),
    (e: unknown) => {
      assert.ok(e instanceof NonFiniteError);
      assert.match((e as Error).message, /customRoot: the solver returned a non-finite solution/);
      return true;
    },
  );
  assert.throws(() => grad((a: Tensor) => sqrtOf(tensor(1), a))(tensor(-9)), NonFiniteError);
  assert.throws(
    () => vmap((a: Tensor) => sqrtOf(tensor(1), a))(tensor([4, -9, 1])),
    (e: unknown) => e instanceof NonFiniteError && /batch element 1/.test((e as Error).message),
  );
  // the finite elements of a batch are unaffected when none fails
  assert.deepEqual(vmap((a: Tensor) => sqrtOf(tensor(1), a))(tensor([4, 9])).toArray(), [2, 3]);
});

test("customFixedPoint: an infinite solution is a NonFiniteError", () => {
  const T = (x: Tensor, theta: Tensor) => add(cos(x), theta);
  const layer = customFixedPoint(T)((_x0: Tensor, theta: Tensor) => tensor([theta.item() * Infinity]));
  assert.throws(() => layer(tensor([0]), tensor(1)), /customFixedPoint: the solver returned a non-finite solution/);
});

test("library solvers still report divergence by status with throwOnDiverge: false (not by the layer's check)", () => {
  const solver = new GradientDescent({
    fun: objective.ridgeRegression,
    stepsize: 10,
    maxIter: 200,
    throwOnDiverge: false,
  });
  const data = [
    tensor([
      [1, 0],
      [0, 2],
    ]),
    tensor([1, 2]),
  ];
  const { state } = solver.run(tensor([0, 0]), tensor(0.1), data);
  assert.equal(state.status, "diverged");
  const g = grad((lam: Tensor) => sum(solver.run(tensor([0, 0]), lam, data).params));
  // its derivative still fails loudly, on the residual of the non-root
  assert.throws(() => g(tensor(0.1)), /is not a root/);
});
