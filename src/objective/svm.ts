/**
 * The dual of the multiclass linear SVM.
 * @module
 */
import { ShapeError } from "../core/errors.js";
import { fmt } from "../core/shape.js";
import { Tensor, asTensor, type TensorLike } from "../core/tensor.js";
import { add, div, mul, sub } from "../core/ops/elementwise.js";
import { sum } from "../core/ops/reduce.js";
import { matmulTN } from "../core/ops/matmul.js";
import { dataPair } from "./data.js";
import { sharedTranspose, type CompositeLinearParts } from "./composite.js";

/** The value of {@link multiclassLinearSvmDual}. */
function svmDual(beta: TensorLike, l2reg: TensorLike, data: readonly [TensorLike, TensorLike]): Tensor {
  const fn = "objective.multiclassLinearSvmDual";
  const [X, Y] = dataPair(data, fn);
  const b = asTensor(beta);
  if (Y.ndim !== 2)
    throw new ShapeError(`${fn}: Y must be one-hot labels [${X.shape[0]}, nClasses], got shape ${fmt(Y.shape)}`);
  if (b.ndim !== 2 || b.shape[0] !== Y.shape[0] || b.shape[1] !== Y.shape[1]) {
    throw new ShapeError(`${fn}: beta must have the shape of Y ${fmt(Y.shape)}, got ${fmt(b.shape)}`);
  }
  const V = matmulTN(X, sub(Y, b));
  const quad = div(mul(sum(mul(V, V)), 0.5), asTensor(l2reg));
  return add(quad, sum(mul(b, Y)));
}

/** The composite-linear parts of {@link multiclassLinearSvmDual} for (θ, [X, Y]). */
function svmDualParts(l2reg: TensorLike, data: readonly [TensorLike, TensorLike]): CompositeLinearParts {
  const [X, Y] = dataPair(data, "objective.multiclassLinearSvmDual");
  const XT = sharedTranspose(X);
  const XTY = matmulTN(X, Y);
  const theta = asTensor(l2reg);
  return {
    matrix: XT,
    h: (z) => div(mul(sum(mul(sub(XTY, z), sub(XTY, z))), 0.5), theta),
    linear: Y,
    quadratic: { center: XTY, curvature: div(1, theta) },
  };
}

/**
 * Dual objective of the multiclass (Crammer–Singer) linear SVM, to be minimised over β ∈ (△ᵏ)ᵐ (each of the
 * m rows on the probability simplex), as in JAXopt's `multiclass_linear_svm_dual` and the paper's experiment:
 *
 *   f(β; θ, X, Y) = (1 / 2θ)·‖Xᵀ(Y − β)‖²_F + ⟨β, Y⟩,   θ = l2reg > 0,
 *
 * with X [m, p] the samples and Y [m, k] their one-hot labels. The primal weights are W(β) = Xᵀ(Y − β)/θ
 * ({@link svmDualPrimalWeights}). Sign and normalisation: this is the negated dual function
 * ⟨β, 1 − Y⟩ − (1/2θ)‖Xᵀ(Y − β)‖² without its constant (⟨β, 1⟩ = m on the simplices), so it is a convex
 * quadratic to minimise; the primal is min_W Σᵢ maxⱼ (1 − Yᵢⱼ + ⟨xᵢ, wⱼ − w_{yᵢ}⟩) + (θ/2)‖W‖², with the
 * loss summed (not averaged) over samples.
 *
 * It is composite-linear (`multiclassLinearSvmDual.composite`): f = h(Xᵀβ) + ⟨Y, β⟩ with
 * h(z) = (1/2θ)‖XᵀY − z‖², declared quadratic (center XᵀY, curvature 1/θ), so `BlockCoordinateDescent` updates
 * one row of β in O(p·k) without differentiating h at each step.
 *
 * @example
 * ```ts
 * import { objective, tensor } from "diffopt";
 * const X = tensor([[1, 0], [0, 1]]);
 * const Y = tensor([[1, 0], [0, 1]]);
 * objective.multiclassLinearSvmDual(Y, tensor(1), [X, Y]).item(); // β = Y: 0 + ⟨Y, Y⟩ = 2
 * ```
 */
export const multiclassLinearSvmDual = Object.assign(svmDual, { composite: svmDualParts });

/**
 * The primal weights W = Xᵀ(Y − β)/θ [nFeatures, nClasses] of a dual solution β of
 * {@link multiclassLinearSvmDual}; predictions are argmax over the columns of X W.
 *
 * @example
 * ```ts
 * import { objective, tensor } from "diffopt";
 * const X = tensor([[1, 0], [0, 1]]);
 * const Y = tensor([[1, 0], [0, 1]]);
 * objective.svmDualPrimalWeights(tensor([[0.5, 0.5], [0.5, 0.5]]), tensor(1), [X, Y]).toArray(); // [[0.5, -0.5], [-0.5, 0.5]]
 * ```
 */
export function svmDualPrimalWeights(
  beta: TensorLike,
  l2reg: TensorLike,
  data: readonly [TensorLike, TensorLike],
): Tensor {
  const [X, Y] = dataPair(data, "objective.svmDualPrimalWeights");
  return div(matmulTN(X, sub(Y, asTensor(beta))), asTensor(l2reg));
}
