/**
 * `checkGrads` passes correct derivatives of pytree functions in both modes to second order, and catches wrong
 * rules at the order where they are wrong, naming the output and input entries of the worst mismatch.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  GradCheckError,
  ValueError,
  checkGrads,
  customJvp,
  customRoot,
  customVjp,
  exp,
  mul,
  sin,
  cos,
  stopGradient,
  sub,
  sum,
  tanh,
  tensor,
  type Tensor,
} from "../src/index.js";

describe("checkGrads", () => {
  test("correct derivatives of a pytree function pass to second order in both modes", () => {
    const f = (p: { w: Tensor; b: Tensor[] }, x: Tensor) => ({
      y: tanh(mul(p.w, x).add(p.b[0]!)),
      s: sum(mul(sin(p.w), exp(x))),
    });
    const args: [{ w: Tensor; b: Tensor[] }, Tensor] = [{ w: tensor([0.3, -0.7]), b: [tensor(0.2)] }, tensor([1, 0.5])];
    const report = checkGrads(f, args, { order: 2 });
    assert.ok(report.ok, JSON.stringify(report.worst));
    // 3 outputs × 5 inputs at order 1, × 5 more at order 2, in two modes
    assert.equal(report.checked, 2 * (15 + 75));
    assert.ok(report.maxRelError < 1e-6 && report.maxAbsError < 1e-8, `${report.maxRelError} ${report.maxAbsError}`);
    // argnums restricts the inputs
    assert.equal(checkGrads(f, args, { argnums: 1, modes: ["rev"] }).checked, 3 * 2);
  });

  test("a wrong forward rule fails at order 1 and is located", () => {
    const wrong = customJvp(
      (x: Tensor) => sin(x),
      ([x]: Tensor[], [t]: Tensor[]) => [sin(x), mul(cos(x), mul(t, [1, 1, 1.01]))],
    );
    const report = checkGrads((a: { x: Tensor }) => wrong(a.x), [{ x: tensor([0.1, 0.2, 0.3]) }], { modes: ["fwd"] });
    assert.equal(report.ok, false);
    const w = report.worst!;
    assert.deepEqual([w.order, w.mode, w.output, w.inputs], [1, "fwd", "out [2]", ["args[0].x [2]"]]);
    assert.ok(Math.abs(w.analytic - 1.01 * Math.cos(0.3)) < 1e-12 && Math.abs(w.numeric - Math.cos(0.3)) < 1e-8);
    assert.ok(Math.abs(w.relError - 0.01) < 1e-6);
  });

  test("a reverse rule right at order 1 but not differentiable through its residual fails at order 2 only", () => {
    // exp whose backward pass detaches the residual y = exp(x): the gradient is right, its derivative misses y'.
    const leakyExp = customVjp(
      (x: Tensor) => exp(x),
      (x: Tensor) => [exp(x), exp(x)],
      (y: Tensor, ct: Tensor) => [mul(ct, stopGradient(y))],
    );
    const f = (x: Tensor) => sum(leakyExp(x));
    const x = [tensor([0.5, -0.25])] as [Tensor];
    assert.ok(checkGrads(f, x, { order: 1 }).ok);
    const report = checkGrads(f, x, { order: 2, modes: ["rev"] });
    assert.equal(report.ok, false);
    assert.equal(report.worst!.order, 2);
    assert.equal(report.worst!.analytic, 0);
    assert.ok(Math.abs(report.worst!.numeric - Math.exp(0.5)) < 1e-6);
  });

  test("an implicit layer with a wrong optimality condition is caught", () => {
    const sqrtSolver = (_init: Tensor | undefined, a: Tensor) => tensor(Math.sqrt(a.item()));
    const right = customRoot((x: Tensor, a: Tensor) => sub(mul(x, x), a))(sqrtSolver);
    assert.ok(checkGrads((a: Tensor) => right(undefined, a), [tensor(4)], { order: 2 }).ok);
    // a condition that lost its dependence on a (the constant 4 where a should be): x* = 2 is its root at a = 4,
    // so every run passes the residual check, but the implicit derivative is 0 instead of 1/4
    const wrong = customRoot((x: Tensor, _a: Tensor) => sub(mul(x, x), 4))(sqrtSolver);
    const report = checkGrads((a: Tensor) => wrong(undefined, a), [tensor(4)]);
    assert.equal(report.ok, false);
    assert.equal(Math.abs(report.worst!.analytic), 0);
    assert.ok(Math.abs(report.worst!.numeric - 0.25) < 1e-8);
  });

  test("throwOnFailure throws a GradCheckError carrying the report and naming the entry", () => {
    const wrong = customJvp(
      (x: Tensor) => sin(x),
      ([x]: Tensor[], [t]: Tensor[]) => [sin(x), mul(cos(x), t).neg()],
    );
    assert.throws(
      () => checkGrads(wrong, [tensor(1)], { throwOnFailure: true }),
      (e: unknown) =>
        e instanceof GradCheckError &&
        !e.report.ok &&
        /^checkGrads: the order-1 derivative \(fwd mode\) of out with respect to args\[0\] is -0\.54/.test(e.message),
    );
  });

  test("non-finite derivatives fail", () => {
    const report = checkGrads((x: Tensor) => x.sqrt(), [tensor([0, 1])], { modes: ["rev"] });
    assert.equal(report.ok, false);
    assert.equal(report.maxAbsError, Infinity);
  });

  test("bad arguments", () => {
    const f = (x: Tensor) => x;
    assert.throws(() => checkGrads(f, [tensor(1)], { order: 0 }), ValueError);
    assert.throws(() => checkGrads(f, [tensor(1)], { modes: ["backward" as never] }), ValueError);
    assert.throws(() => checkGrads(f, [tensor(1)], { eps: 0 }), /eps must be a positive/);
    assert.throws(() => checkGrads(f, [tensor(1)], { tol: 1 } as never), /unknown options "tol"/);
    assert.throws(() => checkGrads(f, [tensor(1)], { argnums: [0, 0] }), /distinct/);
    assert.throws(() => checkGrads(3 as unknown as typeof f, [tensor(1)]), /checkGrads: f must be a function/);
  });
});
