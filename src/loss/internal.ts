/**
 * Helpers shared by the losses: shape checks at the public boundary, integer labels to one-hot rows, and the
 * product with the limit 0·(±∞) = 0 that lets infinite logits give the limits of the losses.
 * @internal
 * @module
 */
import { ShapeError, ValueError } from "../core/errors.js";
import { abs, equal, mul, where } from "../core/ops/elementwise.js";
import { sum } from "../core/ops/reduce.js";
import { broadcastShapes, fmt } from "../core/shape.js";
import { Tensor, asTensor, type TensorLike } from "../core/tensor.js";
import { elementNote, forEachElement } from "../core/element-values.js";
import { reshape } from "../core/ops/shape.js";

/**
 * @internal Two elementwise arguments of a loss, as tensors, after checking that they broadcast: the error names
 * the loss and both arguments instead of the op deep inside that would fail.
 */
export function broadcastPair(
  a: TensorLike,
  b: TensorLike,
  fn: string,
  names: readonly [string, string],
): [Tensor, Tensor] {
  const ta = asTensor(a);
  const tb = asTensor(b);
  broadcastShapes(ta.shape, tb.shape, `${fn}: ${names[0]} and ${names[1]}`);
  return [ta, tb];
}

/**
 * @internal a·b elementwise with 0·(±∞) taken as 0, the limit in a loss: a label with no mass on a class whose
 * logit is −∞ (a masked class), or a weight 1 − y = 0 on a logit +∞. Both `where`s are needed: the inner one keeps
 * the infinite factor out of the product, so that no derivative forms 0·∞ either.
 */
export function mulLimit(a: Tensor, b: Tensor): Tensor {
  const zeroTimesInfinity = mul(equal(a, 0), equal(abs(b), Infinity));
  return where(zeroTimesInfinity, 0, mul(a, where(zeroTimesInfinity, 0, b)));
}

/** @internal ⟨a, b⟩ over the last axis, with 0·(±∞) = 0 (see {@link mulLimit}). */
export function dotLast(a: Tensor, b: Tensor): Tensor {
  return sum(mulLimit(a, b), { axis: -1 });
}

/** @internal Rows (leading size) and row length (last axis) of `x`; throws for a scalar. */
export function lastAxis(x: Tensor, fn: string, arg: string): [number, number] {
  if (x.ndim === 0) throw new ShapeError(`${fn}: ${arg} must have at least one axis, got a scalar`);
  const k = x.shape[x.ndim - 1]!;
  if (k === 0) throw new ShapeError(`${fn}: ${arg} has an empty last axis (shape ${fmt(x.shape)})`);
  return [x.size / k, k];
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
  forEachElement(y, (d, e) => {
    for (let r = 0; r < d.length; r++) {
      const c = d[r]!;
      if (!Number.isInteger(c) || c < 0 || c >= k) {
        throw new ValueError(
          `${fn}: label ${c} at flat index ${r}${elementNote(e)} is not an integer class in [0, ${k})`,
        );
      }
    }
  });
  // One-hot rows with ops (constant: comparisons carry no derivative), so that batched labels work too.
  const classes = new Float64Array(k).map((_, j) => j);
  return equal(reshape(y, [...y.shape, 1]), new Tensor(classes, [k]));
}
