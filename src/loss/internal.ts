/**
 * Last-axis helpers shared by the losses: shape checks and integer labels to one-hot rows.
 * @internal
 * @module
 */
import { ShapeError, ValueError } from "../core/errors.js";
import { fmt } from "../core/shape.js";
import { Tensor, asTensor, type TensorLike } from "../core/tensor.js";

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
  const out = new Float64Array(logits.size);
  const d = y.raw;
  for (let r = 0; r < d.length; r++) {
    const c = d[r]!;
    if (!Number.isInteger(c) || c < 0 || c >= k) {
      throw new ValueError(`${fn}: label ${c} at flat index ${r} is not an integer class in [0, ${k})`);
    }
    out[r * k + c] = 1;
  }
  return new Tensor(out, logits.shape);
}
