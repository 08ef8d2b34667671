/**
 * Shape arithmetic shared by the ops: broadcasting, axis normalisation, strides.
 * @module
 */
import { ShapeError, ValueError } from "./errors.js";
import type { Shape } from "./tensor.js";

/** @internal Printable shape. */
export function fmt(shape: Shape): string {
  return `[${shape.join(", ")}]`;
}

/**
 * The NumPy broadcast of two shapes. Throws a `ShapeError` naming `op` when they do not broadcast.
 * @internal
 */
export function broadcastShapes(a: Shape, b: Shape, op: string): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const da = i < n - a.length ? 1 : a[i - (n - a.length)]!;
    const db = i < n - b.length ? 1 : b[i - (n - b.length)]!;
    if (da === db || db === 1) out[i] = da;
    else if (da === 1) out[i] = db;
    else throw new ShapeError(`${op}: shapes ${fmt(a)} and ${fmt(b)} do not broadcast (axis ${i}: ${da} vs ${db})`);
  }
  return out;
}

/** @internal Row-major strides of a shape. */
export function stridesOf(shape: Shape): number[] {
  const s: number[] = new Array(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

/**
 * For every element of `outShape` (row-major), the index of the element of an array of shape `inShape` that
 * broadcasts to it.
 * @internal
 */
export function broadcastIndex(inShape: Shape, outShape: Shape): Int32Array {
  const nd = outShape.length;
  const offset = nd - inShape.length;
  const inStrides = stridesOf(inShape);
  const strides: number[] = new Array(nd).fill(0);
  for (let i = 0; i < inShape.length; i++) strides[i + offset] = inShape[i] === 1 ? 0 : inStrides[i]!;
  let size = 1;
  for (const d of outShape) size *= d;
  const idx = new Int32Array(size);
  if (size === 0) return idx;
  const counter: number[] = new Array(nd).fill(0);
  let pos = 0;
  for (let k = 0; k < size; k++) {
    idx[k] = pos;
    for (let ax = nd - 1; ax >= 0; ax--) {
      counter[ax]!++;
      pos += strides[ax]!;
      if (counter[ax]! < outShape[ax]!) break;
      pos -= strides[ax]! * outShape[ax]!;
      counter[ax] = 0;
    }
  }
  return idx;
}

/**
 * Normalises an `axis` argument (number, array, or undefined for all axes) to a sorted list of distinct
 * non-negative axes. Throws a `ValueError` naming `op` when an axis is out of range or repeated.
 * @internal
 */
export function normalizeAxes(axis: number | readonly number[] | undefined | null, ndim: number, op: string): number[] {
  if (axis === undefined || axis === null) return Array.from({ length: ndim }, (_, i) => i);
  const list = typeof axis === "number" ? [axis] : [...axis];
  const out = list.map((a) => normalizeAxis(a, ndim, op));
  out.sort((x, y) => x - y);
  for (let i = 1; i < out.length; i++) {
    if (out[i] === out[i - 1]) throw new ValueError(`${op}: repeated axis ${out[i]} in [${list.join(", ")}]`);
  }
  return out;
}

/** @internal One axis, negative counting from the end, checked against `ndim`. */
export function normalizeAxis(axis: number, ndim: number, op: string): number {
  if (!Number.isInteger(axis) || axis < -ndim || axis >= ndim) {
    throw new ValueError(`${op}: axis ${axis} is out of range for a tensor with ${ndim} axes`);
  }
  return axis < 0 ? axis + ndim : axis;
}
