/**
 * Argument checks shared by the projections and prox operators: every failure is a typed error whose
 * message names the function, the argument and the problem.
 * @module
 */
import { NonFiniteError, ShapeError, ValueError } from "../core/errors.js";
import { atBoundary } from "../core/check.js";
import { fmt } from "../core/shape.js";
import { broadcastTo } from "../core/ops/broadcast.js";
import { sub } from "../core/ops/elementwise.js";
import { Tensor, asTensor, type TensorLike } from "../core/tensor.js";
import { elementNote, forEachElement } from "../core/element-values.js";

/**
 * @internal `x` as a tensor whose values are all finite. The checks of this module run per batch element under
 * `vmap` (see `forEachElement`), naming the element in their messages.
 */
export function finiteTensor(x: TensorLike, fn: string, arg: string): Tensor {
  const t = atBoundary(`${fn}: ${arg}`, () => asTensor(x));
  forEachElement(t, (d, e) => {
    for (let i = 0; i < d.length; i++) {
      if (!Number.isFinite(d[i]!)) {
        throw new NonFiniteError(`${fn}: ${arg} has a non-finite value ${d[i]} at flat index ${i}${elementNote(e)}`);
      }
    }
  });
  return t;
}

/** @internal `x` as a tensor with at least `minDims` axes, finite. */
export function finiteWithRank(x: TensorLike, fn: string, arg: string, minDims: number): Tensor {
  const t = finiteTensor(x, fn, arg);
  if (t.ndim < minDims) {
    throw new ShapeError(
      `${fn}: ${arg} must have at least ${minDims} axis${minDims > 1 ? "es" : ""}, got shape ${fmt(t.shape)}`,
    );
  }
  return t;
}

/**
 * @internal Rows (along the last axis) of scores to put mass on: at least one axis, no NaN and no +∞, and in
 * each non-empty row a finite entry. −∞ entries are allowed: they mark entries that get no mass (masking).
 */
export function maskableRows(x: TensorLike, fn: string, arg: string): Tensor {
  const t = asTensor(x);
  if (t.ndim < 1) throw new ShapeError(`${fn}: ${arg} must have at least 1 axis, got shape ${fmt(t.shape)}`);
  const n = t.shape[t.ndim - 1]!;
  forEachElement(t, (d, e) => {
    for (let off = 0; off < d.length; off += n) {
      let finite = false;
      for (let i = off; i < off + n; i++) {
        const v = d[i]!;
        if (v !== v || v === Infinity) {
          throw new NonFiniteError(
            `${fn}: ${arg} has a non-finite value ${v} at flat index ${i}${elementNote(e)} (only −∞ is allowed)`,
          );
        }
        if (v !== -Infinity) finite = true;
      }
      if (!finite) {
        throw new ValueError(
          `${fn}: ${arg} has a row of −∞ only (flat indices ${off}..${off + n - 1}${elementNote(e)}): at least one entry of each row must be finite to carry the mass`,
        );
      }
    }
  });
  return t;
}

/** @internal A one-element parameter (a number or a scalar tensor), finite and with values allowed by `ok`. */
export function scalarParam(v: TensorLike, fn: string, arg: string, ok: (x: number) => boolean, what: string): Tensor {
  const t = finiteTensor(v, fn, arg);
  if (t.size !== 1) throw new ShapeError(`${fn}: ${arg} must be a scalar, got shape ${fmt(t.shape)}`);
  forEachElement(t, (d, e) => {
    if (!ok(d[0]!)) throw new ValueError(`${fn}: ${arg} must be ${what}, got ${d[0]}${elementNote(e)}`);
  });
  return t;
}

/** @internal Checks that every value of `t` is allowed by `ok`; returns `t`. */
export function checkValues(t: Tensor, fn: string, arg: string, ok: (x: number) => boolean, what: string): Tensor {
  forEachElement(t, (d, e) => {
    for (let i = 0; i < d.length; i++) {
      if (!ok(d[i]!)) {
        throw new ValueError(`${fn}: ${arg} must be ${what}, got ${d[i]} at flat index ${i}${elementNote(e)}`);
      }
    }
  });
  return t;
}

/**
 * @internal Throws a `ValueError` naming `fn` where `lower` > `upper` (both broadcast to `shape`); per batch element
 * under `vmap`.
 */
export function checkOrdered(lower: Tensor, upper: Tensor, shape: readonly number[], fn: string): void {
  const gap = sub(broadcastTo(lower, shape), broadcastTo(upper, shape));
  forEachElement(gap, (d, e) => {
    for (let i = 0; i < d.length; i++) {
      if (d[i]! > 0) throw new ValueError(`${fn}: lower > upper at flat index ${i} of x${elementNote(e)}`);
    }
  });
}

/** True when `t` has exactly `shape`. */
function hasShape(t: Tensor, shape: readonly number[]): boolean {
  return t.shape.length === shape.length && t.shape.every((d, i) => d === shape[i]);
}

/** @internal Throws a `ShapeError` unless `t` has `shape`. */
export function requireShape(t: Tensor, shape: readonly number[], fn: string, arg: string, expected: string): void {
  if (!hasShape(t, shape)) {
    throw new ShapeError(`${fn}: ${arg} must have shape ${fmt(shape)} (${expected}), got ${fmt(t.shape)}`);
  }
}

/** @internal Value test: strictly positive. */
export const positive = (x: number): boolean => x > 0;
/** @internal Value test: non-negative. */
export const nonNegativeValue = (x: number): boolean => x >= 0;
