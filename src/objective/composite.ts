/**
 * Composite-linear objectives f(x, ...args) = h(M x, ...args) + ⟨B, x⟩, with x a matrix whose rows are blocks.
 *
 * Why: block coordinate descent changes one row x_j at a time. For a generic f each block step needs the whole
 * gradient ∇f(x) (m gradients per sweep). When f has this structure, the "predictions" z = M x change by the
 * rank-one term M[:, j] ⊗ Δx_j and the block gradient is ∇_j f = M[:, j]ᵀ ∇h(z) + B_j, so a block step costs
 * O(q·r) instead of a full gradient, and a sweep costs about one gradient. JAXopt's `CompositeLinearFunction`
 * exposes the same structure to its BlockCoordinateDescent; here an objective carries it as a `composite` field
 * and `BlockCoordinateDescent` uses it when present.
 * @module
 */
import { ShapeError, ValueError } from "../core/errors.js";
import { fmt } from "../core/shape.js";
import { Tensor, asTensor, onesLike, type TensorLike } from "../core/tensor.js";
import { stopGradient, valueAndGrad } from "../core/transforms.js";
import { add, mul, sub } from "../core/ops/elementwise.js";
import { sum } from "../core/ops/reduce.js";
import { matmul, matrixTranspose } from "../core/ops/matmul.js";

/** The pieces of f(x) = h(M x) + ⟨B, x⟩ for given arguments (see {@link CompositeLinearStructure}). */
export interface CompositeLinearParts {
  /** M [q, m]: the linear map acting on the block axis of x [m, r]. */
  matrix: Tensor;
  /** h(z) of the predictions z = M x [q, r], a scalar. */
  h: (z: Tensor) => Tensor;
  /** B [m, r], the linear term (omitted: zero). */
  linear?: Tensor;
  /**
   * Optional: declares that h is the isotropic quadratic h(z) = (curvature/2)·‖z − center‖² (up to a constant),
   * with `center` [q, r] and a scalar `curvature` (tensors that may depend on traced args). Then
   * ∇h(z) = curvature·(z − center), and `BlockCoordinateDescent` computes a block gradient as
   * curvature·M[:, j]ᵀ(z − center) + B_j in O(q·r), instead of differentiating h at every block step. `h` stays
   * the definition of the objective; `BlockCoordinateDescent.init` checks that its gradient agrees with the
   * declaration at two points, and throws a `ValueError` otherwise.
   */
  quadratic?: { center: Tensor; curvature: Tensor | number };
}

/**
 * An objective that exposes its composite-linear structure: `composite(...args)` returns M, h and B with
 * f(x, ...args) = h(M x) + ⟨B, x⟩ for x [m, r]. The pieces may depend on (traced) args differentiably, so that
 * unrolled derivatives through a solver that uses them stay exact.
 */
export interface CompositeLinearStructure {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the args of the objective it describes
  composite: (...args: any[]) => CompositeLinearParts;
}

/**
 * Builds the objective f(x, ...args) = h(M x) + ⟨B, x⟩ from a function of the args returning its parts; the
 * result is a plain objective (usable by every solver) that also carries the structure for
 * `BlockCoordinateDescent`.
 *
 * @example
 * ```ts
 * import { objective, matmul, sum, square, sub, tensor, type Tensor } from "diffopt";
 * // f(x; A, y) = ½‖A x − y‖², blocks = rows of x [2, 1]
 * const f = objective.compositeLinear((A: Tensor, y: Tensor) => ({
 *   matrix: A,
 *   h: (z: Tensor) => sum(square(sub(z, y))).mul(0.5),
 * }));
 * f(tensor([[1], [1]]), tensor([[1, 0], [0, 2]]), tensor([[1], [0]])).item(); // ½(0² + 2²) = 2
 * // the same h declared quadratic (curvature 1, center y): BlockCoordinateDescent then never differentiates h
 * const g = objective.compositeLinear((A: Tensor, y: Tensor) => ({
 *   matrix: A,
 *   h: (z: Tensor) => sum(square(sub(z, y))).mul(0.5),
 *   quadratic: { center: y, curvature: 1 },
 * }));
 * g(tensor([[1], [1]]), tensor([[1, 0], [0, 2]]), tensor([[1], [0]])).item(); // 2
 * ```
 */
export function compositeLinear<A extends unknown[]>(
  composite: (...args: A) => CompositeLinearParts,
): ((x: TensorLike, ...args: A) => Tensor) & CompositeLinearStructure {
  const f = (x: TensorLike, ...args: A): Tensor => compositeValue(composite(...args), asTensor(x), "compositeLinear");
  return Object.assign(f, { composite });
}

/** @internal h(M x) + ⟨B, x⟩, checking that M acts on the block axis of x. */
export function compositeValue(parts: CompositeLinearParts, x: Tensor, who: string): Tensor {
  checkCompositeShapes(parts, x, who);
  const v = parts.h(matmul(parts.matrix, x));
  return parts.linear === undefined ? v : add(v, sum(mul(parts.linear, x)));
}

/** @internal M must be [q, m] and B [m, r] for x [m, r]. */
export function checkCompositeShapes(parts: CompositeLinearParts, x: Tensor, who: string): void {
  const M = parts.matrix;
  if (x.ndim !== 2) throw new ShapeError(`${who}: x must be a matrix [blocks, blockSize], got shape ${fmt(x.shape)}`);
  if (M.ndim !== 2 || M.shape[1] !== x.shape[0])
    throw new ShapeError(
      `${who}: the composite matrix M must be [q, ${x.shape[0]}] (one column per block of x ${fmt(x.shape)}), got ${fmt(M.shape)}`,
    );
  const B = parts.linear;
  const quad = parts.quadratic;
  if (quad !== undefined) {
    const c = quad.center;
    const rows = M.ndim === 2 ? M.shape[0] : "q";
    if (c.ndim !== 2 || c.shape[0] !== M.shape[0] || c.shape[1] !== x.shape[1])
      throw new ShapeError(
        `${who}: the quadratic's center must have the shape of z = M x [${rows}, ${x.shape[1]}], got ${fmt(c.shape)}`,
      );
    if (asTensor(quad.curvature).ndim !== 0)
      throw new ShapeError(
        `${who}: the quadratic's curvature must be a scalar, got shape ${fmt(asTensor(quad.curvature).shape)}`,
      );
  }
  if (B !== undefined && (B.ndim !== 2 || B.shape[0] !== x.shape[0] || B.shape[1] !== x.shape[1]))
    throw new ShapeError(`${who}: the linear term B must have the shape of x ${fmt(x.shape)}, got ${fmt(B.shape)}`);
}

/**
 * @internal Checks a `quadratic` declaration against h (plain values): ∇h(z) must equal curvature·(z − center) at
 * z = M x and at z + 1 (relative 1e-8), else a `ValueError`. Catches a declaration that disagrees with h (a
 * forgotten factor, another center), which would otherwise make `BlockCoordinateDescent` minimise another function.
 */
export function checkQuadraticDeclaration(parts: CompositeLinearParts, x: Tensor, who: string): void {
  const quad = parts.quadratic;
  if (quad === undefined) return;
  const z0 = stopGradient(matmul(parts.matrix, x));
  const center = stopGradient(quad.center);
  const curvature = stopGradient(asTensor(quad.curvature));
  // under vmap the values are batched: each element is checked where it runs unbatched
  if (z0.level !== 0 || center.level !== 0 || curvature.level !== 0) return;
  for (const z of [z0, add(z0, onesLike(z0))]) {
    const hz = stopGradient(valueAndGrad(parts.h)(z)[1] as Tensor);
    if (hz.level !== 0) return;
    const declared = mul(curvature, sub(z, center)).raw;
    let diff = 0;
    let size = 0;
    for (let i = 0; i < declared.length; i++) {
      diff = Math.max(diff, Math.abs(hz.raw[i]! - declared[i]!));
      size = Math.max(size, Math.abs(hz.raw[i]!), Math.abs(declared[i]!));
    }
    if (!(diff <= 1e-8 * size))
      throw new ValueError(
        `${who}: the composite parts declare h quadratic, (curvature/2)·‖z − center‖², but ∇h(z) differs from curvature·(z − center) by ${diff} (largest entry ${size}); fix the declaration or omit it`,
      );
  }
}

/** Transposes of concrete matrices, made once per matrix (tensors are immutable). */
const transposes = new WeakMap<Tensor, Tensor>();

/**
 * Mᵀ, made once per concrete M so that every sweep or call on the same data shares it (a traced M is transposed
 * each time).
 * @internal
 */
export function sharedTranspose(M: Tensor): Tensor {
  if (M.level !== 0) return matrixTranspose(M);
  let t = transposes.get(M);
  if (t === undefined) {
    t = matrixTranspose(M);
    transposes.set(M, t);
  }
  return t;
}
