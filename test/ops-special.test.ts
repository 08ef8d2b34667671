/**
 * erf, erfc and sinc (`special.ts`): values against SciPy/NumPy and against correctly rounded values (mpmath),
 * special values, derivatives against finite differences and closed forms (sinc to the fourth order at 0), `vmap`
 * against the loop, and argument errors.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { erf, erfc, grad, hessian, jvp, sinc, tensor, vmap, ValueError, type Tensor } from "../src/index.js";
import { assertClose, checkDerivatives, randn, rng } from "./helpers.js";
import { assertTreeClose, loopRef } from "./vmap-helpers.js";
import { assertMatchesReference, decodeAll, fixtures } from "./numpy-fixtures.js";

/** The smallest normal double: below it, values are subnormal and carry fewer digits. */
const MIN_NORMAL = 2.2250738585072014e-308;

describe("erf, erfc: values", () => {
  const g = fixtures.erfGrid;
  const x = decodeAll(g.x);
  test("within 1e-15 relative of the correctly rounded values over all three of Cody's intervals", () => {
    assertMatchesReference(erf(tensor(x)).data, decodeAll(g.erfExact), { rtol: 1e-15, inputs: [x] }, "erf");
    // erfc reaches the subnormals near x = 26.6: there the absolute error is what counts.
    assertMatchesReference(
      erfc(tensor(x)).data,
      decodeAll(g.erfcExact),
      { rtol: 1e-15, atol: 1e-323, inputs: [x] },
      "erfc",
    );
  });
  test("agree with SciPy (whose erfc loses up to ~1e-13 beyond x = 20 and returns 0 below 1e-308)", () => {
    assertMatchesReference(erf(tensor(x)).data, decodeAll(g.erf), { rtol: 1e-15, inputs: [x] }, "erf");
    assertMatchesReference(
      erfc(tensor(x)).data,
      decodeAll(g.erfc),
      { rtol: 1e-13, atol: MIN_NORMAL, inputs: [x] },
      "erfc",
    );
  });
  test("special values: ±0, ±∞, NaN, huge and tiny arguments (SciPy's values)", () => {
    for (const name of ["erf", "erfc"] as const) {
      const { x: xe, y } = fixtures.unary[name];
      const xs = decodeAll(xe);
      const f = name === "erf" ? erf : erfc;
      assertMatchesReference(f(tensor(xs)).data, decodeAll(y), { rtol: 1e-15, inputs: [xs] }, name);
    }
    assert.ok(Object.is(erf(tensor([-0])).data[0], -0));
    assert.equal(erf(tensor([5e-324])).data[0], 5e-324); // (2/√π)·x rounds back to the smallest subnormal
  });
  test("erf(x) + erfc(x) = 1 and erf(−x) = −erf(x)", () => {
    const x = tensor([-3, -1, -0.3, 0, 0.2, 0.46875, 0.5, 2, 4, 4.5]);
    assertClose(erf(x).add(erfc(x)), tensor(new Array(10).fill(1)), { rtol: 2e-16, atol: 0 });
    assert.deepEqual(erf(x.neg()).toArray(), erf(x).neg().toArray());
  });
});

describe("erf, erfc: derivatives", () => {
  const x = tensor([-2.5, -0.4, 0, 0.3, 0.46875, 1.2, 4, 5.5]);
  test("closed forms ±(2/√π)e^(−x²), finite differences and the adjoint identity", () => {
    const gauss = x.data.map((v) => (2 / Math.sqrt(Math.PI)) * Math.exp(-v * v));
    assertClose(grad((v: Tensor) => erf(v).sum())(x), gauss, { rtol: 1e-15, atol: 0 });
    assertClose(
      grad((v: Tensor) => erfc(v).sum())(x),
      gauss.map((v) => -v),
      { rtol: 1e-15, atol: 0 },
    );
    checkDerivatives(erf, [x]);
    checkDerivatives(erfc, [x]);
  });
  test("second derivative −2x·(2/√π)e^(−x²)", () => {
    const h = hessian((v: Tensor) => erf(v).sum())(x).toArray() as number[][];
    x.data.forEach((v, i) => {
      assertClose(h[i]![i]!, -2 * v * (2 / Math.sqrt(Math.PI)) * Math.exp(-v * v), { rtol: 1e-14, atol: 1e-300 });
    });
  });
});

describe("sinc", () => {
  test("values against NumPy (special values, integers, tiny and huge arguments)", () => {
    const { x, y } = fixtures.unary.sinc;
    const xs = decodeAll(x);
    assertMatchesReference(sinc(tensor(xs)).data, decodeAll(y), { rtol: 1e-15, atol: 1e-16, inputs: [xs] }, "sinc");
    assert.equal(sinc(tensor([0])).item(), 1);
    assert.equal(sinc(tensor([-0])).item(), 1);
  });
  test("first derivative: the closed form (cos(πx) − sinc(x))/x away from 0, its series near 0 (to 1e-8)", () => {
    const x = tensor([-2.3, -0.5, -1e-8, 1e-3, 0.25, 0.3, 1, 3.7]);
    // Near 0 the closed form cancels; there the reference is the series of the derivative, summed directly.
    const reference = (v: number): number => {
      const t = Math.PI * v;
      if (Math.abs(t) >= 1) return (Math.cos(t) - Math.sin(t) / t) / v;
      let s = 0;
      let term = 0; // (−1)^k t^(2k−1)/(2k+1)!, the coefficient of t^(2k) differentiated, without its 2k
      for (let k = 1; k < 12; k++) {
        term = k === 1 ? -t / 6 : (-term * t * t) / (2 * k * (2 * k + 1));
        s += 2 * k * term;
      }
      return Math.PI * s;
    };
    assertClose(grad((v: Tensor) => sinc(v).sum())(x), x.data.map(reference), { rtol: 1e-14, atol: 0 });
    checkDerivatives(sinc, [x]);
  });
  test("derivatives at 0 are the exact Maclaurin coefficients to the fourth order: 0, −π²/3, 0, π⁴/5", () => {
    const d1 = (f: (v: Tensor) => Tensor) => (v: Tensor) => grad((u: Tensor) => f(u).sum())(v);
    const s = (v: Tensor) => sinc(v);
    const zero = tensor([0]);
    assert.equal(d1(s)(zero).item(), 0);
    assertClose(d1(d1(s))(zero).item(), -(Math.PI ** 2) / 3, { rtol: 1e-15, atol: 0 });
    assert.equal(d1(d1(d1(s)))(zero).item(), 0);
    assertClose(d1(d1(d1(d1(s))))(zero).item(), Math.PI ** 4 / 5, { rtol: 1e-15, atol: 0 });
    // Forward mode and the limit from either side agree.
    assert.equal(jvp(sinc, [zero], [tensor([1])])[1].item(), 0);
    assertClose(hessian((v: Tensor) => sinc(v).sum())(tensor([1e-4])).item(), -(Math.PI ** 2) / 3, { rtol: 1e-6 });
  });
});

describe("erf, erfc, sinc: vmap and errors", () => {
  test("vmap equals the loop, including a batch holding 0 for sinc and its derivative", () => {
    const x = randn(rng(5), [3, 4]);
    const withZero = tensor([
      [0, 0.5],
      [1, 0],
    ]);
    for (const f of [erf, erfc, sinc]) assertTreeClose(vmap(f)(x), loopRef(f, [x], [0]));
    assertTreeClose(vmap(sinc, { inAxes: 1 })(withZero), loopRef(sinc, [withZero], [1]));
    const g = grad((v: Tensor) => sinc(v).sum());
    assertTreeClose(vmap(g)(withZero), loopRef(g, [withZero], [0]));
  });
  test("bad arguments name the function and the argument", () => {
    for (const [name, f] of [
      ["erf", erf],
      ["erfc", erfc],
      ["sinc", sinc],
    ] as const) {
      assert.throws(
        () => f([[1], [2, 3]] as unknown as Tensor),
        (e: Error) => new RegExp(`^${name}: x: `).test(e.message),
      );
      assert.throws(() => f("1" as unknown as Tensor), ValueError);
    }
  });
});
