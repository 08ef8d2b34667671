/**
 * The proximal operators on tensors; `index.ts` exports them extended to pytrees.
 * @module
 */
import { ShapeError, ValueError } from "../core/errors.js";
import { abs, add, div, greater, mul, relu, sign, sub, where } from "../core/ops/elementwise.js";
import { norm } from "../core/ops/norm.js";
import { reshape } from "../core/ops/shape.js";
import { broadcastShapes, fmt } from "../core/shape.js";
import { Tensor, sameShape, type TensorLike } from "../core/tensor.js";
import { checkValues, finiteTensor, nonNegativeValue, scalarParam } from "../projection/checks.js";

/** A regularisation strength: non-negative, a number or a tensor broadcasting to the shape of x. */
function strength(v: TensorLike, x: Tensor, fn: string, arg: string): Tensor {
  const t = finiteTensor(v, fn, arg);
  if (!sameShape(broadcastShapes(t.shape, x.shape, fn), x.shape)) {
    throw new ShapeError(`${fn}: ${arg} of shape ${fmt(t.shape)} does not broadcast to the shape ${fmt(x.shape)} of x`);
  }
  return checkValues(t, fn, arg, nonNegativeValue, "non-negative");
}

function scalingParam(s: TensorLike, fn: string): Tensor {
  return reshape(scalarParam(s, fn, "scaling", nonNegativeValue, "non-negative"), []);
}

/**
 * The proximal operator of g = 0: the identity.
 *
 * @example
 * ```ts
 * import { prox, tensor } from "diffopt";
 * prox.none(tensor([1, -2])).toArray(); // [1, -2]
 * ```
 */
export function none(x: TensorLike, _hyperparams?: unknown, scaling: TensorLike = 1): Tensor {
  scalingParam(scaling, "prox.none");
  return finiteTensor(x, "prox.none", "x");
}

/**
 * Soft-thresholding, the prox of g(y) = l1reg·‖y‖₁: sign(x)·max(|x| − l1reg·scaling, 0). `l1reg` may be a
 * tensor (one strength per coordinate). Jacobian in x: diag(1[|x| > l1reg·scaling]).
 *
 * @example
 * ```ts
 * import { prox, tensor } from "diffopt";
 * prox.lasso(tensor([-2, 0.5, 3]), 1, 0.5).toArray(); // [-1.5, 0, 2.5]
 * ```
 */
export function lasso(x: TensorLike, l1reg: TensorLike = 1, scaling: TensorLike = 1): Tensor {
  const fn = "prox.lasso";
  const t = finiteTensor(x, fn, "x");
  const thr = mul(strength(l1reg, t, fn, "l1reg"), scalingParam(scaling, fn));
  return mul(sign(t), relu(sub(abs(t), thr)));
}

/**
 * The prox of g(y) = l1reg·Σ yᵢ + ι(y ≥ 0) (the non-negative lasso): max(x − l1reg·scaling, 0).
 *
 * @example
 * ```ts
 * import { prox, tensor } from "diffopt";
 * prox.nonNegativeLasso(tensor([-2, 0.5, 3]), 1).toArray(); // [0, 0, 2]
 * ```
 */
export function nonNegativeLasso(x: TensorLike, l1reg: TensorLike = 1, scaling: TensorLike = 1): Tensor {
  const fn = "prox.nonNegativeLasso";
  const t = finiteTensor(x, fn, "x");
  return relu(sub(t, mul(strength(l1reg, t, fn, "l1reg"), scalingParam(scaling, fn))));
}

/**
 * The prox of the elastic net, with JAXopt's parametrisation `hyperparams = [l1reg, l2reg]` and
 * g(y) = l1reg·(‖y‖₁ + ½·l2reg·‖y‖²): soft-threshold(x, l1reg·s) / (1 + l1reg·l2reg·s), s = scaling.
 *
 * @example
 * ```ts
 * import { prox, tensor } from "diffopt";
 * prox.elasticNet(tensor([-2, 0.5, 3]), [1, 1]).toArray(); // [-0.5, 0, 1]
 * ```
 */
export function elasticNet(
  x: TensorLike,
  hyperparams: readonly [TensorLike, TensorLike] = [1, 1],
  scaling: TensorLike = 1,
): Tensor {
  const fn = "prox.elasticNet";
  if (!Array.isArray(hyperparams) || hyperparams.length !== 2) {
    throw new ValueError(`${fn}: hyperparams must be a pair [l1reg, l2reg]`);
  }
  const t = finiteTensor(x, fn, "x");
  const l1 = strength(hyperparams[0], t, fn, "l1reg");
  const l2 = strength(hyperparams[1], t, fn, "l2reg");
  const s = scalingParam(scaling, fn);
  const thr = mul(l1, s);
  return div(mul(sign(t), relu(sub(abs(t), thr))), add(1, mul(thr, l2)));
}

/**
 * Block soft-thresholding, the prox of g(y) = l2reg·‖y‖₂ over the whole tensor (one group):
 * max(1 − l2reg·scaling/‖x‖, 0)·x. Its Jacobian outside the ball is
 * (1 − c/‖x‖)I + c·xxᵀ/‖x‖³ (c = l2reg·scaling), zero inside.
 *
 * @example
 * ```ts
 * import { prox, tensor } from "diffopt";
 * prox.groupLasso(tensor([3, 4]), 2.5).toArray(); // [1.5, 2]
 * ```
 */
export function groupLasso(x: TensorLike, l2reg: TensorLike = 1, scaling: TensorLike = 1): Tensor {
  const fn = "prox.groupLasso";
  const t = finiteTensor(x, fn, "x");
  const c = mul(
    reshape(scalarParam(l2reg, fn, "l2reg", nonNegativeValue, "non-negative"), []),
    scalingParam(scaling, fn),
  );
  // ‖x‖ from the scaled norm: Σx² would overflow at |x| ≈ 1e155 and vanish at 1e-200.
  // Chosen with ops (so element by element under vmap): 0 inside the ball, where ‖x‖ is replaced by 1 so that
  // no derivative divides by zero.
  const length = norm(t);
  const outside = greater(length, c);
  return where(outside, mul(t, sub(1, div(c, where(outside, length, 1)))), 0);
}

/**
 * The prox of g(y) = ½·l2reg·‖y‖²: x / (1 + l2reg·scaling).
 *
 * @example
 * ```ts
 * import { prox, tensor } from "diffopt";
 * prox.ridge(tensor([2, -4]), 1).toArray(); // [1, -2]
 * ```
 */
export function ridge(x: TensorLike, l2reg: TensorLike = 1, scaling: TensorLike = 1): Tensor {
  const fn = "prox.ridge";
  const t = finiteTensor(x, fn, "x");
  return div(t, add(1, mul(strength(l2reg, t, fn, "l2reg"), scalingParam(scaling, fn))));
}

/**
 * The prox of g(y) = ½·l2reg·‖y‖² + ι(y ≥ 0): max(x, 0) / (1 + l2reg·scaling).
 *
 * @example
 * ```ts
 * import { prox, tensor } from "diffopt";
 * prox.nonNegativeRidge(tensor([2, -4]), 1).toArray(); // [1, 0]
 * ```
 */
export function nonNegativeRidge(x: TensorLike, l2reg: TensorLike = 1, scaling: TensorLike = 1): Tensor {
  const fn = "prox.nonNegativeRidge";
  const t = finiteTensor(x, fn, "x");
  return div(relu(t), add(1, mul(strength(l2reg, t, fn, "l2reg"), scalingParam(scaling, fn))));
}

/** A proximal operator in the `prox.*` signature. */
export type ProxFn<H> = (x: TensorLike, hyperparams: H, scaling?: TensorLike) => Tensor;

/**
 * Turns a projection onto C into the prox of its indicator ι_C (the same for every scaling), with the
 * projection's parameters passed as the hyperparameters array: `fromProjection(p)(x, [a, b])` is `p(x, a, b)`.
 *
 * @example
 * ```ts
 * import { prox, projection, tensor } from "diffopt";
 * const proxBox = prox.fromProjection(projection.box);
 * proxBox(tensor([-1, 0.5, 2]), [0, 1], 0.1).toArray(); // [0, 0.5, 1]
 * ```
 */
export function fromProjection<P extends unknown[]>(
  projectionFn: (x: TensorLike, ...params: P) => Tensor,
): ProxFn<P | undefined> {
  return (x, hyperparams, scaling = 1) => {
    scalingParam(scaling, "prox.fromProjection");
    const params = (hyperparams ?? []) as P;
    if (!Array.isArray(params)) {
      throw new ValueError("prox.fromProjection: hyperparams must be an array of the projection's parameters");
    }
    return projectionFn(x, ...params);
  };
}
