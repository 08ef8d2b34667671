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
import { ShapeError } from "../core/errors.js";
import { fmt } from "../core/shape.js";
import { Tensor, asTensor, type TensorLike } from "../core/tensor.js";
import { add, mul } from "../core/ops/elementwise.js";
import { sum } from "../core/ops/reduce.js";
import { matmul } from "../core/ops/matmul.js";

/** The pieces of f(x) = h(M x) + ⟨B, x⟩ for given arguments (see {@link CompositeLinearStructure}). */
export interface CompositeLinearParts {
  /** M [q, m]: the linear map acting on the block axis of x [m, r]. */
  matrix: Tensor;
  /** h(z) of the predictions z = M x [q, r], a scalar. */
  h: (z: Tensor) => Tensor;
  /** B [m, r], the linear term (omitted: zero). */
  linear?: Tensor;
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
  if (B !== undefined && (B.ndim !== 2 || B.shape[0] !== x.shape[0] || B.shape[1] !== x.shape[1]))
    throw new ShapeError(`${who}: the linear term B must have the shape of x ${fmt(x.shape)}, got ${fmt(B.shape)}`);
}
