/**
 * Regression losses.
 * @module
 */
import { ValueError } from "../core/errors.js";
import { Tensor, asTensor, type TensorLike } from "../core/tensor.js";
import { abs, greater, mul, square, sub, where } from "../core/ops/elementwise.js";

/**
 * Huber loss of the residual r = target − pred, elementwise: ½r² for |r| ≤ δ, δ(|r| − ½δ) beyond (δ > 0,
 * default 1). Quadratic near zero, linear in the tails; its derivative in `pred` is −clip(r, −δ, δ).
 *
 * @example
 * ```ts
 * import { loss, tensor } from "diffopt";
 * loss.huber(tensor([0, 0]), tensor([0.5, 3])).toArray(); // [0.125, 2.5]
 * ```
 */
export function huber(target: TensorLike, pred: TensorLike, delta = 1): Tensor {
  if (!(delta > 0) || !Number.isFinite(delta)) {
    throw new ValueError(`loss.huber: delta must be positive and finite, got ${delta}`);
  }
  const r = abs(sub(asTensor(target), asTensor(pred)));
  return where(greater(r, delta), mul(sub(r, 0.5 * delta), delta), mul(square(r), 0.5));
}
