/**
 * Special functions: `erf`, `erfc` and NumPy's normalised `sinc`.
 *
 * `erf` and `erfc` are W. J. Cody's rational Chebyshev approximations ("Rational Chebyshev approximations for
 * the error function", Mathematics of Computation 23 (1969), 631–637; the coefficients of his SPECFUN routine
 * CALERF, netlib.org/specfun/erf), good to about 1e-16 relative in float64 on three intervals of |x|:
 * erf(x) = x·R₁(x²) up to 0.46875; erfc(x) = e^(−x²)·R₂(x) up to 4; erfc(x) = e^(−x²)/x·(1/√π − R₃(1/x²))/…
 * beyond. e^(−x²) is formed as e^(−s²)·e^(−(x−s)(x+s)) with s = x rounded down to 1/16, so that its argument is
 * exact and erfc keeps its relative accuracy deep into the tail (erfc(26) ≈ 5.7e-296). Derivatives:
 * d erf/dx = (2/√π)·e^(−x²) = −d erfc/dx.
 *
 * `sinc(x) = sin(πx)/(πx)` with its limit 1 at 0: near 0 its Taylor series, elsewhere the quotient, so that
 * derivatives of every order are accurate near 0 and exact at 0.
 * @module
 */
import { Tensor, asTensorArg, scalar, type TensorLike } from "../tensor.js";
import { abs, add, div, exp, less, mul, neg, sin, square, unary, unaryPrimitive, where } from "./elementwise.js";

/** Cody's coefficients (CALERF's A, B; C, D; P, Q), written as the doubles his 18 published digits round to. */
const A = [3.1611237438705655, 113.86415415105016, 377.485237685302, 3209.3775891384694, 0.18577770618460315];
const B = [23.601290952344122, 244.02463793444417, 1282.6165260773723, 2844.236833439171];
const C = [
  0.5641884969886701, 8.883149794388377, 66.11919063714163, 298.6351381974001, 881.952221241769, 1712.0476126340707,
  2051.0783778260716, 1230.3393547979972, 2.1531153547440383e-8,
];
const D = [
  15.744926110709835, 117.6939508913125, 537.1811018620099, 1621.3895745666903, 3290.7992357334597, 4362.619090143247,
  3439.3676741437216, 1230.3393548037495,
];
const P = [
  0.30532663496123236, 0.36034489994980445, 0.12578172611122926, 0.016083785148742275, 0.0006587491615298378,
  0.016315387137302097,
];
const Q = [2.568520192289822, 1.8729528499234604, 0.5279051029514285, 0.06051834131244132, 0.0023352049762686918];
/** 1/√π */
const SQRPI = 0.5641895835477563;
/** Below this |x|, x² is dropped from R₁ (it no longer changes the sum). */
const XSMALL = 1.11e-16;
/** Beyond this |x|, erfc(x) < 1e-320 rounds to 0 (and e^(−x²) would be formed from ∞ − ∞ for x = ∞). */
const XZERO = 27.3;

/** erf(x) for |x| ≤ 0.46875. */
function erfSmall(x: number): number {
  const y = Math.abs(x);
  const ysq = y > XSMALL ? y * y : 0;
  let num = A[4]! * ysq;
  let den = ysq;
  for (let i = 0; i < 3; i++) {
    num = (num + A[i]!) * ysq;
    den = (den + B[i]!) * ysq;
  }
  return (x * (num + A[3]!)) / (den + B[3]!);
}

/** erfc(y) for y > 0.46875. */
function erfcPositive(y: number): number {
  if (y >= XZERO) return 0;
  let r: number;
  if (y <= 4) {
    let num = C[8]! * y;
    let den = y;
    for (let i = 0; i < 7; i++) {
      num = (num + C[i]!) * y;
      den = (den + D[i]!) * y;
    }
    r = (num + C[7]!) / (den + D[7]!);
  } else {
    const z = 1 / (y * y);
    let num = P[5]! * z;
    let den = z;
    for (let i = 0; i < 4; i++) {
      num = (num + P[i]!) * z;
      den = (den + Q[i]!) * z;
    }
    r = (SQRPI - (z * (num + P[4]!)) / (den + Q[4]!)) / y;
  }
  const s = Math.trunc(16 * y) / 16;
  return Math.exp(-s * s) * Math.exp(-(y - s) * (y + s)) * r;
}

function erfKernel(x: number): number {
  const y = Math.abs(x);
  if (y <= 0.46875) return erfSmall(x);
  if (y !== y) return x;
  const v = 1 - erfcPositive(y);
  return x < 0 ? -v : v;
}

function erfcKernel(x: number): number {
  const y = Math.abs(x);
  if (y <= 0.46875) return 1 - erfSmall(x);
  if (y !== y) return x;
  const v = erfcPositive(y);
  return x < 0 ? 2 - v : v;
}

/** 2/√π */
const TWO_OVER_SQRT_PI = 2 * SQRPI;

/** (2/√π)·e^(−x²), the derivative of erf. */
const gaussian = (x: Tensor): Tensor => mul(exp(neg(square(x))), TWO_OVER_SQRT_PI);

/**
 * Elementwise error function (2/√π)∫₀ˣ e^(−t²) dt, to about 1e-16 relative (Cody 1969); derivative
 * (2/√π)·e^(−x²).
 * @example
 * ```ts
 * import { erf, tensor } from "diffopt";
 * erf(tensor([0, 1, -Infinity])).toArray(); // [0, 0.8427007929497148, -1]
 * ```
 */
export const erf = unary(unaryPrimitive("erf", erfKernel, gaussian));

/**
 * Elementwise complementary error function 1 − erf(x), accurate (about 1e-16 relative) where 1 − erf(x) would
 * cancel: erfc(10) ≈ 2.1e-45; derivative −(2/√π)·e^(−x²).
 * @example
 * ```ts
 * import { erfc, tensor } from "diffopt";
 * erfc(tensor([0, 10])).toArray(); // [1, 2.0884875837625446e-45]
 * ```
 */
export const erfc = unary(unaryPrimitive("erfc", erfcKernel, (x) => neg(gaussian(x))));

/** Coefficients (−1)ᵏ/(2k+1)! of sin(t)/t in powers of t², k = 0..9: the series to 2e-20 for |t| ≤ 1. */
const SINC_SERIES = Array.from({ length: 10 }, (_, k) => {
  let f = 1;
  for (let j = 2; j <= 2 * k + 1; j++) f *= j;
  return (k % 2 === 0 ? 1 : -1) / f;
});

/**
 * Elementwise normalised sinc, sin(πx)/(πx), with sinc(0) = 1 (NumPy's `sinc`). For |πx| < 1 it is its Taylor
 * series (ten terms, to 2e-20), elsewhere the quotient: the quotient's derivatives cancel near 0 (cos t − sin(t)/t
 * loses all its digits by x = 1e-8), the series' do not, and its derivatives at 0 are the exact Maclaurin
 * coefficients (d/dx sinc(0) = 0, d²/dx² sinc(0) = −π²/3, …, to the 18th order).
 * @example
 * ```ts
 * import { sinc, tensor } from "diffopt";
 * sinc(tensor([0, 0.5])).toArray(); // [1, 0.6366197723675814]
 * ```
 */
export function sinc(x: TensorLike): Tensor {
  const t = mul(asTensorArg(x, "sinc", "x"), Math.PI);
  const small = less(abs(t), 1);
  // Each branch sees a safe argument where the other is selected, so neither produces a NaN derivative.
  const u = square(where(small, t, 0));
  let series: Tensor = scalar(SINC_SERIES[SINC_SERIES.length - 1]!);
  for (let k = SINC_SERIES.length - 2; k >= 0; k--) series = add(mul(series, u), SINC_SERIES[k]!);
  const tl = where(small, 1, t);
  return where(small, series, div(sin(tl), tl));
}
