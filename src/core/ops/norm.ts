/**
 * Vector and matrix norms, `norm(x, { ord, axis, keepdims })`, with NumPy's conventions.
 *
 * The p-norms (p = 2 by default, any p > 0) are one primitive with a scaled kernel (no overflow or underflow:
 * the lane is divided by its largest magnitude first) and an explicit rule ∂‖x‖ₚ/∂xᵢ = sign(xᵢ)(|xᵢ|/‖x‖ₚ)^(p−1).
 * At x = 0 the rule returns 0 (a valid subgradient for p ≥ 1), and so do its derivatives, never NaN; entries
 * that are exactly 0 get derivative 0 (for p < 1 the true derivative is unbounded there). The 1- and ∞-norms are compositions of
 * `abs`, `sum`, `max`, `min`. Matrix norms that need singular values (ord 2, −2, 'nuc') are `linalg.norm`.
 * @module
 */
import { bind, type Primitive } from "../engine.js";
import { allocFloat64 } from "../alloc.js";
import { ValueError } from "../errors.js";
import { normalizeAxis } from "../shape.js";
import { Tensor, asTensor, type TensorLike } from "../tensor.js";
import { abs, div, equal, isinf, mul, pow, sign, where } from "./elementwise.js";
import { defineMethod } from "./define-method.js";
import { blockReduce, max, min, reduceBatch, sum, sumWith, type BlockParams } from "./reduce.js";
import { reshape } from "./shape.js";

/** Options of {@link norm}. */
export interface NormOptions {
  /**
   * Vectors: 2 (default), 1, `Infinity`, `-Infinity`, or any p > 0. Matrices (two axes): 'fro' (default), 1,
   * -1, `Infinity`, `-Infinity` (max/min column or row sums of |x|).
   */
  ord?: number | "fro";
  /**
   * One axis: vector norms along it. Two axes `[rows, cols]`: matrix norms. Omitted: the whole tensor as a
   * vector when `ord` is omitted; otherwise a 1-D tensor is a vector and a 2-D tensor a matrix.
   */
  axis?: number | readonly number[];
  /** Keep the reduced axes with length 1. */
  keepdims?: boolean;
}

interface PNormParams extends BlockParams {
  p: number;
}

/** Range of lane maxima in which the plain sum of squares neither overflows nor loses its largest term to underflow. */
const SAFE_MIN = 1e-150;
const SAFE_MAX = 1e150;

const pnormPrim: Primitive<PNormParams> = reduceBatch({
  name: "norm",
  impl([x], q) {
    const { outer, len, inner, p } = q;
    const src = x!.raw;
    const out = allocFloat64(outer * inner);
    const scale = allocFloat64(inner);
    const acc = allocFloat64(inner);
    for (let o = 0; o < outer; o++) {
      // Pass 1: the largest magnitude of each lane and, for p = 2, the plain sum of squares.
      scale.fill(0);
      acc.fill(0);
      for (let l = 0; l < len; l++) {
        const row = (o * len + l) * inner;
        for (let i = 0; i < inner; i++) {
          const v = src[row + i]!;
          const a = Math.abs(v);
          if (a > scale[i]! || a !== a) scale[i] = a;
          acc[i] += v * v;
        }
      }
      // Pass 2, only when needed: sum (|x|/max)^p, safe from overflow and underflow.
      let scaled = p !== 2;
      for (let i = 0; i < inner && !scaled; i++) scaled = scale[i]! < SAFE_MIN || scale[i]! > SAFE_MAX;
      if (scaled) {
        acc.fill(0);
        for (let l = 0; l < len; l++) {
          const row = (o * len + l) * inner;
          if (p === 2) {
            for (let i = 0; i < inner; i++) {
              const r = src[row + i]! / scale[i]!;
              acc[i] += r * r;
            }
          } else {
            for (let i = 0; i < inner; i++) acc[i] += Math.pow(Math.abs(src[row + i]!) / scale[i]!, p);
          }
        }
      }
      for (let i = 0; i < inner; i++) {
        const m = scale[i]!;
        const a = acc[i]!;
        // A zero lane has norm 0; an infinite entry makes the norm infinite; NaN propagates.
        let n: number;
        if (m === 0 || m === Infinity || m !== m) n = m;
        else if (!scaled) n = Math.sqrt(a);
        else n = m * (p === 2 ? Math.sqrt(a) : Math.pow(a, 1 / p));
        out[o * inner + i] = n;
      }
    }
    return new Tensor(out, q.outShape);
  },
  jvp([x], [t], out, q) {
    if (q.p === 2) return sumWith(mul(t!, direction(x!, out, q)), q);
    return sumWith(mul(t!, normWeights(x!, out, q)), q);
  },
  vjp(ct, [x], out, q) {
    const lanes = reshape(ct, q.keepShape);
    if (q.p === 2) return [mul(lanes, direction(x!, out, q))];
    return [mul(lanes, normWeights(x!, out, q))];
  },
});

/**
 * ∂‖x‖₂/∂x = x/‖x‖ per lane, and 0 where the norm is 0 (both `where` branches are safe). Written as one division
 * rather than x·(1/‖x‖): the derivative of 1/‖x‖ would form 1/‖x‖², which overflows at ‖x‖ ≈ 1e-200 (and
 * underflows at 1e155) although every second derivative of the norm is of the order of 1/‖x‖.
 */
function direction(x: Tensor, out: Tensor, q: PNormParams): Tensor {
  const n = reshape(out, q.keepShape);
  const zeroNorm = equal(n, 0);
  const far = isinf(n);
  const finite = div(where(far, 0, x), where(zeroNorm, 1, where(far, 1, n)));
  return where(zeroNorm, 0, where(far, infiniteNormLimit(x, q), finite));
}

/**
 * The derivative's limit in a lane whose norm is infinite: equal weights ±k^(−(p−1)/p) on its k infinite entries
 * (the limit along the diagonal, as `hypot` takes) and 0 on the finite ones, instead of ∞/∞ = NaN. (A lane of
 * finite entries whose norm overflows has k = 0 and gets 0.)
 */
function infiniteNormLimit(x: Tensor, q: PNormParams): Tensor {
  const infinite = isinf(x);
  const k = reshape(sumWith(infinite, q), q.keepShape);
  const exponent = q.p === Infinity ? 1 : (q.p - 1) / q.p;
  return mul(mul(sign(x), infinite), pow(where(equal(k, 0), 1, k), -exponent));
}

/**
 * ∂‖x‖ₚ/∂x = sign(x)(|x|/‖x‖ₚ)^(p−1) for p ≠ 2, as differentiable ops. Zeros are guarded on both sides of each
 * `where` (the unused branch is evaluated at a safe point), so no derivative of any order produces NaN.
 */
function normWeights(x: Tensor, out: Tensor, q: PNormParams): Tensor {
  const n = reshape(out, q.keepShape);
  const far = isinf(n);
  const safeNorm = where(equal(n, 0), 1, where(far, 1, n));
  const a = where(far, 0, abs(x));
  const isZero = equal(a, 0);
  const ratio = div(where(isZero, 1, a), safeNorm);
  return where(far, infiniteNormLimit(x, q), where(isZero, 0, mul(sign(x), pow(ratio, q.p - 1))));
}

/** @internal The p-norm of `x` over `axis` (one or more axes), with its subgradient 0 at x = 0. */
export function pnorm(x: Tensor, p: number, axis: number | readonly number[], keepdims: boolean): Tensor {
  const r = blockReduce(x, { axis, keepdims }, "norm")!;
  return bind(pnormPrim, [r.x], { ...r.p, p });
}

function vectorNorm(
  x: Tensor,
  ord: number | "fro" | undefined,
  axis: number | readonly number[],
  keepdims: boolean,
): Tensor {
  if (ord === undefined || ord === 2) return pnorm(x, 2, axis, keepdims);
  if (ord === 1) return sum(abs(x), { axis, keepdims });
  if (ord === Infinity) return max(abs(x), { axis, keepdims });
  if (ord === -Infinity) return min(abs(x), { axis, keepdims });
  if (typeof ord === "number" && ord > 0 && Number.isFinite(ord)) return pnorm(x, ord, axis, keepdims);
  throw new ValueError(
    `norm: invalid ord ${String(ord)} for a vector norm; use 2, 1, Infinity, -Infinity or a number p > 0`,
  );
}

function matrixNorm(x: Tensor, ord: number | "fro" | undefined, rows: number, cols: number, keepdims: boolean): Tensor {
  if (rows === cols) throw new ValueError(`norm: the two matrix axes must differ, got [${rows}, ${cols}]`);
  if (ord === undefined || ord === "fro") return pnorm(x, 2, [rows, cols], keepdims);
  const finish = (y: Tensor) =>
    keepdims
      ? y
      : reshape(
          y,
          x.shape.filter((_, i) => i !== rows && i !== cols),
        );
  const colSums = () => sum(abs(x), { axis: rows, keepdims: true });
  const rowSums = () => sum(abs(x), { axis: cols, keepdims: true });
  if (ord === 1) return finish(max(colSums(), { axis: cols, keepdims: true }));
  if (ord === -1) return finish(min(colSums(), { axis: cols, keepdims: true }));
  if (ord === Infinity) return finish(max(rowSums(), { axis: rows, keepdims: true }));
  if (ord === -Infinity) return finish(min(rowSums(), { axis: rows, keepdims: true }));
  throw new ValueError(
    `norm: invalid ord ${String(ord)} for a matrix norm; use 'fro', 1, -1, Infinity or -Infinity (for the norms that need singular values, 2, -2 and 'nuc', use linalg.norm)`,
  );
}

/**
 * Vector or matrix norm, like `numpy.linalg.norm` (see {@link NormOptions}). Differentiable to any order
 * away from zeros; at x = 0 the 2-norm's derivative is 0 (a subgradient), never NaN.
 *
 * @example
 * ```ts
 * import { norm, grad, tensor } from "diffopt";
 * norm(tensor([3, 4])).item();                         // 5
 * norm(tensor([3, -4]), { ord: 1 }).item();            // 7
 * norm(tensor([[1, 2], [3, 4]]), { ord: Infinity }).item(); // 7 (max row sum)
 * norm(tensor([[3, 4], [6, 8]]), { axis: 1 }).toArray();    // [5, 10]
 * grad((x) => norm(x))(tensor([0, 0])).toArray();      // [0, 0]
 * ```
 */
export function norm(x: TensorLike, opts: NormOptions = {}): Tensor {
  const t = asTensor(x);
  const { ord, axis } = opts;
  const keepdims = opts.keepdims ?? false;
  if (axis === undefined) {
    if (ord === undefined)
      return t.ndim === 0
        ? abs(t)
        : pnorm(
            t,
            2,
            t.shape.map((_, i) => i),
            keepdims,
          );
    if (t.ndim === 1) return vectorNorm(t, ord, 0, keepdims);
    if (t.ndim === 2) return matrixNorm(t, ord, 0, 1, keepdims);
    throw new ValueError(`norm: ord ${String(ord)} without axis needs a 1-D or 2-D tensor, got ${t.ndim} axes`);
  }
  const axes = typeof axis === "number" ? [axis] : [...axis];
  if (axes.length === 1) return vectorNorm(t, ord, normalizeAxis(axes[0]!, t.ndim, "norm"), keepdims);
  if (axes.length === 2) {
    const rows = normalizeAxis(axes[0]!, t.ndim, "norm");
    const cols = normalizeAxis(axes[1]!, t.ndim, "norm");
    return matrixNorm(t, ord, rows, cols, keepdims);
  }
  throw new ValueError(`norm: axis must be one axis (vector norm) or two (matrix norm), got [${axes.join(", ")}]`);
}

declare module "../tensor.js" {
  interface Tensor {
    /** `norm(this, opts)` */
    norm(opts?: NormOptions): Tensor;
  }
}

defineMethod("norm", (x, o?: NormOptions) => norm(x, o));
