/**
 * Rounding, integer division and the NaN/∞ tests (`rounding.ts`, `isnan`…): values against NumPy (fixtures, exact,
 * signs of zero included), zero derivatives for the piecewise-constant ops, `mod`'s derivatives against finite
 * differences and their closed forms, `vmap` against the loop, and argument errors.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  ceil,
  floor,
  floorDivide,
  grad,
  hessian,
  isfinite,
  isinf,
  isnan,
  jvp,
  mod,
  remainder,
  round,
  tensor,
  trunc,
  vmap,
  ValueError,
  type Tensor,
} from "../src/index.js";
import { assertClose, checkDerivatives, rng, randn } from "./helpers.js";
import { assertTreeClose, loopRef } from "./vmap-helpers.js";
import { assertMatchesReference, decodeAll, fixtures } from "./numpy-fixtures.js";

const UNARY: Record<string, (x: Tensor) => Tensor> = { floor, ceil, round, trunc, isnan, isfinite, isinf };
const BINARY: Record<string, (a: Tensor, b: Tensor) => Tensor> = { mod, floorDivide };

describe("rounding and tests: values against NumPy", () => {
  for (const [name, f] of Object.entries(UNARY)) {
    test(`${name} (special values, ties, ±0, huge)`, () => {
      const { x, y } = fixtures.unary[name];
      const xs = decodeAll(x);
      assertMatchesReference(f(tensor(xs)).data, decodeAll(y), { inputs: [xs] }, name);
    });
  }
  for (const [name, f] of Object.entries(BINARY)) {
    test(`${name} (grid of special values: NumPy's divmod, exactly)`, () => {
      const { a, b, y } = fixtures.binary[name];
      const [as, bs] = [decodeAll(a), decodeAll(b)];
      assertMatchesReference(f(tensor(as), tensor(bs)).data, decodeAll(y), { inputs: [as, bs] }, name);
    });
    test(`${name} (random values over six orders of magnitude, exactly)`, () => {
      const r = fixtures.binaryRandom;
      const [as, bs] = [decodeAll(r.a), decodeAll(r.b)];
      assertMatchesReference(f(tensor(as), tensor(bs)).data, decodeAll(r[name]), { inputs: [as, bs] }, name);
    });
  }
  test("remainder is mod; round ties go to even", () => {
    assert.equal(remainder, mod);
    assert.deepEqual(
      round(tensor([-3.5, -2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5])).toArray(),
      [-4, -2, -2, -0, 0, 2, 2, 4],
    );
    assert.deepEqual(tensor([2.5, 3.5]).round().toArray(), [2, 4]);
  });
  test("mod broadcasts and keeps the divisor's sign", () => {
    assert.deepEqual(mod(tensor([[7], [-7]]), tensor([3, -3])).toArray(), [
      [1, -2],
      [2, -1],
    ]);
  });
});

describe("rounding: derivatives", () => {
  test("the piecewise-constant ops have derivative 0 everywhere (jumps included), in every mode and order", () => {
    const x = tensor([-1.5, -0.5, 0, 0.5, 0.7, 2, 2.5]);
    for (const [name, f] of Object.entries(UNARY)) {
      assert.deepEqual(grad((v: Tensor) => f(v).sum())(x).toArray(), [0, 0, 0, 0, 0, 0, 0], name);
      assert.deepEqual(jvp(f, [x], [tensor([1, 1, 1, 1, 1, 1, 1])])[1].toArray(), [0, 0, 0, 0, 0, 0, 0], name);
      assert.deepEqual(hessian((v: Tensor) => f(v).sum())(tensor([0.3])).toArray(), [[0]], name);
    }
    const [ga, gb] = grad((a: Tensor, b: Tensor) => floorDivide(a, b).sum(), { argnums: [0, 1] })(
      tensor([7.5]),
      tensor([2]),
    );
    assert.deepEqual([ga.toArray(), gb.toArray()], [[0], [0]]);
  });
  test("mod: ∂/∂a = 1 and ∂/∂b = −⌊a/b⌋ (closed form and finite differences, away from the jumps)", () => {
    const a = tensor([7.3, -7.3, 2.2, -0.4]);
    const b = tensor([3, 3, -1.5, 0.7]);
    const [ga, gb] = grad((x: Tensor, y: Tensor) => mod(x, y).sum(), { argnums: [0, 1] })(a, b);
    assert.deepEqual(ga.toArray(), [1, 1, 1, 1]);
    assertClose(gb, floorDivide(a, b).neg(), { rtol: 0, atol: 0 });
    checkDerivatives((x, y) => mod(x, y), [a, b]);
    // Second derivatives: mod is piecewise linear in a and in b.
    assert.deepEqual(Array.from(hessian((x: Tensor) => mod(x, b).sum())(a).data), new Array(16).fill(0));
  });
});

describe("rounding: vmap and errors", () => {
  test("vmap of each op equals the loop", () => {
    const r = rng(3);
    const x = randn(r, [4, 3]).mul(3);
    const y = randn(r, [3]).add(4);
    for (const f of Object.values(UNARY)) assertTreeClose(vmap(f)(x), loopRef(f, [x], [0]));
    for (const f of Object.values(BINARY)) {
      assertTreeClose(vmap(f, { inAxes: [0, null] })(x, y), loopRef(f, [x, y], [0, null]));
      assertTreeClose(vmap(f, { inAxes: [1, 0] })(x, y.reshape([3])), loopRef(f, [x, y], [1, 0]));
    }
  });
  test("bad arguments name the function and the argument", () => {
    assert.throws(
      () => floor("x" as unknown as Tensor),
      (e: Error) => e instanceof ValueError && /^floor: x: /.test(e.message),
    );
    assert.throws(
      () => mod(tensor([1]), "b" as unknown as Tensor),
      (e: Error) => e instanceof ValueError && /^mod: b: /.test(e.message),
    );
    assert.throws(() => floorDivide(tensor([1, 2]), tensor([1, 2, 3])), /floorDivide/);
  });
});
