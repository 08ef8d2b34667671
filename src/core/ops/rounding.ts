/**
 * Rounding and integer division, with NumPy's conventions: `floor`, `ceil`, `trunc`, `round` (half to even),
 * `floorDivide` and `mod` (alias `remainder`, the sign of the divisor).
 *
 * These functions are piecewise constant, so their derivative is zero wherever it exists, and this module
 * returns zero everywhere, at the jumps too (as JAX does): a gradient through `round(x)` is 0, not a delta. The
 * exception is `mod(a, b) = a − b·⌊a/b⌋`, whose derivatives are 1 in `a` and −⌊a/b⌋ in `b` between the jumps.
 * @module
 */
import { scalar } from "../tensor.js";
import { binary, binaryPrimitive, comparison, neg, unary, unaryPrimitive } from "./elementwise.js";
import { defineMethod } from "./define-method.js";

/**
 * Elementwise largest integer ≤ x (NumPy's `floor`, −0 stays −0); derivative zero.
 * @example
 * ```ts
 * import { floor, tensor } from "diffopt";
 * floor(tensor([-1.5, 1.5])).toArray(); // [-2, 1]
 * ```
 */
export const floor = unary(unaryPrimitive("floor", Math.floor, null));
/**
 * Elementwise smallest integer ≥ x; derivative zero.
 * @example
 * ```ts
 * import { ceil, tensor } from "diffopt";
 * ceil(tensor([-1.5, 1.5])).toArray(); // [-1, 2]
 * ```
 */
export const ceil = unary(unaryPrimitive("ceil", Math.ceil, null));
/**
 * Elementwise integer part (rounds towards zero, keeping the sign of zero); derivative zero.
 * @example
 * ```ts
 * import { trunc, tensor } from "diffopt";
 * trunc(tensor([-1.5, 1.5])).toArray(); // [-1, 1]
 * ```
 */
export const trunc = unary(unaryPrimitive("trunc", Math.trunc, null));

/**
 * The nearest integer, ties to the even one (IEEE's default, NumPy's `round` and `rint`). `Math.round` rounds
 * ties up; its result is one too high exactly when the tie was broken towards an odd integer. `r − x` is exact
 * (both lie within 1 of each other and are integers or halves at a tie), and above 2⁵² every double is an
 * integer, so `Math.round` returns it unchanged.
 */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Elementwise nearest integer, ties to even (NumPy's `round` with no decimals: 0.5 → 0, 1.5 → 2, 2.5 → 2,
 * −0.5 → −0); derivative zero.
 * @example
 * ```ts
 * import { round, tensor } from "diffopt";
 * round(tensor([0.5, 1.5, 2.5, -2.7])).toArray(); // [0, 2, 2, -3]
 * ```
 */
export const round = unary(unaryPrimitive("round", roundHalfEven, null));

/** The remainder of the last {@link divmod} call (module scratch: no allocation per element). */
let divmodRemainder = 0;

/**
 * NumPy's `divmod` for doubles (`npy_divmod`): the remainder is C's `fmod` moved into the sign of the divisor,
 * and the quotient `(a − mod)/b` is rounded to the nearest integer, so that `a = b·q + mod` holds as nearly as
 * floats allow. Returns the quotient and leaves the remainder in `divmodRemainder`.
 */
function divmod(a: number, b: number): number {
  let mod = a % b; // C's fmod
  if (b === 0) {
    divmodRemainder = mod;
    return a / b;
  }
  let div = (a - mod) / b;
  if (mod !== 0) {
    if (b < 0 !== mod < 0) {
      mod += b;
      div -= 1;
    }
  } else {
    mod = b < 0 ? -0 : 0;
  }
  divmodRemainder = mod;
  if (div === 0) {
    const s = a / b;
    return s < 0 || Object.is(s, -0) ? -0 : 0; // copysign(0, a/b)
  }
  let q = Math.floor(div);
  if (div - q > 0.5) q += 1;
  return q;
}

const modKernel = (a: number, b: number): number => {
  divmod(a, b);
  return divmodRemainder;
};

/**
 * Elementwise ⌊a / b⌋ with broadcasting (NumPy's `floor_divide`, `a // b`): ±∞ for b = 0 (NaN for 0/0);
 * derivative zero.
 * @example
 * ```ts
 * import { floorDivide, tensor } from "diffopt";
 * floorDivide(tensor([7, -7]), 2).toArray(); // [3, -4]
 * ```
 */
export const floorDivide = comparison("floorDivide", divmod);

/**
 * Elementwise remainder of `a / b` with the sign of `b` (NumPy's `mod`/`remainder`, Python's `%`; C's `fmod`
 * keeps the sign of `a` instead): `a − b·floorDivide(a, b)`. NaN for b = 0 or an infinite a. Derivatives 1 in
 * `a` and −⌊a/b⌋ in `b`, away from the jumps.
 * @example
 * ```ts
 * import { mod, tensor } from "diffopt";
 * mod(tensor([7, -7, 7]), tensor([3, 3, -3])).toArray(); // [1, 2, -2]
 * ```
 */
export const mod = binary(
  binaryPrimitive("mod", modKernel, {
    da: () => scalar(1),
    db: (a, b) => neg(floorDivide(a, b)),
  }),
);

/**
 * `remainder` is NumPy's other name for {@link mod}.
 * @example
 * ```ts
 * import { remainder, tensor } from "diffopt";
 * remainder(tensor([-1]), 3).toArray(); // [2]
 * ```
 */
export const remainder = mod;

declare module "../tensor.js" {
  interface Tensor {
    /** `round(this)` (ties to even, like NumPy's `ndarray.round()`). */
    round(): Tensor;
  }
}

defineMethod("round", (x) => round(x));
