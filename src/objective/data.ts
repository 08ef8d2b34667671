/**
 * Argument checks shared by the objectives.
 * @internal
 * @module
 */
import { ShapeError, ValueError } from "../core/errors.js";
import { fmt } from "../core/shape.js";
import { Tensor, asTensor, type TensorLike } from "../core/tensor.js";

/** @internal A design matrix: 2-D, samples along axis 0. */
export function designMatrix(X: TensorLike, fn: string): Tensor {
  const t = asTensor(X);
  if (t.ndim !== 2) throw new ShapeError(`${fn}: X must be a matrix [nSamples, nFeatures], got shape ${fmt(t.shape)}`);
  return t;
}

/** @internal The pair `[X, y]`, checked to be an array of two entries with a 2-D X and matching sample counts. */
export function dataPair(data: readonly [TensorLike, TensorLike], fn: string): [Tensor, Tensor] {
  if (!Array.isArray(data) || data.length !== 2) throw new ValueError(`${fn}: data must be a pair [X, y]`);
  const X = designMatrix(data[0], fn);
  const y = asTensor(data[1]);
  if (y.ndim === 0 || y.shape[0] !== X.shape[0]) {
    throw new ShapeError(
      `${fn}: y must have ${X.shape[0]} rows (one per sample of X ${fmt(X.shape)}), got shape ${fmt(y.shape)}`,
    );
  }
  return [X, y];
}

/** @internal Requires `w` to have exactly `shape`. */
export function requireParamShape(w: Tensor, shape: readonly number[], fn: string, arg: string): void {
  if (w.ndim !== shape.length || w.shape.some((d, i) => d !== shape[i])) {
    throw new ShapeError(`${fn}: ${arg} must have shape ${fmt(shape)}, got ${fmt(w.shape)}`);
  }
}
