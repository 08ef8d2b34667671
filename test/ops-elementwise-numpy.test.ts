/**
 * The inverse trigonometric and hyperbolic functions, log2/log10/exp2/cbrt and the binary arctan2, hypot,
 * logaddexp (`elementwise.ts`): values against NumPy (fixtures: special values, domain edges, huge and tiny
 * arguments), derivatives against finite differences and closed forms (second order too), the limits at special
 * points (logaddexp with ±∞, hypot and arctan2 at the origin), `vmap` against the loop, and argument errors.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  arccos,
  arccosh,
  arcsin,
  arctan2,
  arctanh,
  cbrt,
  exp2,
  grad,
  hessian,
  hypot,
  jvp,
  log10,
  log2,
  logaddexp,
  tensor,
  vmap,
  ShapeError,
  ValueError,
  type Tensor,
} from "../src/index.js";
import { assertClose, checkDerivatives, randn, rng } from "./helpers.js";
import { assertTreeClose, loopRef } from "./vmap-helpers.js";
import { assertMatchesReference, decodeAll, fixtures } from "./numpy-fixtures.js";

const UNARY: Record<string, (x: Tensor) => Tensor> = { arcsin, arccos, arccosh, arctanh, log2, log10, exp2, cbrt };
const BINARY: Record<string, (a: Tensor, b: Tensor) => Tensor> = { arctan2, hypot, logaddexp };

/** JavaScript's Math and C's libm may differ in the last bit: two ulps of slack. */
const ULPS = 4.5e-16;

describe("values against NumPy", () => {
  for (const [name, f] of Object.entries(UNARY)) {
    test(name, () => {
      const { x, y } = fixtures.unary[name];
      const xs = decodeAll(x);
      assertMatchesReference(f(tensor(xs)).data, decodeAll(y), { rtol: ULPS, inputs: [xs] }, name);
    });
  }
  for (const [name, f] of Object.entries(BINARY)) {
    test(`${name} (grid of ±0, ±∞, NaN, huge and tiny values)`, () => {
      const { a, b, y } = fixtures.binary[name];
      const [as, bs] = [decodeAll(a), decodeAll(b)];
      assertMatchesReference(f(tensor(as), tensor(bs)).data, decodeAll(y), { rtol: ULPS, inputs: [as, bs] }, name);
    });
    test(`${name} (random values)`, () => {
      const r = fixtures.binaryRandom;
      const [as, bs] = [decodeAll(r.a), decodeAll(r.b)];
      assertMatchesReference(
        f(tensor(as), tensor(bs)).data,
        decodeAll(r[name]),
        { rtol: ULPS, inputs: [as, bs] },
        name,
      );
    });
  }
  test("exp2 is exact at integers; logaddexp does not overflow", () => {
    assert.deepEqual(exp2(tensor([-1074, -1, 0, 10, 1023])).toArray(), [5e-324, 0.5, 1, 1024, 2 ** 1023]);
    assert.equal(logaddexp(tensor([1000]), tensor([999])).item(), 1000 + Math.log1p(Math.exp(-1)));
  });
});

describe("derivatives", () => {
  const inside = tensor([-0.9, -0.3, 0.1, 0.6, 0.95]);
  test("closed forms of the unary rules", () => {
    const d = (f: (x: Tensor) => Tensor, x: Tensor) => grad((v: Tensor) => f(v).sum())(x).data;
    const v = inside.data;
    assertClose(
      d(arcsin, inside),
      v.map((t) => 1 / Math.sqrt(1 - t * t)),
      { rtol: 1e-15, atol: 0 },
    );
    assertClose(
      d(arccos, inside),
      v.map((t) => -1 / Math.sqrt(1 - t * t)),
      { rtol: 1e-15, atol: 0 },
    );
    assertClose(
      d(arctanh, inside),
      v.map((t) => 1 / (1 - t * t)),
      { rtol: 1e-15, atol: 0 },
    );
    const big = tensor([1.5, 2, 10, 1e5]);
    assertClose(
      d(arccosh, big),
      big.data.map((t) => 1 / Math.sqrt(t * t - 1)),
      { rtol: 1e-15, atol: 0 },
    );
    assertClose(
      d(log2, big),
      big.data.map((t) => 1 / (t * Math.LN2)),
      { rtol: 1e-15, atol: 0 },
    );
    assertClose(
      d(log10, big),
      big.data.map((t) => 1 / (t * Math.LN10)),
      { rtol: 1e-15, atol: 0 },
    );
    assertClose(
      d(exp2, inside),
      v.map((t) => 2 ** t * Math.LN2),
      { rtol: 1e-15, atol: 0 },
    );
    assertClose(d(cbrt, tensor([-8, 27])), [1 / 12, 1 / 27], { rtol: 1e-15, atol: 0 });
  });
  test("near the edges of the domain, 1 − x² is formed without cancellation", () => {
    const x = tensor([1 - 2 ** -40]);
    const exact = 1 / Math.sqrt(2 ** -40 * (2 - 2 ** -40));
    assertClose(grad((v: Tensor) => arcsin(v).sum())(x).item(), exact, { rtol: 1e-15, atol: 0 });
    assert.equal(grad((v: Tensor) => arcsin(v).sum())(tensor([1])).item(), Infinity);
  });
  test("finite differences (first order, adjoint identity) and second order", () => {
    for (const [name, f] of Object.entries(UNARY)) {
      const x = name === "arccosh" ? tensor([1.5, 2, 7]) : name.startsWith("log") ? tensor([0.3, 2, 7]) : inside;
      checkDerivatives(f, [x], {}, name);
      checkDerivatives((v) => grad((u: Tensor) => f(u).sum())(v), [x], {}, `${name}''`);
    }
    const a = tensor([0.5, -1.2, 3, -2]);
    const b = tensor([-0.7, 2, 0.4, -1.5]);
    for (const [name, f] of Object.entries(BINARY)) {
      checkDerivatives(f, [a, b], {}, name);
      checkDerivatives((u, v) => grad((p: Tensor, q: Tensor) => f(p, q).sum())(u, v), [a, b], {}, `${name}''`);
    }
  });
  test("arctan2 and hypot: closed forms, no overflow at 1e200; subgradient 0 at the origin, never NaN", () => {
    const [gy, gx] = grad((y: Tensor, x: Tensor) => arctan2(y, x).sum(), { argnums: [0, 1] })(
      tensor([1, 1e200, 0]),
      tensor([2, 1e200, 0]),
    );
    assertClose(gy, [2 / 5, 0.5e-200, 0], { rtol: 1e-15, atol: 0 });
    assertClose(gx, [-1 / 5, -0.5e-200, 0], { rtol: 1e-15, atol: 0 });
    const [ha, hb] = grad((a: Tensor, b: Tensor) => hypot(a, b).sum(), { argnums: [0, 1] })(
      tensor([3, 0, 1e-300]),
      tensor([4, 0, 0]),
    );
    assert.deepEqual(
      [ha.toArray(), hb.toArray()],
      [
        [0.6, 0, 1],
        [0.8, 0, 0],
      ],
    );
    const h = hessian((a: Tensor) => hypot(a, tensor(0)).sum())(tensor([0]));
    assert.ok(!Number.isNaN(h.item()));
  });
  test("arctan2 and hypot at infinite arguments: the derivatives' limits, not ∞/∞", () => {
    const a = tensor([Infinity, -Infinity, 3, Infinity, -Infinity, 2]);
    const b = tensor([1, 2, Infinity, Infinity, Infinity, -Infinity]);
    const [ha, hb] = grad((p: Tensor, q: Tensor) => hypot(p, q).sum(), { argnums: [0, 1] })(a, b);
    // a/hypot → sign(a) when only a is infinite, 0 when only b is; ±1/√2 along the diagonal.
    const s = Math.SQRT1_2;
    assert.deepEqual(ha.toArray(), [1, -1, 0, s, -s, 0]);
    assert.deepEqual(hb.toArray(), [0, 0, 1, s, s, -1]);
    const [gy, gx] = grad((y: Tensor, x: Tensor) => arctan2(y, x).sum(), { argnums: [0, 1] })(a, b);
    // x/(x² + y²) and −y/(x² + y²) → 0 as x or y grows without bound.
    for (const g of [gy, gx]) assert.deepEqual([...g.data].map(Math.abs), [0, 0, 0, 0, 0, 0]);
    const second = hessian((p: Tensor) => hypot(p, tensor(1)).sum())(tensor([Infinity]));
    assert.ok(Number.isFinite(second.item()));
  });
  test("logaddexp: derivatives σ(a − b), with the limits at ±∞ (½ at a = b = ±∞)", () => {
    const a = tensor([0, -Infinity, -Infinity, Infinity, Infinity, 3, 1000]);
    const b = tensor([0, 0, -Infinity, Infinity, 5, -Infinity, 999]);
    const [ga, gb] = grad((p: Tensor, q: Tensor) => logaddexp(p, q).sum(), { argnums: [0, 1] })(a, b);
    const s = 1 / (1 + Math.exp(-1));
    assertClose(ga, [0.5, 0, 0.5, 0.5, 1, 1, s], { rtol: 1e-15, atol: 0 });
    assertClose(gb, [0.5, 1, 0.5, 0.5, 0, 0, 1 - s], { rtol: 1e-15, atol: 1e-300 });
    // At a tie the second derivative is σ'(0) = 1/4 (the gap a − b is kept differentiable there).
    assertClose(hessian((p: Tensor) => logaddexp(p, tensor(2)).sum())(tensor([2])).item(), 0.25, { rtol: 1e-15 });
    assert.equal(jvp((p: Tensor) => logaddexp(p, tensor(-Infinity)), [tensor(1)], [tensor(1)])[1].item(), 1);
  });
});

describe("vmap and errors", () => {
  test("vmap equals the loop (unary; binary with either argument batched, broadcasting)", () => {
    const r = rng(11);
    const x = randn(r, [3, 4]).mul(0.5);
    const pos = x.abs().add(1.1);
    for (const [name, f] of Object.entries(UNARY)) {
      const arg = name === "arccosh" || name.startsWith("log") ? pos : x;
      assertTreeClose(vmap(f)(arg), loopRef(f, [arg], [0]));
    }
    const y = randn(r, [4]);
    for (const f of Object.values(BINARY)) {
      assertTreeClose(vmap(f, { inAxes: [0, null] })(x, y), loopRef(f, [x, y], [0, null]));
      assertTreeClose(vmap(f, { inAxes: [1, 0] })(x, y), loopRef(f, [x, y], [1, 0]));
    }
  });
  test("errors name the function and the argument", () => {
    assert.throws(
      () => arctan2(tensor([1]), "x" as unknown as Tensor),
      (e: Error) => e instanceof ValueError && /^arctan2: x: /.test(e.message),
    );
    assert.throws(
      () => arctan2("y" as unknown as Tensor, tensor([1])),
      (e: Error) => e instanceof ValueError && /^arctan2: y: /.test(e.message),
    );
    assert.throws(
      () => hypot(tensor([1, 2]), tensor([1, 2, 3])),
      (e: Error) => e instanceof ShapeError && /hypot/.test(e.message),
    );
    assert.throws(
      () => log2([[1], [1, 2]] as unknown as Tensor),
      (e: Error) => /^log2: x: /.test(e.message),
    );
  });
});
