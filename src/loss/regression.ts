/**
 * Regression losses.
 * @module
 */
import { ValueError } from "../core/errors.js";
import type { Tensor, TensorLike } from "../core/tensor.js";
import { abs, greater, mul, square, sub, where } from "../core/ops/elementwise.js";
import { broadcastPair } from "./internal.js";

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
  const fn = "loss.huber";
  if (!(delta > 0) || !Number.isFinite(delta)) {
    throw new ValueError(`${fn}: delta must be positive and finite, got ${delta}`);
  }
  const [t, p] = broadcastPair(target, pred, fn, ["target", "pred"]);
  const r = abs(sub(t, p));
  const linear = greater(r, delta);
  // The quadratic piece sees r only where it is used, so an infinite residual gives no 0·∞ in its derivatives.
  return where(linear, mul(sub(r, 0.5 * delta), delta), mul(square(where(linear, 0, r)), 0.5));
}
