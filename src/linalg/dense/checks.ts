/**
 * Argument checks and small differentiable helpers shared by the dense linear-algebra ops.
 * @module
 */
import { NonFiniteError, ShapeError } from "../../core/errors.js";
import { fmt } from "../../core/shape.js";
import { Tensor, asTensor, type TensorLike } from "../../core/tensor.js";
import { elementNote, forEachElement } from "../../core/element-values.js";
import { perElement } from "../../core/vmap.js";
import { customCall, type CustomRule } from "../../core/custom.js";
import { eye } from "../../core/tensor.js";
import { add, div, mul, sub } from "../../core/ops/elementwise.js";
import { moveBatchAxis, reshape, transpose } from "../../core/ops/shape.js";

/**
 * Throws a `NonFiniteError` naming `fn` and `arg` when `x` holds a NaN or an infinity (per batch element under
 * `vmap`, naming it).
 */
export function checkFiniteArg(x: Tensor, fn: string, arg: string): void {
  forEachElement(x, (d, e) => {
    for (let i = 0; i < d.length; i++) {
      const v = d[i]!;
      if (v - v !== 0) {
        throw new NonFiniteError(
          `${fn}: ${arg} has a non-finite entry (${v} at flat index ${i}, shape ${fmt(x.shape)})${elementNote(e)}`,
        );
      }
    }
  });
}

/** A finite 2-D matrix argument; `square` also demands n×n. Returns the tensor and its dimensions. */
export function matrixArg(
  x: TensorLike,
  fn: string,
  arg: string,
  square: boolean,
): { t: Tensor; m: number; n: number } {
  const t = asTensor(x);
  if (t.ndim !== 2) {
    throw new ShapeError(`${fn}: ${arg} must be a 2-D matrix (batches are not supported), got shape ${fmt(t.shape)}`);
  }
  const [m, n] = t.shape as [number, number];
  if (square && m !== n) throw new ShapeError(`${fn}: ${arg} must be square, got shape ${fmt(t.shape)}`);
  checkFiniteArg(t, fn, arg);
  return { t, m, n };
}

/**
 * A finite right-hand side for a matrix with `rows` rows: a vector [rows] or a matrix [rows, k]. Returns it as a
 * [rows, k] matrix and whether it was a vector (to reshape the result back).
 */
export function rhsArg(x: TensorLike, rows: number, fn: string, arg = "b"): { b: Tensor; vector: boolean } {
  const t = asTensor(x);
  if ((t.ndim !== 1 && t.ndim !== 2) || t.shape[0] !== rows) {
    throw new ShapeError(
      `${fn}: ${arg} must have shape [${rows}] or [${rows}, k] to match the matrix, got shape ${fmt(t.shape)}`,
    );
  }
  checkFiniteArg(t, fn, arg);
  return t.ndim === 1 ? { b: reshape(t, [rows, 1]), vector: true } : { b: t, vector: false };
}

/**
 * The batching rule of a solve-like custom call `[A, B] ↦ X` (B n×k, X p×k, column j of X depending on column j of
 * B only) computed by `solveCols`. With A shared by the batch, the batch of right-hand sides is laid side by side
 * as one n×(size·k) right-hand side: one factorisation and one multi-column solve instead of one per element. With
 * A batched, one call per element.
 */
export function rhsBatch<R>(
  rule: CustomRule<R>,
  solveCols: (a: Tensor, b: Tensor) => Tensor,
): NonNullable<CustomRule<R>["batch"]> {
  return (vals, dims, size) => {
    const [a, b] = vals as [Tensor, Tensor];
    if (dims[0] !== null) return [perElement(rule.name, vals, dims, size, (xs) => customCall(rule, xs)), [0]];
    const y = moveBatchAxis(b, dims[1]!, 1, size);
    const [n, , k] = y.shape as [number, number, number];
    const x = solveCols(a, reshape(y, [n, size * k]));
    return [[reshape(x, [x.shape[0]!, size, k])], [1]];
  };
}

/** Undoes {@link rhsArg}: a [n, 1] result back to [n] when the right-hand side was a vector. */
export function restoreRhs(x: Tensor, vector: boolean): Tensor {
  return vector ? reshape(x, [x.shape[0]!]) : x;
}

/** The symmetric part (X + Xᵀ)/2 of a square matrix (differentiable). */
export function symmetrize(x: Tensor): Tensor {
  return mul(add(x, transpose(x)), 0.5);
}

/** A constant n×n 0/1 (or other) mask built from `f(i, j)`. */
export function mask(n: number, f: (i: number, j: number) => number): Tensor {
  const d = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) d[i * n + j] = f(i, j);
  return new Tensor(d, [n, n]);
}

/**
 * E with Eᵢⱼ = 1/(dⱼ − dᵢ) for i ≠ j and 0 on the diagonal (differentiable in d), for sorted values d: the
 * divided differences in the derivatives of eigenvectors and singular vectors. Throws `repeated(i, values, element)`
 * when d[i − 1] and d[i] agree to rounding (within 10·eps·max|d|), where those derivatives do not exist; under
 * vmap the test runs on each batch element's values (`element` is its index, −1 when d is not batched).
 */
export function inverseGaps(
  d: Tensor,
  n: number,
  repeated: (i: number, values: Float64Array, element: number) => Error,
): Tensor {
  forEachElement(d, (values, element) => {
    let scale = 0;
    for (let i = 0; i < n; i++) scale = Math.max(scale, Math.abs(values[i]!));
    for (let i = 1; i < n; i++) {
      if (Math.abs(values[i]! - values[i - 1]!) <= 10 * Number.EPSILON * scale) throw repeated(i, values, element);
    }
  });
  const diff = sub(reshape(d, [1, n]), reshape(d, [n, 1]));
  return div(
    mask(n, (i, j) => (i === j ? 0 : 1)),
    add(diff, eye(n)),
  );
}

/**
 * (A + Aᵀ)/2 of a row-major n×n array, as A/2 + Aᵀ/2: the same rounding for normal numbers, and no overflow when
 * entries are near the largest float.
 */
export function symmetricPart(a: Float64Array, n: number): Float64Array {
  const s = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) s[i * n + j] = 0.5 * a[i * n + j]! + 0.5 * a[j * n + i]!;
  }
  return s;
}
