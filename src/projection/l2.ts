/**
 * Projections defined by a Euclidean norm: `l2Ball`, `l2Sphere`, `secondOrderCone`. Each is a closed form
 * chosen by the region x lies in; the choice is made with ops (`where`, `maximum`) rather than by reading the
 * values, so that it also holds element by element under `vmap`, and every closed form is written with
 * differentiable ops, so its derivatives (any order, in x and the radius) are exact.
 * @module
 */
import { ShapeError, ValueError } from "../core/errors.js";
import { add, div, lessEqual, maximum, mul, neg, where } from "../core/ops/elementwise.js";
import { elementNote, forEachElement } from "../core/element-values.js";
import { norm } from "../core/ops/norm.js";
import { reshape } from "../core/ops/shape.js";
import { fmt } from "../core/shape.js";
import { Tensor, type TensorLike } from "../core/tensor.js";
import { finiteTensor, positive, scalarParam } from "./checks.js";

/**
 * r·x/‖x‖ written as (x/‖x‖)·r, with ‖x‖ from the scaled kernel of `norm` (no overflow at 1e155, no underflow at
 * 1e-200): neither the value nor any derivative forms ‖x‖², 1/‖x‖² or r/‖x‖, which leave the float range at
 * extreme scales.
 */
function alongDirection(x: Tensor, length: Tensor, r: Tensor): Tensor {
  return mul(div(x, length), r);
}

/**
 * Projection onto the l2 ball {p : ‖p‖₂ ≤ radius}, over the whole tensor: x inside, radius·x/‖x‖ outside.
 * Differentiable in x and radius (∂p/∂radius = x/‖x‖ outside, 0 inside).
 *
 * @example
 * ```ts
 * import { projection, tensor } from "diffopt";
 * projection.l2Ball(tensor([3, 4]), 1).toArray(); // [0.6, 0.8]
 * ```
 */
export function l2Ball(x: TensorLike, radius: TensorLike = 1): Tensor {
  const t = finiteTensor(x, "projection.l2Ball", "x");
  const r = scalarParam(radius, "projection.l2Ball", "radius", positive, "positive");
  // x·r/max(‖x‖, r): x itself inside the ball (r/r = 1, derivative the identity), r·x/‖x‖ outside.
  const rs = reshape(r, []);
  return alongDirection(t, maximum(norm(t), rs), rs);
}

/**
 * Projection onto the l2 sphere {p : ‖p‖₂ = radius}, over the whole tensor: radius·x/‖x‖. Throws a
 * `ValueError` at x = 0, where every point of the sphere is a projection.
 *
 * @example
 * ```ts
 * import { projection, tensor } from "diffopt";
 * projection.l2Sphere(tensor([0.3, 0.4]), 1).toArray(); // [0.6, 0.8]
 * ```
 */
export function l2Sphere(x: TensorLike, radius: TensorLike = 1): Tensor {
  const t = finiteTensor(x, "projection.l2Sphere", "x");
  const r = scalarParam(radius, "projection.l2Sphere", "radius", positive, "positive");
  const length = norm(t);
  forEachElement(length, ([v], e) => {
    if (v === 0) {
      throw new ValueError(
        `projection.l2Sphere: x is zero${elementNote(e)}, where the projection onto the sphere is not unique`,
      );
    }
  });
  return alongDirection(t, length, reshape(r, []));
}

/**
 * Projection onto the second-order (Lorentz) cone {(y, s) : ‖y‖₂ ≤ s}, with x a tensor (taken whole) and t a
 * scalar. Closed form: (x, t) inside; (0, 0) if ‖x‖ ≤ −t (the polar cone); otherwise α(x/‖x‖, 1) with
 * α = (‖x‖ + t)/2. Differentiable in both parts.
 *
 * @param pair - `[x, t]`.
 * @returns `[y, s]`.
 * @example
 * ```ts
 * import { projection, tensor } from "diffopt";
 * const [y, s] = projection.secondOrderCone([tensor([3, 4]), tensor(1)]);
 * console.log(y.toArray(), s.item()); // [1.8, 2.4] 3
 * ```
 */
export function secondOrderCone(pair: readonly [TensorLike, TensorLike]): [Tensor, Tensor] {
  const fn = "projection.secondOrderCone";
  if (!Array.isArray(pair) || pair.length !== 2) {
    throw new ShapeError(
      `${fn}: expected a pair [x, t], got ${Array.isArray(pair) ? `an array of length ${pair.length}` : typeof pair}`,
    );
  }
  const x = finiteTensor(pair[0], fn, "x");
  const t = finiteTensor(pair[1], fn, "t");
  if (t.size !== 1) throw new ShapeError(`${fn}: t must be a scalar, got shape ${fmt(t.shape)}`);
  const length = norm(x);
  const ts = reshape(t, []);
  const inside = lessEqual(length, ts);
  const polar = lessEqual(length, neg(ts));
  // α = ‖x‖/2 + t/2 rather than (‖x‖ + t)/2, which overflows near the largest float. The cone's own region has
  // ‖x‖ > |t| ≥ 0; elsewhere ‖x‖ is replaced by 1 so that no branch divides by zero (not even in a derivative).
  const alpha = add(mul(length, 0.5), mul(ts, 0.5));
  const onCone = alongDirection(x, where(add(inside, polar), 1, length), alpha);
  const y = where(inside, x, where(polar, 0, onCone));
  const s = where(inside, ts, where(polar, 0, alpha));
  return [y, reshape(s, t.shape)];
}
