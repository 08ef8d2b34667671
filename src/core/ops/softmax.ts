/**
 * The log-sum-exp family: `logsumexp`, `softmax`, `logSoftmax`. Every kernel shifts by the lane maximum, so
 * large inputs neither overflow nor underflow; every rule reuses the output (softmax VJP: s ⊙ (g − Σ g s)).
 *
 * A lane whose entries are all −∞ has log-sum-exp −∞ and an undefined (NaN) softmax, as in JAX.
 * @module
 */
import { bind, type Primitive } from "../engine.js";
import { allocFloat64 } from "../alloc.js";
import { ValueError } from "../errors.js";
import { Tensor, asTensor, type TensorLike } from "../tensor.js";
import { exp, mul, sub } from "./elementwise.js";
import { defineMethod } from "./define-method.js";
import {
  blockReduce,
  reduceBatch,
  laneExtrema,
  sumWith,
  type BlockParams,
  type BlockReduction,
  type ReduceOptions,
} from "./reduce.js";
import { reshape, transpose } from "./shape.js";

/** Shift used for a lane of maximum `m`: the maximum itself unless it is infinite (then exp gives 0 or NaN). */
function shiftOf(m: number): number {
  return m === -Infinity ? 0 : m;
}

const logsumexpPrim: Primitive<BlockParams> = reduceBatch({
  name: "logsumexp",
  impl([x], p) {
    const { outer, len, inner } = p;
    const src = x!.raw;
    const out = allocFloat64(outer * inner);
    laneExtrema(src, outer, len, inner, true, out);
    const s = allocFloat64(outer * inner);
    for (let o = 0; o < outer; o++) {
      for (let l = 0; l < len; l++) {
        const row = (o * len + l) * inner;
        for (let i = 0; i < inner; i++) s[o * inner + i] += Math.exp(src[row + i]! - shiftOf(out[o * inner + i]!));
      }
    }
    for (let k = 0; k < out.length; k++) {
      const m = out[k]!;
      out[k] = m === Infinity || m === -Infinity ? m : m + Math.log(s[k]!);
    }
    return new Tensor(out, p.outShape);
  },
  jvp([x], [t], _out, p) {
    return sumWith(mul(t!, bind(softmaxPrim, [x!], derivativeParams(p))), p);
  },
  vjp(ct, [x], _out, p) {
    return [mul(reshape(ct, p.keepShape), bind(softmaxPrim, [x!], derivativeParams(p)))];
  },
});

/** Softmax (or log-softmax) of contiguous lanes (inner = 1): running values stay in registers. */
function contiguousLanes(src: Float64Array, out: Float64Array, outer: number, len: number, log: boolean): void {
  for (let o = 0; o < outer; o++) {
    const base = o * len;
    let m = -Infinity;
    for (let l = 0; l < len; l++) {
      const v = src[base + l]!;
      if (v > m || v !== v) m = v;
    }
    const shift = shiftOf(m);
    let s = 0;
    for (let l = 0; l < len; l++) {
      const e = Math.exp(src[base + l]! - shift);
      out[base + l] = e;
      s += e;
    }
    if (log) {
      const lse = shift + Math.log(s);
      for (let l = 0; l < len; l++) out[base + l] = src[base + l]! - lse;
    } else {
      for (let l = 0; l < len; l++) out[base + l] /= s;
    }
  }
}

function normalizedKernel(x: Tensor, p: SoftmaxParams, log: boolean): Tensor {
  const { outer, len, inner } = p;
  const src = x.raw;
  const out = allocFloat64(src.length);
  if (inner === 1) {
    contiguousLanes(src, out, outer, len, log);
    if (p.limits === true) infiniteLaneLimits(src, out, p);
    return new Tensor(out, x.shape);
  }
  // Lane maxima, then shifted exponentials and their sums (or log-sum-exps), all as [outer, inner].
  const m = allocFloat64(outer * inner);
  laneExtrema(src, outer, len, inner, true, m);
  for (let k = 0; k < m.length; k++) m[k] = shiftOf(m[k]!);
  const s = allocFloat64(outer * inner);
  for (let o = 0; o < outer; o++) {
    const lane = o * inner;
    for (let l = 0; l < len; l++) {
      const row = (o * len + l) * inner;
      for (let i = 0; i < inner; i++) {
        const e = Math.exp(src[row + i]! - m[lane + i]!);
        out[row + i] = e;
        s[lane + i] += e;
      }
    }
  }
  if (log) for (let k = 0; k < s.length; k++) s[k] = m[k]! + Math.log(s[k]!);
  for (let o = 0; o < outer; o++) {
    const lane = o * inner;
    for (let l = 0; l < len; l++) {
      const row = (o * len + l) * inner;
      if (log) for (let i = 0; i < inner; i++) out[row + i] = src[row + i]! - s[lane + i]!;
      else for (let i = 0; i < inner; i++) out[row + i] /= s[lane + i]!;
    }
  }
  if (p.limits === true) infiniteLaneLimits(src, out, p);
  return new Tensor(out, x.shape);
}

/**
 * Softmax parameters; `limits` marks the weights that logsumexp's derivative takes. Where a lane's maximum is
 * infinite the shifted exponentials give ∞ − ∞ = NaN, but logsumexp (∞ or −∞ there) has a derivative in the
 * limit: see {@link infiniteLaneLimits}.
 */
interface SoftmaxParams extends BlockParams {
  limits?: boolean;
}

/**
 * Overwrites the weights of every lane whose maximum is infinite (and that holds no NaN) by their limits: equal
 * weights on the +∞ entries and 0 on the others when the maximum is +∞; 1/len on every entry when all are −∞ (the
 * limit along the diagonal, as `logaddexp` takes at a = b = −∞).
 */
function infiniteLaneLimits(src: Float64Array, out: Float64Array, p: BlockParams): void {
  const { outer, len, inner } = p;
  const maxima = allocFloat64(outer * inner);
  laneExtrema(src, outer, len, inner, true, maxima);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const m = maxima[o * inner + i]!;
      if (m !== Infinity && m !== -Infinity) continue; // a finite maximum, or NaN (laneExtrema propagates it)
      let top = 0;
      for (let l = 0; l < len; l++) if (src[(o * len + l) * inner + i] === Infinity) top++;
      for (let l = 0; l < len; l++) {
        const at = (o * len + l) * inner + i;
        out[at] = m === -Infinity ? 1 / len : src[at] === Infinity ? 1 / top : 0;
      }
    }
  }
}

const softmaxPrim: Primitive<SoftmaxParams> = reduceBatch({
  name: "softmax",
  impl([x], p) {
    return normalizedKernel(x!, p, false);
  },
  jvp(_x, [t], s, p) {
    return mul(s, sub(t!, sumWith(mul(t!, s), p)));
  },
  vjp(ct, _x, s, p) {
    return [mul(s, sub(ct, sumWith(mul(ct, s), p)))];
  },
});

const logSoftmaxPrim: Primitive<BlockParams> = reduceBatch({
  name: "logSoftmax",
  impl([x], p) {
    return normalizedKernel(x!, p, true);
  },
  jvp(_x, [t], out, p) {
    return sub(t!, sumWith(mul(t!, exp(out)), p));
  },
  vjp(ct, _x, out, p) {
    return [sub(ct, mul(exp(out), sumWith(ct, p)))];
  },
});

/** Parameters of a lane-normalising op: the lane sums keep their axes (so they broadcast back). */
function keepParams(p: BlockParams): BlockParams {
  return { ...p, outShape: p.keepShape };
}

/** The softmax in logsumexp's derivative: lanes with an infinite maximum take the derivative's limit. */
function derivativeParams(p: BlockParams): SoftmaxParams {
  return { ...keepParams(p), limits: true };
}

/**
 * `log Σ exp(x)` over `axis` (all axes by default), computed stably by shifting by the maximum. Its
 * derivative is the softmax of `x` over the same axes.
 *
 * @example
 * ```ts
 * import { logsumexp, tensor } from "diffopt";
 * logsumexp(tensor([1000, 1000])).item();                 // 1000.6931… (no overflow)
 * logsumexp(tensor([[0, 0], [1, 1]]), { axis: 1 }).toArray(); // [0.6931…, 1.6931…]
 * ```
 */
export function logsumexp(x: TensorLike, opts?: ReduceOptions): Tensor {
  const t = asTensor(x);
  const r = blockReduce(t, opts, "logsumexp");
  if (r === null) return t;
  return bind(logsumexpPrim, [r.x], r.p);
}

function normalized(prim: Primitive<BlockParams>, x: TensorLike, axis: number | readonly number[]): Tensor {
  const t = asTensor(x);
  if (t.ndim === 0) throw new ValueError(`${prim.name}: expected a tensor with at least one axis, got a scalar`);
  const r: BlockReduction = blockReduce(t, { axis }, prim.name)!;
  if (r.p.len === 0) return t;
  const y = bind(prim, [r.x], keepParams(r.p));
  if (r.perm === null) return y;
  const inverse: number[] = new Array(r.perm.length);
  r.perm.forEach((q, i) => (inverse[q] = i));
  return transpose(y, inverse);
}

/**
 * `exp(x) / Σ exp(x)` along `axis` (default the last; several axes allowed), computed stably.
 *
 * @example
 * ```ts
 * import { softmax, tensor } from "diffopt";
 * softmax(tensor([0, Math.log(3)])).toArray();     // [0.25, 0.75] (to rounding)
 * softmax(tensor([[1, 1], [2, 2]]), 0).toArray(); // [[0.2689…, 0.2689…], [0.7310…, 0.7310…]]
 * ```
 */
export function softmax(x: TensorLike, axis: number | readonly number[] = -1): Tensor {
  return normalized(softmaxPrim, x, axis);
}

/**
 * `x − logsumexp(x)` along `axis` (default the last; several axes allowed): the log of {@link softmax},
 * computed without forming the softmax, so it stays accurate for very negative entries.
 *
 * @example
 * ```ts
 * import { logSoftmax, tensor } from "diffopt";
 * logSoftmax(tensor([0, 0])).toArray();      // [-0.6931…, -0.6931…]
 * logSoftmax(tensor([0, -1000])).toArray();  // [0, -1000]
 * ```
 */
export function logSoftmax(x: TensorLike, axis: number | readonly number[] = -1): Tensor {
  return normalized(logSoftmaxPrim, x, axis);
}

declare module "../tensor.js" {
  interface Tensor {
    /** `logsumexp(this, opts)` */
    logsumexp(opts?: ReduceOptions): Tensor;
    /** `softmax(this, axis)` */
    softmax(axis?: number | readonly number[]): Tensor;
    /** `logSoftmax(this, axis)` */
    logSoftmax(axis?: number | readonly number[]): Tensor;
  }
}

defineMethod("logsumexp", (x, o?: ReduceOptions) => logsumexp(x, o));
defineMethod("softmax", (x, a?: number | readonly number[]) => softmax(x, a));
defineMethod("logSoftmax", (x, a?: number | readonly number[]) => logSoftmax(x, a));
