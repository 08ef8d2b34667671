/**
 * Logistic-regression objectives: the mean loss of a linear model over the samples of `data`.
 * @module
 */
import { ShapeError, ValueError } from "../core/errors.js";
import { fmt } from "../core/shape.js";
import { Tensor, asTensor, type TensorLike } from "../core/tensor.js";
import { add, mul, square } from "../core/ops/elementwise.js";
import { sum } from "../core/ops/reduce.js";
import { matmul } from "../core/ops/matmul.js";
import { binaryLogistic, multiclassLogistic } from "../loss/classification.js";
import { dataPair, requireParamShape } from "./data.js";

function mean(x: Tensor): Tensor {
  return mul(sum(x), 1 / x.size);
}

/**
 * Binary logistic regression: mean over samples of the binary logistic loss of the scores X w, for labels
 * y ∈ [0, 1] of shape [nSamples] (JAXopt's `binary_logreg`).
 *
 * @example
 * ```ts
 * import { objective, tensor } from "diffopt";
 * objective.binaryLogreg(tensor([0, 0]), [tensor([[1, 2], [3, 4]]), tensor([1, 0])]).item(); // log 2
 * ```
 */
export function binaryLogreg(w: TensorLike, data: readonly [TensorLike, TensorLike]): Tensor {
  const fn = "objective.binaryLogreg";
  const [X, y] = dataPair(data, fn);
  const wt = asTensor(w);
  requireParamShape(wt, [X.shape[1]!], fn, "w");
  if (y.ndim !== 1)
    throw new ShapeError(`${fn}: y must be a vector of labels [${X.shape[0]}], got shape ${fmt(y.shape)}`);
  return mean(binaryLogistic(y, matmul(X, wt)));
}

/** Scores X W (+ b) with shape checks; `W` is [nFeatures, nClasses]. */
function scores(fn: string, X: Tensor, W: Tensor, b?: Tensor): Tensor {
  if (W.ndim !== 2 || W.shape[0] !== X.shape[1]) {
    throw new ShapeError(
      `${fn}: W must have shape [${X.shape[1]}, nClasses] for X ${fmt(X.shape)}, got ${fmt(W.shape)}`,
    );
  }
  const s = matmul(X, W);
  if (b === undefined) return s;
  requireParamShape(b, [W.shape[1]!], fn, "b");
  return add(s, b);
}

/**
 * Multiclass logistic regression: mean over samples of the softmax cross-entropy of the scores X W, for
 * integer labels y [nSamples] or one-hot labels [nSamples, nClasses] (JAXopt's `multiclass_logreg`).
 *
 * @example
 * ```ts
 * import { objective, zeros, tensor } from "diffopt";
 * objective.multiclassLogreg(zeros([2, 3]), [tensor([[1, 2], [3, 4]]), tensor([0, 2])]).item(); // log 3
 * ```
 */
export function multiclassLogreg(W: TensorLike, data: readonly [TensorLike, TensorLike]): Tensor {
  const fn = "objective.multiclassLogreg";
  const [X, y] = dataPair(data, fn);
  return mean(multiclassLogistic(y, scores(fn, X, asTensor(W))));
}

/**
 * Multiclass logistic regression plus the ridge penalty ½·l2reg·‖W‖² (JAXopt's `l2_multiclass_logreg`).
 *
 * @example
 * ```ts
 * import { objective, ones, tensor } from "diffopt";
 * const data = [tensor([[0, 0]]), tensor([1])] as const;
 * objective.l2MulticlassLogreg(ones([2, 2]), tensor(0.5), data).item(); // log 2 + 1
 * ```
 */
export function l2MulticlassLogreg(W: TensorLike, l2reg: TensorLike, data: readonly [TensorLike, TensorLike]): Tensor {
  const Wt = asTensor(W);
  return add(multiclassLogreg(Wt, data), mul(mul(asTensor(l2reg), 0.5), sum(square(Wt))));
}

function pairParams(params: readonly [TensorLike, TensorLike], fn: string): [Tensor, Tensor] {
  if (!Array.isArray(params) || params.length !== 2) throw new ValueError(`${fn}: params must be a pair [W, b]`);
  return [asTensor(params[0]), asTensor(params[1])];
}

/**
 * Multiclass logistic regression with an intercept: scores X W + b, params `[W, b]` with W [nFeatures,
 * nClasses] and b [nClasses] (JAXopt's `multiclass_logreg_with_intercept`).
 *
 * @example
 * ```ts
 * import { objective, zeros, tensor } from "diffopt";
 * const data = [tensor([[1, 2]]), tensor([0])] as const;
 * objective.multiclassLogregWithIntercept([zeros([2, 2]), tensor([1, 0])], data).item(); // log(1 + e⁻¹)
 * ```
 */
export function multiclassLogregWithIntercept(
  params: readonly [TensorLike, TensorLike],
  data: readonly [TensorLike, TensorLike],
): Tensor {
  const fn = "objective.multiclassLogregWithIntercept";
  const [W, b] = pairParams(params, fn);
  const [X, y] = dataPair(data, fn);
  return mean(multiclassLogistic(y, scores(fn, X, W, b)));
}

/**
 * Multiclass logistic regression with an intercept plus ½·l2reg·‖W‖² (the intercept is not penalised), as
 * JAXopt's `l2_multiclass_logreg_with_intercept`.
 *
 * @example
 * ```ts
 * import { objective, ones, zeros, tensor } from "diffopt";
 * const data = [tensor([[0, 0]]), tensor([1])] as const;
 * objective.l2MulticlassLogregWithIntercept([ones([2, 2]), zeros([2])], tensor(1), data).item(); // log 2 + 2
 * ```
 */
export function l2MulticlassLogregWithIntercept(
  params: readonly [TensorLike, TensorLike],
  l2reg: TensorLike,
  data: readonly [TensorLike, TensorLike],
): Tensor {
  const [W, b] = pairParams(params, "objective.l2MulticlassLogregWithIntercept");
  return add(multiclassLogregWithIntercept([W, b], data), mul(mul(asTensor(l2reg), 0.5), sum(square(W))));
}
