/**
 * Least-squares objectives.
 * @module
 */
import { ShapeError } from "../core/errors.js";
import { fmt } from "../core/shape.js";
import { Tensor, asTensor, type TensorLike } from "../core/tensor.js";
import { add, mul, square, sub } from "../core/ops/elementwise.js";
import { sum } from "../core/ops/reduce.js";
import { matmul } from "../core/ops/matmul.js";
import { dataPair } from "./data.js";

/**
 * Least squares ½·mean((X w − y)²) over all entries of the residual, as JAXopt's `least_squares`. `w` is a
 * vector [nFeatures] with y [nSamples], or a matrix [nFeatures, nTargets] with y [nSamples, nTargets].
 *
 * @example
 * ```ts
 * import { objective, tensor } from "diffopt";
 * objective.leastSquares(tensor([1]), [tensor([[1], [2]]), tensor([0, 0])]).item(); // (1 + 4) / 4 = 1.25
 * ```
 */
export function leastSquares(w: TensorLike, data: readonly [TensorLike, TensorLike]): Tensor {
  const fn = "objective.leastSquares";
  const [X, y] = dataPair(data, fn);
  const wt = asTensor(w);
  if (wt.ndim < 1 || wt.ndim > 2 || wt.shape[0] !== X.shape[1] || wt.ndim !== y.ndim) {
    throw new ShapeError(
      `${fn}: params of shape ${fmt(wt.shape)} do not fit X ${fmt(X.shape)} and y ${fmt(y.shape)} (expected [${X.shape[1]}] with 1-D y or [${X.shape[1]}, k] with y [n, k])`,
    );
  }
  const r = sub(matmul(X, wt), y);
  return mul(sum(square(r)), 0.5 / r.size);
}

/**
 * Ridge regression: least squares ½·mean((X w − y)²) plus ½·l2reg·‖w‖², as JAXopt's `ridge_regression`.
 * For a vector w its minimiser is (XᵀX/n + l2reg·I)⁻¹ Xᵀy/n.
 *
 * @example
 * ```ts
 * import { objective, tensor } from "diffopt";
 * objective.ridgeRegression(tensor([1]), tensor(2), [tensor([[1], [2]]), tensor([0, 0])]).item(); // 1.25 + 1
 * ```
 */
export function ridgeRegression(w: TensorLike, l2reg: TensorLike, data: readonly [TensorLike, TensorLike]): Tensor {
  const wt = asTensor(w);
  return add(leastSquares(wt, data), mul(mul(asTensor(l2reg), 0.5), sum(square(wt))));
}
