/**
 * Statistics and logical reductions with NumPy's signatures: `var` and `std` (with `ddof`), `any`, `all`, and
 * the n-th difference `diff`. All are compositions of differentiable ops, so derivatives of any order and `vmap`
 * come from those ops' rules.
 * @module
 */
import { ValueError } from "../errors.js";
import { normalizeAxes, normalizeAxis } from "../shape.js";
import { Tensor, asTensorArg, describeValue, type TensorLike } from "../tensor.js";
import { abs, div, equal, greater, notEqual, square, sub } from "./elementwise.js";
import { defineMethod } from "./define-method.js";
import { sliceAxis } from "./join.js";
import { pnorm } from "./norm.js";
import { mean, sum, type ReduceOptions } from "./reduce.js";

/** Options of {@link var_ | var} and {@link std}. */
export interface VarianceOptions extends ReduceOptions {
  /**
   * "Delta degrees of freedom": the sum of squared deviations is divided by N − ddof, where N is the number of
   * elements reduced. Default 0 (the maximum-likelihood estimate); 1 gives the unbiased sample variance.
   */
  ddof?: number;
}

/**
 * What a variance over `opts.axis` of `x` needs: the reduced axes, the divisor N − ddof (checked) and the
 * deviations from the mean.
 */
function deviations(x: Tensor, opts: VarianceOptions | undefined, op: string) {
  const ddof = opts?.ddof ?? 0;
  if (typeof ddof !== "number" || !Number.isFinite(ddof) || ddof < 0) {
    throw new ValueError(`${op}: ddof must be a finite number ≥ 0, got ${describeValue(ddof)}`);
  }
  const axes = normalizeAxes(opts?.axis, x.ndim, op);
  let n = 1;
  for (const a of axes) n *= x.shape[a]!;
  if (!(n - ddof > 0)) {
    throw new ValueError(
      `${op}: ddof ${ddof} leaves no degrees of freedom for the ${n} element(s) reduced (N − ddof must be > 0)`,
    );
  }
  const centered = sub(x, mean(x, { axis: opts?.axis, keepdims: true }));
  return { axes, divisor: n - ddof, centered };
}

/**
 * Variance over `axis` (all axes by default): the mean squared deviation from the mean, divided by N − ddof
 * instead of N when `ddof` is given (NumPy's `var`). Differentiable to any order: the derivative in xᵢ is
 * 2(xᵢ − mean)/(N − ddof). Exported as `var`.
 * @example
 * ```ts
 * import { var as variance, tensor } from "diffopt";
 * variance(tensor([1, 2, 3, 4])).item();                   // 1.25
 * variance(tensor([1, 2, 3, 4]), { ddof: 1 }).item();      // 1.6666666666666667
 * variance(tensor([[1, 3], [2, 2]]), { axis: 1 }).toArray(); // [1, 0]
 * ```
 */
export function var_(x: TensorLike, opts?: VarianceOptions): Tensor {
  const { divisor, centered } = deviations(asTensorArg(x, "var", "x"), opts, "var");
  return div(sum(square(centered), { axis: opts?.axis, keepdims: opts?.keepdims }), divisor);
}

/**
 * Standard deviation over `axis` (all axes by default): √var, with the same `ddof` (NumPy's `std`). Computed as
 * the 2-norm of the deviations (no overflow or underflow in the squares); where all the reduced values are
 * equal, its derivative is 0 (a subgradient: std is not differentiable there), never NaN.
 * @example
 * ```ts
 * import { std, grad, tensor } from "diffopt";
 * std(tensor([1, 2, 3, 4])).item();                 // 1.118033988749895
 * std(tensor([1e200, 3e200])).item();               // 1e200
 * grad((x) => std(x))(tensor([5, 5])).toArray();    // [0, 0]
 * ```
 */
export function std(x: TensorLike, opts?: VarianceOptions): Tensor {
  const { axes, divisor, centered } = deviations(asTensorArg(x, "std", "x"), opts, "std");
  const spread = axes.length === 0 ? abs(centered) : pnorm(centered, 2, axes, opts?.keepdims ?? false);
  return div(spread, Math.sqrt(divisor));
}

/**
 * 1 where any element over `axis` (all axes by default) is non-zero, else 0 (NumPy's `any`; NaN counts as
 * non-zero, an empty reduction gives 0). No derivative.
 * @example
 * ```ts
 * import { any, tensor } from "diffopt";
 * any(tensor([0, 0, 2])).item();                          // 1
 * any(tensor([[0, 0], [0, 1]]), { axis: 1 }).toArray();   // [0, 1]
 * ```
 */
export function any(x: TensorLike, opts?: ReduceOptions): Tensor {
  const t = asTensorArg(x, "any", "x");
  return greater(sum(notEqual(t, 0), opts), 0);
}

/**
 * 1 where every element over `axis` (all axes by default) is non-zero, else 0 (NumPy's `all`; NaN counts as
 * non-zero, an empty reduction gives 1). No derivative.
 * @example
 * ```ts
 * import { all, tensor } from "diffopt";
 * all(tensor([1, 2, 0])).item();                          // 0
 * all(tensor([[1, 2], [0, 1]]), { axis: 1 }).toArray();   // [1, 0]
 * ```
 */
export function all(x: TensorLike, opts?: ReduceOptions): Tensor {
  const t = asTensorArg(x, "all", "x");
  return equal(sum(equal(t, 0), opts), 0);
}

/**
 * The n-th discrete difference along `axis` (default the last): `x[1:] − x[:-1]`, applied `n` times (default 1;
 * 0 returns `x`), NumPy's `diff`. The axis shrinks by n (to 0 when n exceeds its length).
 * @example
 * ```ts
 * import { diff, tensor } from "diffopt";
 * diff(tensor([1, 4, 9, 16])).toArray();          // [3, 5, 7]
 * diff(tensor([1, 4, 9, 16]), 2).toArray();       // [2, 2]
 * diff(tensor([[1, 2], [4, 8]]), 1, 0).toArray(); // [[3, 6]]
 * ```
 */
export function diff(x: TensorLike, n = 1, axis = -1): Tensor {
  let t = asTensorArg(x, "diff", "x");
  if (!Number.isSafeInteger(n) || n < 0)
    throw new ValueError(
      `diff: n must be a non-negative integer, got ${describeValue(n)} (diff takes positional arguments: diff(x, n, axis))`,
    );
  if (t.ndim === 0) throw new ValueError("diff: x must have at least one axis, got a scalar");
  const ax = normalizeAxis(axis, t.ndim, "diff");
  for (let k = 0; k < n; k++) {
    const len = t.shape[ax]!;
    if (len === 0) break;
    t = sub(sliceAxis(t, ax, 1, len), sliceAxis(t, ax, 0, len - 1));
  }
  return t;
}

declare module "../tensor.js" {
  interface Tensor {
    /** `var(this, opts)` */
    var(opts?: VarianceOptions): Tensor;
    /** `std(this, opts)` */
    std(opts?: VarianceOptions): Tensor;
    /** `any(this, opts)` */
    any(opts?: ReduceOptions): Tensor;
    /** `all(this, opts)` */
    all(opts?: ReduceOptions): Tensor;
  }
}

defineMethod("var", (x, o?: VarianceOptions) => var_(x, o));
defineMethod("std", (x, o?: VarianceOptions) => std(x, o));
defineMethod("any", (x, o?: ReduceOptions) => any(x, o));
defineMethod("all", (x, o?: ReduceOptions) => all(x, o));
