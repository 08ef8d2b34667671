import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  Tensor,
  tensor,
  prox,
  projection,
  sum,
  sin,
  mul,
  grad,
  hessian,
  jacrev,
  ValueError,
  ShapeError,
} from "../src/index.js";
import { assertClose, checkDerivatives, numericJacobian, randn, rng } from "./helpers.js";

const r = rng(99);

/** Minimises a convex 1-D function on [lo, hi] by golden-section search. */
function goldenMin(h: (y: number) => number, lo: number, hi: number): number {
  const g = (Math.sqrt(5) - 1) / 2;
  let a = lo;
  let b = hi;
  for (let it = 0; it < 200; it++) {
    const c = b - g * (b - a);
    const d = a + g * (b - a);
    if (h(c) <= h(d)) b = d;
    else a = c;
  }
  return 0.5 * (a + b);
}

/**
 * Checks a separable prox against its definition, coordinate by coordinate: y = prox(x) minimises
 * ½(y − x)² + s·g(y); it matches a fine 1-D search and no searched point has a lower objective.
 */
function checkSeparableProx(name: string, y: Tensor, x: Tensor, s: number, g: (v: number, i: number) => number): void {
  for (let i = 0; i < x.size; i++) {
    const xi = x.data[i]!;
    const h = (v: number) => 0.5 * (v - xi) ** 2 + s * g(v, i);
    const best = goldenMin(h, xi - 20, xi + 20);
    assertClose(y.data[i]!, best, { atol: 1e-6, rtol: 0 }, `${name} coordinate ${i}`);
    assert.ok(h(y.data[i]!) <= h(best) + 1e-14, `${name} coordinate ${i}: the search found a lower objective`);
  }
}

const x = tensor([-2.3, -0.6, -0.1, 0.35, 0.9, 1.7, 3.2]);

describe("separable prox operators against their definition", () => {
  test("none, lasso, nonNegativeLasso", () => {
    assert.deepEqual(prox.none(x).toArray(), x.toArray());
    const lam = tensor([0.5, 1, 0.2, 0.1, 1, 0.4, 2]);
    checkSeparableProx("lasso", prox.lasso(x, lam, 1.5), x, 1.5, (v, i) => lam.data[i]! * Math.abs(v));
    checkSeparableProx("lasso scalar", prox.lasso(x, 0.4), x, 1, (v) => 0.4 * Math.abs(v));
    const nn = (v: number) => (v < 0 ? Infinity : 0.3 * v);
    checkSeparableProx("nonNegativeLasso", prox.nonNegativeLasso(x, 0.3, 2), x, 2, nn);
  });

  test("elasticNet (JAXopt's g = l1reg·(‖y‖₁ + ½·l2reg·‖y‖²)), ridge, nonNegativeRidge", () => {
    const [l1, l2] = [0.6, 1.5];
    checkSeparableProx(
      "elasticNet",
      prox.elasticNet(x, [l1, l2], 0.7),
      x,
      0.7,
      (v) => l1 * (Math.abs(v) + 0.5 * l2 * v * v),
    );
    checkSeparableProx("ridge", prox.ridge(x, 2, 0.5), x, 0.5, (v) => v * v);
    const nnr = (v: number) => (v < 0 ? Infinity : 0.5 * 3 * v * v);
    checkSeparableProx("nonNegativeRidge", prox.nonNegativeRidge(x, 3), x, 1, nnr);
  });

  test("groupLasso: optimality y − x + c·y/‖y‖ = 0 outside the ball, zero inside", () => {
    const v = randn(r, [5]);
    const norm = Math.sqrt(v.data.reduce((s, a) => s + a * a, 0));
    const c = 0.4 * norm;
    const y = prox.groupLasso(v, 0.8 * norm, 0.5);
    const ny = Math.sqrt(y.data.reduce((s, a) => s + a * a, 0));
    for (let i = 0; i < 5; i++) assertClose(y.data[i]! - v.data[i]! + (c * y.data[i]!) / ny, 0, { atol: 1e-14 });
    const objective = (u: ArrayLike<number>) =>
      0.5 * Array.from(u).reduce((s, a, i) => s + (a - v.data[i]!) ** 2, 0) +
      c * Math.sqrt(Array.from(u).reduce((s, a) => s + a * a, 0));
    for (let k = 0; k < 20; k++) {
      const z = y.data.map((a) => a + 0.01 * r.normal());
      assert.ok(objective(y.data) <= objective(z) + 1e-15);
    }
    assert.deepEqual(prox.groupLasso(v, 1.1 * norm).toArray(), [0, 0, 0, 0, 0]);
  });

  test("fromProjection: the prox of an indicator is the projection, for every scaling", () => {
    const proxSimplex = prox.fromProjection(projection.simplex);
    assertClose(proxSimplex(x, [2], 0.1), projection.simplex(x, 2), { atol: 0 });
    assertClose(proxSimplex(x, undefined, 5), projection.simplex(x), { atol: 0 });
    const proxBox = prox.fromProjection(projection.box);
    assertClose(proxBox(x, [-1, 1]), projection.box(x, -1, 1), { atol: 0 });
    checkDerivatives((v, lo) => proxBox(v, [lo, 1.5], 3), [x, tensor(-1)]);
  });
});

describe("prox Jacobians", () => {
  test("lasso: diag(1[|x| > λs]) in x, −sign(x)·s·1[|x| > λs] in λ, and finite differences for all arguments", () => {
    const J = jacrev((v: Tensor) => prox.lasso(v, 0.5, 1))(x) as Tensor;
    const active = Array.from(x.data, (v) => (Math.abs(v) > 0.5 ? 1 : 0));
    const expected = active.flatMap((a, i) => active.map((_, j) => (i === j ? a : 0)));
    assertClose(J.data, expected, { atol: 0 });
    const Jl = jacrev((l: Tensor) => prox.lasso(x, l, 2))(tensor(0.5)) as Tensor;
    assertClose(
      Jl.data,
      Array.from(x.data, (v) => -Math.sign(v) * 2 * (Math.abs(v) > 1 ? 1 : 0)),
      { atol: 0 },
    );
    checkDerivatives((v, l, s) => prox.lasso(v, l, s), [x, tensor([0.5, 1, 0.2, 0.1, 1, 0.4, 2]), tensor(0.8)]);
    checkDerivatives((v, l, s) => prox.nonNegativeLasso(v, l, s), [x, tensor(0.3), tensor(1.2)]);
  });

  test("elasticNet, ridge, nonNegativeRidge, groupLasso: finite differences, and second derivatives", () => {
    checkDerivatives((v, a, b, s) => prox.elasticNet(v, [a, b], s), [x, tensor(0.6), tensor(1.5), tensor(0.7)]);
    checkDerivatives((v, l, s) => prox.ridge(v, l, s), [x, tensor(2), tensor(0.5)]);
    checkDerivatives((v, l, s) => prox.nonNegativeRidge(v, l, s), [x, tensor(2), tensor(0.5)]);
    const v = tensor([1.2, -0.7, 2.1]);
    checkDerivatives((u, l, s) => prox.groupLasso(u, l, s), [v, tensor(0.9), tensor(1.1)]);
    const f = (u: Tensor) => sum(sin(mul(prox.groupLasso(u, 0.9), tensor([1, 2, 3]))));
    assertClose(
      (hessian(f)(v) as Tensor).data,
      numericJacobian((u) => grad(f)(u) as Tensor, [v]),
      { rtol: 1e-5, atol: 1e-7 },
    );
    // Closed form of the group-lasso Jacobian: (1 − c/‖x‖)I + c·xxᵀ/‖x‖³.
    const n = Math.hypot(...v.data);
    const c = 0.9;
    const expected: number[] = [];
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 3; j++) expected.push((i === j ? 1 - c / n : 0) + (c * v.data[i]! * v.data[j]!) / n ** 3);
    assertClose((jacrev((u: Tensor) => prox.groupLasso(u, c))(v) as Tensor).data, expected, { atol: 1e-15 });
  });
});

describe("prox errors", () => {
  test("negative strengths, bad shapes and bad hyperparameters raise typed errors", () => {
    assert.throws(() => prox.lasso(x, -1), ValueError);
    assert.throws(() => prox.ridge(x, 1, -2), ValueError);
    assert.throws(() => prox.lasso(x, tensor([1, 2])), ShapeError);
    assert.throws(() => prox.groupLasso(x, tensor([1, 2])), ShapeError);
    assert.throws(() => prox.elasticNet(x, [1] as unknown as [number, number]), ValueError);
  });
});
