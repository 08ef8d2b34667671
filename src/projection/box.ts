/**
 * Coordinate-wise projections: `nonNegative`, `box`, `hypercube`, `linfBall`. Each is a clip, whose Jacobian
 * is diag(1[lower < x < upper]) in x and the indicator of the clipped coordinates in the bounds.
 * @module
 */
import { ShapeError } from "../core/errors.js";
import { maximum, minimum, neg, relu } from "../core/ops/elementwise.js";
import { broadcastShapes, fmt } from "../core/shape.js";
import { Tensor, sameShape, type TensorLike } from "../core/tensor.js";
import { checkOrdered, finiteTensor, positive, scalarParam } from "./checks.js";

/**
 * Projection onto the non-negative orthant: max(x, 0).
 *
 * @example
 * ```ts
 * import { projection, tensor } from "diffopt";
 * projection.nonNegative(tensor([-1, 2])).toArray(); // [0, 2]
 * ```
 */
export function nonNegative(x: TensorLike): Tensor {
  return relu(finiteTensor(x, "projection.nonNegative", "x"));
}

/**
 * Projection onto the box {p : lower ≤ p ≤ upper}: clip(x, lower, upper). The bounds are numbers or tensors
 * that broadcast to the shape of `x`, with lower ≤ upper; derivatives flow to x where it is strictly inside
 * and to the bound that is active elsewhere.
 *
 * @example
 * ```ts
 * import { projection, tensor } from "diffopt";
 * projection.box(tensor([-2, 0.5, 3]), 0, tensor([1, 1, 2])).toArray(); // [0, 0.5, 2]
 * ```
 */
export function box(x: TensorLike, lower: TensorLike, upper: TensorLike): Tensor {
  return clipChecked(x, lower, upper, "projection.box");
}

function clipChecked(x: TensorLike, lower: TensorLike, upper: TensorLike, fn: string): Tensor {
  const t = finiteTensor(x, fn, "x");
  const lo = finiteTensor(lower, fn, "lower");
  const hi = finiteTensor(upper, fn, "upper");
  for (const [name, b] of [
    ["lower", lo],
    ["upper", hi],
  ] as const) {
    if (!sameShape(broadcastShapes(t.shape, b.shape, fn), t.shape)) {
      throw new ShapeError(
        `${fn}: ${name} of shape ${fmt(b.shape)} does not broadcast to the shape ${fmt(t.shape)} of x`,
      );
    }
  }
  checkOrdered(lo, hi, t.shape, fn);
  return minimum(maximum(t, lo), hi);
}

/**
 * Projection onto the hypercube [0, scale]ⁿ.
 *
 * @example
 * ```ts
 * import { projection, tensor } from "diffopt";
 * projection.hypercube(tensor([-1, 0.5, 2])).toArray(); // [0, 0.5, 1]
 * ```
 */
export function hypercube(x: TensorLike, scale: TensorLike = 1): Tensor {
  const s = scalarParam(scale, "projection.hypercube", "scale", positive, "positive");
  return clipChecked(x, 0, s, "projection.hypercube");
}

/**
 * Projection onto the l∞ ball {p : ‖p‖∞ ≤ radius}: clip(x, −radius, radius). Differentiable in `radius`
 * (±1 on the clipped coordinates).
 *
 * @example
 * ```ts
 * import { projection, tensor } from "diffopt";
 * projection.linfBall(tensor([-3, 0.5, 2]), 1).toArray(); // [-1, 0.5, 1]
 * ```
 */
export function linfBall(x: TensorLike, radius: TensorLike = 1): Tensor {
  const r = scalarParam(radius, "projection.linfBall", "radius", positive, "positive");
  const t = finiteTensor(x, "projection.linfBall", "x");
  return minimum(maximum(t, neg(r)), r);
}
