/**
 * Last-axis building blocks shared by the losses and the solvers: a stable log-sum-exp and softmax, a max with
 * its (sub)gradient, integer labels to one-hot, and the Euclidean projection onto the simplex.
 *
 * Each is composed from differentiable core ops. Where a value is read from the data to choose a shift or a
 * support (the row max, the simplex support), the choice is held fixed for the derivative; this is exact
 * because the function does not depend on the shift (log-sum-exp, softmax) or because the closed form is
 * exact wherever the support does not change (max, simplex projection).
 *
 * @internal
 * @module
 */
import { ShapeError, ValueError } from "../core/errors.js";
import { fmt } from "../core/shape.js";
import { Tensor, asTensor, type TensorLike } from "../core/tensor.js";
import { add, div, exp, log, mul, sub } from "../core/ops/elementwise.js";
import { sum } from "../core/ops/reduce.js";
import { reshape } from "../core/ops/shape.js";

/** @internal Rows (leading size) and row length (last axis) of `x`; throws for a scalar. */
export function lastAxis(x: Tensor, fn: string, arg: string): [number, number] {
  if (x.ndim === 0) throw new ShapeError(`${fn}: ${arg} must have at least one axis, got a scalar`);
  const k = x.shape[x.ndim - 1]!;
  if (k === 0) throw new ShapeError(`${fn}: ${arg} has an empty last axis (shape ${fmt(x.shape)})`);
  return [x.size / k, k];
}

/** @internal Shape of `x` with its last axis set to 1. */
function keepShape(x: Tensor): number[] {
  return [...x.shape.slice(0, -1), 1];
}

/** @internal Concrete per-row maximum of the last axis, shape [..., 1]; 0 for rows that are not finite. */
function rowMax(x: Tensor): Tensor {
  const [rows, k] = lastAxis(x, "rowMax", "x");
  const d = x.data;
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let m = -Infinity;
    for (let j = r * k; j < (r + 1) * k; j++) if (d[j]! > m) m = d[j]!;
    out[r] = Number.isFinite(m) ? m : 0;
  }
  return new Tensor(out, keepShape(x));
}

/** @internal log Σ exp over the last axis, shifted by the row max; `keepdims` keeps a trailing axis of 1. */
export function logsumexpLast(x: Tensor, keepdims = false): Tensor {
  const m = rowMax(x);
  const lse = add(m, log(sum(exp(sub(x, m)), { axis: -1, keepdims: true })));
  return keepdims ? lse : reshape(lse, x.shape.slice(0, -1));
}

/** @internal Softmax over the last axis. */
export function softmaxLast(x: Tensor): Tensor {
  return exp(sub(x, logsumexpLast(x, true)));
}

/** @internal Concrete one-hot of the (first) argmax of each row of the last axis. */
function argmaxOneHot(x: Tensor): Tensor {
  const [rows, k] = lastAxis(x, "max", "x");
  const d = x.data;
  const out = new Float64Array(x.size);
  for (let r = 0; r < rows; r++) {
    let best = r * k;
    for (let j = r * k + 1; j < (r + 1) * k; j++) if (d[j]! > d[best]!) best = j;
    out[best] = 1;
  }
  return new Tensor(out, x.shape);
}

/**
 * @internal Max over the last axis. Its derivative selects the first maximiser (a subgradient at ties), and
 * its second derivative is zero.
 */
export function maxLast(x: Tensor): Tensor {
  return sum(mul(x, argmaxOneHot(x)), { axis: -1 });
}

/**
 * @internal Labels as a distribution over the last axis of `logits`: a tensor of the same shape passes through
 * (one-hot or probabilities); integer class indices with the shape of `logits` without its last axis become
 * one-hot rows. Integer labels carry no derivative.
 */
export function labelsAsOneHot(label: TensorLike, logits: Tensor, fn: string): Tensor {
  const y = asTensor(label);
  const [, k] = lastAxis(logits, fn, "logits");
  if (y.ndim === logits.ndim) {
    if (!y.shape.every((d, i) => d === logits.shape[i])) {
      throw new ShapeError(`${fn}: one-hot label shape ${fmt(y.shape)} differs from logits shape ${fmt(logits.shape)}`);
    }
    return y;
  }
  const batch = logits.shape.slice(0, -1);
  if (y.ndim !== batch.length || !y.shape.every((d, i) => d === batch[i])) {
    throw new ShapeError(
      `${fn}: label must be integer classes of shape ${fmt(batch)} or one-hot of shape ${fmt(logits.shape)}, got ${fmt(y.shape)}`,
    );
  }
  const out = new Float64Array(logits.size);
  const d = y.data;
  for (let r = 0; r < d.length; r++) {
    const c = d[r]!;
    if (!Number.isInteger(c) || c < 0 || c >= k) {
      throw new ValueError(`${fn}: label ${c} at flat index ${r} is not an integer class in [0, ${k})`);
    }
    out[r * k + c] = 1;
  }
  return new Tensor(out, logits.shape);
}

/**
 * @internal Concrete support of the projection of each last-axis row of `x` onto { p ≥ 0, Σ p = value }
 * (the sort-based algorithm): a 0/1 mask and the support size per row (shape [..., 1]).
 */
function simplexSupport(x: Tensor, value: Tensor): { mask: Tensor; count: Tensor } {
  const [rows, k] = lastAxis(x, "simplex projection", "x");
  const d = x.data;
  const vd = value.data;
  const mask = new Float64Array(x.size);
  const count = new Float64Array(rows);
  const sorted = new Float64Array(k);
  for (let r = 0; r < rows; r++) {
    const z = vd.length === 1 ? vd[0]! : vd[r]!;
    const base = r * k;
    for (let j = 0; j < k; j++) sorted[j] = d[base + j]!;
    sorted.sort().reverse();
    // The threshold of the largest prefix whose smallest entry stays above it (j = 0 always qualifies).
    let cumsum = 0;
    let tau = 0;
    for (let j = 0; j < k; j++) {
      cumsum += sorted[j]!;
      const t = (cumsum - z) / (j + 1);
      if (sorted[j]! - t > 0) tau = t;
    }
    let n = 0;
    for (let j = 0; j < k; j++) {
      if (d[base + j]! > tau) {
        mask[base + j] = 1;
        n++;
      }
    }
    // Rounding can leave no coordinate strictly above tau when all are equal: keep the sort's support then.
    if (n === 0) {
      for (let j = 0; j < k; j++) mask[base + j] = 1;
      n = k;
    }
    count[r] = n;
  }
  return { mask: new Tensor(mask, x.shape), count: new Tensor(count, keepShape(x)) };
}

/**
 * @internal Euclidean projection of every last-axis row of `x` onto the simplex { p ≥ 0, Σ p = value }
 * (`value` > 0, a scalar or one per row with shape [..., 1]). On the support s the closed form
 * p = s ∘ (x − τ), τ = (Σ s∘x − value) / |s| gives the Jacobian diag(s) − s sᵀ/|s|.
 */
export function projectSimplexLast(x: Tensor, value: TensorLike = 1): Tensor {
  const z = asTensor(value);
  const [rows] = lastAxis(x, "simplex projection", "x");
  if (z.size !== 1 && z.size !== rows) {
    throw new ShapeError(`simplex projection: value must be a scalar or one per row (${rows}), got shape ${fmt(z.shape)}`);
  }
  for (const v of z.data) {
    if (!(v > 0) || !Number.isFinite(v)) throw new ValueError(`simplex projection: value must be positive and finite, got ${v}`);
  }
  const { mask, count } = simplexSupport(x, z);
  const zr = z.size === 1 ? z : reshape(z, keepShape(x));
  const tau = div(sub(sum(mul(x, mask), { axis: -1, keepdims: true }), zr), count);
  return mul(mask, sub(x, tau));
}
