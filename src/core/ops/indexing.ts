/**
 * Indexing: `slice` (NumPy basic indexing), `take` and its transpose `scatterAdd`, and JAX-style functional
 * updates `at(x, ...).set / add / mul / get`.
 *
 * Every selection is described by a flat index map — for each element of the result, the row-major position
 * of the element of `x` it reads, stored as the starts of runs of `run` consecutive positions so that a
 * contiguous last axis costs one entry per row — and goes through one pair of linear primitives: `gather`
 * (out[i·run + q] = x[starts[i] + q]) and `scatter` (the same positions added into zeros). Each is the
 * other's transpose, so their JVPs apply the same op to the tangent, their VJPs apply the other one, and
 * derivatives of any order follow. Positions selected twice (duplicate indices) accumulate in the scatter, as
 * a transpose must.
 *
 * @module
 */
import { bind, type Primitive } from "../engine.js";
import { allocFloat64 } from "../alloc.js";
import { ShapeError, ValueError } from "../errors.js";
import { fmt, normalizeAxis, stridesOf } from "../shape.js";
import { Tensor, asTensor, shapeSize, zeros as zerosOf, type Shape, type TensorLike } from "../tensor.js";
import { elementNote, forEachElement } from "../element-values.js";
import { broadcastTo } from "./broadcast.js";
import { add, less, mul, where } from "./elementwise.js";
import { defineMethod } from "./define-method.js";
import { expandDims, moveAxis, moveBatchAxis, ravel, repeat, reshape, squeeze, swapAxes, tile } from "./shape.js";
import { scatterAlongAxis, takeAlongAxis } from "./sort.js";

/** @internal Static parameters of `gather`/`scatter`: the index map and the shapes on both sides. */
export interface GatherParams {
  /** Element i·run + q of the gathered (small) side is element starts[i] + q of the full side (row-major). */
  readonly starts: Int32Array;
  readonly run: number;
  /** Shape of the full side (the input of `gather`, the output of `scatter`). */
  readonly fullShape: Shape;
  /** Shape of the gathered side. */
  readonly outShape: Shape;
}

const gatherPrim: Primitive<GatherParams> = {
  name: "gather",
  impl([x], p) {
    const src = x!.raw;
    const { starts, run } = p;
    const out = allocFloat64(starts.length * run);
    if (run === 1) {
      for (let i = 0; i < starts.length; i++) out[i] = src[starts[i]!]!;
    } else {
      for (let i = 0, o = 0; i < starts.length; i++, o += run) {
        const s = starts[i]!;
        for (let q = 0; q < run; q++) out[o + q] = src[s + q]!;
      }
    }
    return new Tensor(out, p.outShape);
  },
  jvp(_p, [t], _out, p) {
    return bind(gatherPrim, [t!], p);
  },
  vjp(ct, _p, _out, p) {
    return [bind(scatterPrim, [ct], p)];
  },
  batch([x], [d], p, size) {
    return [bind(gatherPrim, [moveBatchAxis(x!, d!, 0, size)], batchedMap(p, size)), 0];
  },
};

const scatterPrim: Primitive<GatherParams> = {
  name: "scatter",
  impl([u], p) {
    const src = u!.raw;
    const { starts, run } = p;
    const out = allocFloat64(shapeSize(p.fullShape));
    if (run === 1) {
      for (let i = 0; i < starts.length; i++) out[starts[i]!] += src[i]!;
    } else {
      for (let i = 0, o = 0; i < starts.length; i++, o += run) {
        const s = starts[i]!;
        for (let q = 0; q < run; q++) out[s + q] += src[o + q]!;
      }
    }
    return new Tensor(out, p.fullShape);
  },
  jvp(_p, [t], _out, p) {
    return bind(scatterPrim, [t!], p);
  },
  vjp(ct, _p, _out, p) {
    return [bind(gatherPrim, [ct], p)];
  },
  batch([u], [d], p, size) {
    return [bind(scatterPrim, [moveBatchAxis(u!, d!, 0, size)], batchedMap(p, size)), 0];
  },
};

/**
 * The index map of `p` applied to each of `size` stacked copies of both sides (batch axis first): element b of
 * the batch reads the b-th block of the full side. One gather over the whole batch instead of one per element.
 */
function batchedMap(p: GatherParams, size: number): GatherParams {
  const n = p.starts.length;
  const block = shapeSize(p.fullShape);
  const starts = new Int32Array(n * size);
  for (let b = 0; b < size; b++) {
    const shift = b * block;
    for (let i = 0; i < n; i++) starts[b * n + i] = p.starts[i]! + shift;
  }
  return { starts, run: p.run, fullShape: [size, ...p.fullShape], outShape: [size, ...p.outShape] };
}

/** @internal out[i·run + q] = x[starts[i] + q] (row-major positions), with shape `outShape`. */
export function gatherFlat(x: Tensor, starts: Int32Array, outShape: Shape, run = 1): Tensor {
  return bind(gatherPrim, [x], { starts, run, fullShape: x.shape, outShape });
}

/** @internal Zeros of `fullShape` with u[i·run + q] added at position starts[i] + q: the transpose of `gatherFlat`. */
export function scatterFlat(u: Tensor, starts: Int32Array, fullShape: Shape, run = 1): Tensor {
  return bind(scatterPrim, [u], { starts, run, fullShape, outShape: u.shape });
}

/**
 * @internal The index map of a product of index sets: `dims[d][k]` is the offset contributed by index k of
 * output dimension d; entry i of the result is `base` plus the offsets of the multi-index of i (row-major).
 */
export function offsetMap(base: number, dims: readonly Int32Array[]): Int32Array {
  let total = 1;
  for (const d of dims) total *= d.length;
  const map = new Int32Array(total);
  if (total === 0) return map;
  const nd = dims.length;
  if (nd === 0) {
    map[0] = base;
    return map;
  }
  const last = dims[nd - 1]!;
  const nLast = last.length;
  const counter = new Int32Array(nd);
  let pos = base;
  for (let d = 0; d < nd - 1; d++) pos += dims[d]![0]!;
  for (let i = 0; i < total; i += nLast) {
    for (let k = 0; k < nLast; k++) map[i + k] = pos + last[k]!;
    for (let d = nd - 2; d >= 0; d--) {
      const offs = dims[d]!;
      pos -= offs[counter[d]!]!;
      counter[d]!++;
      if (counter[d]! < offs.length) {
        pos += offs[counter[d]!]!;
        break;
      }
      counter[d] = 0;
      pos += offs[0]!;
    }
  }
  return map;
}

// ---------------------------------------------------------------------------------------------------------
// Index specifications

/**
 * One index of {@link slice} and {@link at}, for one leading axis: an integer picks one element and drops the
 * axis (negative counts from the end); `null` keeps the whole axis; `[start, stop?, step?]` is a Python slice
 * (`null` or a missing entry takes the default; negative values count from the end; a negative step walks
 * backwards).
 */
export type SliceSpec = number | null | readonly [start: number | null, stop?: number | null, step?: number | null];

/**
 * Integer indices: a number, an array of numbers, an `Int32Array`, or a tensor of integer values (any
 * shape; a traced tensor contributes its values only). Negative indices count from the end.
 */
export type Indices = number | readonly number[] | Int32Array | Tensor;

/** One index of {@link at}: a {@link SliceSpec}, or an integer array (`Int32Array` or tensor) for one axis. */
export type AtSpec = SliceSpec | Int32Array | Tensor;

/** How one axis is indexed, resolved against its length. */
type AxisIndex =
  | { readonly kind: "pick"; readonly index: number }
  | { readonly kind: "range"; readonly start: number; readonly step: number; readonly count: number }
  | { readonly kind: "array"; readonly indices: Int32Array; readonly shape: Shape };

function checkInteger(v: number, op: string, what: string): void {
  if (!Number.isInteger(v)) throw new ValueError(`${op}: ${what} must be an integer, got ${v}`);
}

/** Python's `slice(start, stop, step).indices(len)`: the start, step and number of selected elements. */
function resolveRange(spec: readonly (number | null | undefined)[], axis: number, len: number, op: string): AxisIndex {
  if (spec.length === 0 || spec.length > 3) {
    throw new ValueError(`${op}: the slice for axis ${axis} must be [start, stop?, step?], got ${spec.length} entries`);
  }
  const [start, stop, step] = spec;
  for (const v of spec) if (v !== null && v !== undefined) checkInteger(v, op, `a slice bound for axis ${axis}`);
  const s = step ?? 1;
  if (s === 0) throw new ValueError(`${op}: the slice step for axis ${axis} must not be zero`);
  const clampBound = (v: number, lo: number, hi: number): number => {
    const w = v < 0 ? v + len : v;
    return w < lo ? lo : w > hi ? hi : w;
  };
  let from: number;
  let to: number;
  if (s > 0) {
    from = start === null || start === undefined ? 0 : clampBound(start, 0, len);
    to = stop === null || stop === undefined ? len : clampBound(stop, 0, len);
  } else {
    from = start === null || start === undefined ? len - 1 : clampBound(start, -1, len - 1);
    to = stop === null || stop === undefined ? -1 : clampBound(stop, -1, len - 1);
  }
  const count = Math.max(0, Math.ceil((to - from) / s));
  return { kind: "range", start: count === 0 ? 0 : from, step: s, count };
}

/** An index into `where` (e.g. "axis 1"), of length `len`, made non-negative. */
function normalizeIndex(i: number, where: string, len: number, op: string): number {
  checkInteger(i, op, `an index for ${where}`);
  if (i < -len || i >= len) throw new ValueError(`${op}: index ${i} is out of range for ${where} of length ${len}`);
  return i < 0 ? i + len : i;
}

/** Validated, non-negative indices into `where` (of length `len`), with the shape they come in. */
function resolveIndices(
  indices: Indices,
  where: string,
  len: number,
  op: string,
): { indices: Int32Array; shape: Shape } {
  let values: ArrayLike<number>;
  let shape: Shape;
  if (typeof indices === "number") {
    values = [indices];
    shape = [];
  } else if (indices instanceof Tensor) {
    values = indices.raw;
    shape = indices.shape;
  } else {
    values = indices;
    shape = [indices.length];
  }
  const out = new Int32Array(values.length);
  for (let k = 0; k < values.length; k++) out[k] = normalizeIndex(values[k]!, where, len, op);
  return { indices: out, shape };
}

function resolveSpecs(shape: Shape, specs: readonly AtSpec[], op: string, allowArrays: boolean): AxisIndex[] {
  if (specs.length > shape.length) {
    throw new ShapeError(`${op}: ${specs.length} indices for a tensor of shape ${fmt(shape)}`);
  }
  let arrays = 0;
  return shape.map((len, axis): AxisIndex => {
    const spec = axis < specs.length ? specs[axis] : null;
    if (spec === null || spec === undefined) return { kind: "range", start: 0, step: 1, count: len };
    if (typeof spec === "number") return { kind: "pick", index: normalizeIndex(spec, `axis ${axis}`, len, op) };
    if (spec instanceof Int32Array || spec instanceof Tensor) {
      if (!allowArrays) {
        throw new ValueError(`${op}: axis ${axis} got an index array; use take or at for integer-array indexing`);
      }
      if (++arrays > 1) throw new ValueError(`${op}: at most one axis may be indexed by an array`);
      return { kind: "array", ...resolveIndices(spec, `axis ${axis}`, len, op) };
    }
    if (Array.isArray(spec)) return resolveRange(spec, axis, len, op);
    throw new ValueError(`${op}: invalid index for axis ${axis}: ${String(spec)}`);
  });
}

/** A resolved selection: its index map into `x` (see `GatherParams`) and the shape of the selected tensor. */
interface Selection {
  readonly starts: Int32Array;
  readonly run: number;
  readonly shape: number[];
  /** True when no position of `x` is selected twice. */
  readonly distinct: boolean;
  /** True when the selection is all of `x` in order. */
  readonly identity: boolean;
}

/**
 * Builds the index map of a resolved index. The result has one axis per range, in order; an index array
 * contributes its own axes where it stands — or first, when integer picks on both sides of it are separated
 * by a range, as NumPy does with advanced indices.
 */
function select(shape: Shape, axes: readonly AxisIndex[]): Selection {
  const strides = stridesOf(shape);
  let base = 0;
  const dims: Int32Array[] = [];
  const dimShapes: Shape[] = [];
  let arrayDim = -1;
  let advancedFirst = -1;
  let advancedLast = -1;
  let distinct = true;
  let identity = true;
  axes.forEach((a, axis) => {
    const stride = strides[axis]!;
    if (a.kind !== "range") {
      if (advancedFirst < 0) advancedFirst = axis;
      advancedLast = axis;
    }
    if (a.kind === "pick") {
      base += a.index * stride;
      identity = false;
    } else if (a.kind === "range") {
      const offs = new Int32Array(a.count);
      for (let k = 0; k < a.count; k++) offs[k] = (a.start + k * a.step) * stride;
      dims.push(offs);
      dimShapes.push([a.count]);
      if (a.start !== 0 || a.step !== 1 || a.count !== shape[axis]) identity = false;
    } else {
      const offs = new Int32Array(a.indices.length);
      const seen = new Set<number>();
      for (let k = 0; k < offs.length; k++) {
        offs[k] = a.indices[k]! * stride;
        seen.add(a.indices[k]!);
      }
      if (seen.size !== offs.length) distinct = false;
      arrayDim = dims.length;
      dims.push(offs);
      dimShapes.push(a.shape);
      identity = false;
    }
  });
  if (arrayDim > 0) {
    let separated = false;
    for (let axis = advancedFirst; axis <= advancedLast; axis++) if (axes[axis]!.kind === "range") separated = true;
    if (separated) {
      dims.unshift(...dims.splice(arrayDim, 1));
      dimShapes.unshift(...dimShapes.splice(arrayDim, 1));
    }
  }
  // A last dimension of consecutive positions becomes the run length.
  let run = 1;
  const last = dims[dims.length - 1];
  if (last !== undefined && last.length > 1 && last.every((o, k) => o === last[0]! + k)) {
    run = last.length;
    dims[dims.length - 1] = last.subarray(0, 1);
  }
  return { starts: offsetMap(base, dims), run, shape: dimShapes.flat(), distinct, identity };
}

// ---------------------------------------------------------------------------------------------------------
// Public ops

/**
 * Basic indexing, like `x[i, :, a:b:c]` in NumPy: one {@link SliceSpec} per leading axis (missing trailing
 * specs keep whole axes). An integer picks one element and drops the axis; `null` keeps the axis; `[start,
 * stop?, step?]` follows Python's slice rules, including negative bounds and steps. An out-of-range integer
 * is a `ValueError`; slice bounds are clipped, as in Python. Its transpose scatters into zeros.
 *
 * @example
 * ```ts
 * import { slice, tensor } from "diffopt";
 * const x = tensor([[1, 2, 3], [4, 5, 6]]);
 * slice(x, 1).toArray();                    // [4, 5, 6]
 * slice(x, null, [1]).toArray();            // [[2, 3], [5, 6]]
 * slice(x, -1, [null, null, -1]).toArray(); // [6, 5, 4]
 * ```
 */
export function slice(x: TensorLike, ...specs: SliceSpec[]): Tensor {
  const t = asTensor(x);
  const sel = select(t.shape, resolveSpecs(t.shape, specs, "slice", false));
  return sel.identity ? t : gatherFlat(t, sel.starts, sel.shape, sel.run);
}

/** Resolves `take`'s indices and axis into an index map over `shape` and the result's shape. */
function takeSelection(shape: Shape, indices: Indices, axis: number | undefined, op: string): Selection {
  if (axis === undefined) {
    const { indices: idx, shape: idxShape } = resolveIndices(indices, "the flattened tensor", shapeSize(shape), op);
    return { starts: idx, run: 1, shape: [...idxShape], distinct: new Set(idx).size === idx.length, identity: false };
  }
  const ax = normalizeAxis(axis, shape.length, op);
  const resolved = resolveIndices(indices, `axis ${ax}`, shape[ax]!, op);
  const axes = shape.map((len, i): AxisIndex =>
    i === ax ? { kind: "array", ...resolved } : { kind: "range", start: 0, step: 1, count: len },
  );
  return select(shape, axes);
}

/**
 * Gathers elements along `axis` at integer `indices`, like `numpy.take`: the result has shape
 * `x.shape[:axis] + indices.shape + x.shape[axis+1:]`. Without `axis`, indexes the flattened `x`. Negative
 * indices count from the end; non-integer or out-of-range indices are a `ValueError`. Its transpose is
 * {@link scatterAdd} (repeated indices accumulate).
 *
 * @example
 * ```ts
 * import { take, tensor } from "diffopt";
 * const x = tensor([[1, 2, 3], [4, 5, 6]]);
 * take(x, [2, 0], 1).toArray(); // [[3, 1], [6, 4]]
 * take(x, [-1, 0]).toArray();   // [6, 1]
 * ```
 */
export function take(x: TensorLike, indices: Indices, axis?: number): Tensor {
  const t = asTensor(x);
  if (indices instanceof Tensor && indices.level > 0) {
    const { lanes, index, outShape } = tracedIndex(t, indices, axis, "take");
    return reshape(takeAlongAxis(lanes, index, 1, "take"), outShape);
  }
  const sel = takeSelection(t.shape, indices, axis, "take");
  return gatherFlat(t, sel.starts, sel.shape, sel.run);
}

/**
 * Adds `updates` into a copy of `target` at `indices` along `axis` (on the flattened target when `axis` is
 * omitted): the transpose of {@link take} with the same indices and axis. `updates` broadcasts to the shape
 * `take(target, indices, axis)` would have; repeated indices accumulate. Differentiable in `target` and
 * `updates`.
 *
 * @example
 * ```ts
 * import { scatterAdd, zeros, tensor } from "diffopt";
 * scatterAdd(zeros([3]), [0, 2, 0], tensor([1, 2, 3])).toArray(); // [4, 0, 2]
 * ```
 */
export function scatterAdd(target: TensorLike, indices: Indices, updates: TensorLike, axis?: number): Tensor {
  const t = asTensor(target);
  if (indices instanceof Tensor && indices.level > 0) {
    const { lanes, index, outShape } = tracedIndex(t, indices, axis, "scatterAdd");
    const u = reshape(broadcastOperand(asTensor(updates), outShape, "scatterAdd", "updates"), index.shape);
    return add(t, reshape(scatterAlongAxis(u, index, lanes.shape, 1, "scatterAdd"), t.shape));
  }
  const sel = takeSelection(t.shape, indices, axis, "scatterAdd");
  const u = broadcastOperand(asTensor(updates), sel.shape, "scatterAdd", "updates");
  return add(t, scatterFlat(u, sel.starts, t.shape, sel.run));
}

/**
 * `take`/`scatterAdd` with an index tensor traced by a transform (under `vmap`, a batch of index arrays, whose
 * values cannot be read): `x` seen as lanes [outer, len, inner] along the axis, the index (negative entries
 * wrapped, as a static index is) broadcast to [outer, count, inner], for the along-axis primitives, whose index
 * is an argument; and the shape `take` returns.
 */
function tracedIndex(
  t: Tensor,
  indices: Tensor,
  axis: number | undefined,
  op: string,
): { lanes: Tensor; index: Tensor; outShape: number[] } {
  const shape = axis === undefined ? [t.size] : t.shape;
  const ax = axis === undefined ? 0 : normalizeAxis(axis, t.ndim, op);
  const len = shape[ax]!;
  const outer = shapeSize(shape.slice(0, ax));
  const inner = shapeSize(shape.slice(ax + 1));
  checkTracedIndex(indices, axis === undefined ? "the flattened tensor" : `axis ${ax}`, len, op);
  const flat = reshape(indices, [1, indices.size, 1]);
  const wrapped = where(less(flat, 0), add(flat, len), flat);
  return {
    lanes: reshape(t, [outer, len, inner]),
    index: broadcastTo(wrapped, [outer, indices.size, inner]),
    outShape: [...shape.slice(0, ax), ...indices.shape, ...shape.slice(ax + 1)],
  };
}

/**
 * Checks a traced index tensor's values as a static index is checked (integers in [−len, len)), on each batch
 * element's values under `vmap`, whose index the message names.
 */
function checkTracedIndex(indices: Tensor, where: string, len: number, op: string): void {
  forEachElement(indices, (values, element) => {
    for (const v of values) {
      const problem = !Number.isInteger(v) ? "is not an integer" : v < -len || v >= len ? "is out of range" : null;
      if (problem !== null) {
        throw new ValueError(`${op}: index ${v} ${problem} for ${where} of length ${len}${elementNote(element)}`);
      }
    }
  });
}

function broadcastOperand(v: Tensor, shape: Shape, op: string, what: string): Tensor {
  const lead = shape.length - v.ndim;
  if (lead < 0 || v.shape.some((d, i) => d !== 1 && d !== shape[lead + i])) {
    throw new ShapeError(
      `${op}: ${what} of shape ${fmt(v.shape)} does not broadcast to the indexed shape ${fmt(shape)}`,
    );
  }
  return broadcastTo(v, shape);
}

/**
 * A functional update of the elements of a tensor selected by {@link at}, in the style of JAX's `x.at[...]`.
 * Each method returns a new tensor; none changes `x`. All are differentiable in `x` and in the value.
 *
 * @example
 * ```ts
 * import { at, tensor } from "diffopt";
 * const x = tensor([1, 2, 3, 4]);
 * at(x, [1, 3]).set(0).toArray();  // [1, 0, 0, 4]
 * at(x, -1).add(10).toArray();     // [1, 2, 3, 14]
 * ```
 */
export class IndexUpdateRef {
  readonly #x: Tensor;
  readonly #sel: Selection;
  /** An index tensor traced by a transform (a batch of index arrays under vmap) and its axis, or null. */
  readonly #traced: { readonly index: Tensor; readonly axis: number } | null;

  /** @internal Use {@link at} or `x.at(...)`. */
  constructor(x: Tensor, specs: readonly AtSpec[]) {
    this.#x = x;
    this.#traced = tracedAtIndex(x.shape, specs);
    const axes = this.#traced === null ? specs : specs.map((s, i) => (i === this.#traced!.axis ? null : s));
    this.#sel = select(x.shape, resolveSpecs(x.shape, axes, "at", true));
  }

  /**
   * The selected elements (as {@link slice}, or {@link take} for an index array).
   *
   * @example
   * ```ts
   * import { at, tensor } from "diffopt";
   * at(tensor([[1, 2], [3, 4]]), null, 0).get().toArray(); // [1, 3]
   * ```
   */
  get(): Tensor {
    if (this.#traced !== null) return take(this.#x, this.#traced.index, this.#traced.axis);
    return this.#sel.identity ? this.#x : this.#gather(this.#x);
  }

  /**
   * `x` with the selected elements replaced by `value` (broadcast to the selection). The derivative in `x`
   * is zero at the replaced positions; the one in `value` is the selected part of the cotangent, summed over
   * broadcast axes. An index array with repeated indices is a `ValueError` (the result would be ambiguous).
   *
   * @example
   * ```ts
   * import { at, tensor } from "diffopt";
   * at(tensor([[1, 2], [3, 4]]), 0).set(tensor([7, 8])).toArray(); // [[7, 8], [3, 4]]
   * ```
   */
  set(value: TensorLike): Tensor {
    const v = this.#value(value, "set");
    return where(this.#mask("set"), this.#scatterInto(v), this.#x);
  }

  /**
   * `x` with `value` (broadcast to the selection) added to the selected elements; repeated indices of an
   * index array accumulate, as in JAX.
   *
   * @example
   * ```ts
   * import { at, tensor } from "diffopt";
   * at(tensor([1, 2, 3]), new Int32Array([0, 0])).add(1).toArray(); // [3, 2, 3]
   * ```
   */
  add(value: TensorLike): Tensor {
    return add(this.#x, this.#scatterInto(this.#value(value, "add")));
  }

  /**
   * `x` with the selected elements multiplied by `value` (broadcast to the selection). An index array with
   * repeated indices is a `ValueError`.
   *
   * @example
   * ```ts
   * import { at, tensor } from "diffopt";
   * at(tensor([1, 2, 3]), [1]).mul(10).toArray(); // [1, 20, 30]
   * ```
   */
  mul(value: TensorLike): Tensor {
    const v = this.#value(value, "mul");
    return mul(this.#x, where(this.#mask("mul"), this.#scatterInto(v), 1));
  }

  /** The value scattered into x's shape at the selection (added where an index array repeats). */
  #scatterInto(v: Tensor): Tensor {
    if (this.#traced === null) return this.#scatter(v);
    return scatterAdd(zerosOf(this.#x.shape), this.#traced.index, v, this.#traced.axis);
  }

  #gather(x: Tensor): Tensor {
    return gatherFlat(x, this.#sel.starts, this.#sel.shape, this.#sel.run);
  }

  #scatter(v: Tensor): Tensor {
    return scatterFlat(v, this.#sel.starts, this.#x.shape, this.#sel.run);
  }

  #value(value: TensorLike, method: string): Tensor {
    const t = this.#traced;
    const x = this.#x.shape;
    const shape = t === null ? this.#sel.shape : [...x.slice(0, t.axis), ...t.index.shape, ...x.slice(t.axis + 1)];
    return broadcastOperand(asTensor(value), shape, `at(...).${method}`, "value");
  }

  /** 1 at the selected positions, 0 elsewhere (a constant). */
  #mask(method: string): Tensor {
    const t = this.#traced;
    if (t !== null) {
      // The values of a batch of index arrays are checked element by element; the mask is then 0/1.
      const len = this.#x.shape[t.axis]!;
      forEachElement(t.index, (values, element) => {
        const seen = new Set(Array.from(values, (i) => (i < 0 ? i + len : i)));
        if (seen.size !== values.length) {
          throw new ValueError(
            `at(...).${method}: the index array repeats an index, so the result would be ambiguous${elementNote(element)}`,
          );
        }
      });
      return scatterAdd(zerosOf(this.#x.shape), t.index, 1, t.axis);
    }
    if (!this.#sel.distinct) {
      throw new ValueError(`at(...).${method}: the index array repeats an index, so the result would be ambiguous`);
    }
    const m = allocFloat64(this.#x.size);
    const run = this.#sel.run;
    for (const s of this.#sel.starts) m.fill(1, s, s + run);
    return new Tensor(m, this.#x.shape);
  }
}

/**
 * The index tensor of `specs` when it is traced by a transform (under `vmap`, a batch of index arrays, whose
 * values cannot be read to build a static selection), with its axis; null otherwise. The other axes must then be
 * taken whole (`null`): the selection is a `take`/`scatterAdd` along that axis.
 */
function tracedAtIndex(shape: Shape, specs: readonly AtSpec[]): { index: Tensor; axis: number } | null {
  const axis = specs.findIndex((s) => s instanceof Tensor && s.level > 0);
  if (axis < 0) return null;
  if (axis >= shape.length) throw new ShapeError(`at: ${specs.length} indices for a tensor of shape ${fmt(shape)}`);
  if (specs.some((s, i) => i !== axis && s !== null && s !== undefined)) {
    throw new ValueError(
      `at: the index array for axis ${axis} is traced (batched by vmap), and then the other axes must be taken whole (null); select them first (slice or take) and index the result`,
    );
  }
  checkTracedIndex(specs[axis] as Tensor, `axis ${axis}`, shape[axis]!, "at");
  return { index: specs[axis] as Tensor, axis };
}

/**
 * Selects part of `x` for a functional update, like JAX's `x.at[...]`: `at(x, ...specs).set(v)`, `.add(v)`,
 * `.mul(v)` or `.get()`. Specs are those of {@link slice}; in addition one axis may be indexed by an integer
 * array (an `Int32Array` or a tensor of integers — a plain array would read as a slice), with NumPy's
 * placement of the array's axes. Under `vmap` the index tensor may be batched (one index array per element); the
 * other axes must then be taken whole (`null`). Also available as `x.at(...)`.
 *
 * @example
 * ```ts
 * import { at, tensor, grad, sum, mul } from "diffopt";
 * const x = tensor([[1, 2], [3, 4]]);
 * at(x, null, 1).set(0).toArray();                      // [[1, 0], [3, 0]]
 * at(x, new Int32Array([1, 0])).get().toArray();        // [[3, 4], [1, 2]]
 * grad((v) => sum(mul(at(x, 0).set(v), x)))(tensor(5)).item(); // 3 (= 1 + 2)
 * ```
 */
export function at(x: TensorLike, ...specs: AtSpec[]): IndexUpdateRef {
  return new IndexUpdateRef(asTensor(x), specs);
}

// Method aliases of these ops and of the shape ops of shape.ts. The latter are registered here: methods.ts
// imports shape.ts, so when methods.ts is loaded first shape.ts runs before methods.ts is initialised, and a
// call of `defineMethod` at shape.ts's top level would fail.
declare module "../tensor.js" {
  interface Tensor {
    /** `slice(this, ...specs)` */
    slice(...specs: SliceSpec[]): Tensor;
    /** `take(this, indices, axis)` */
    take(indices: Indices, axis?: number): Tensor;
    /** `at(this, ...specs)`: a functional update (`.set`, `.add`, `.mul`, `.get`). */
    at(...specs: AtSpec[]): IndexUpdateRef;
    /** `swapAxes(this, axis1, axis2)` */
    swapAxes(axis1: number, axis2: number): Tensor;
    /** `moveAxis(this, source, destination)` */
    moveAxis(source: number | readonly number[], destination: number | readonly number[]): Tensor;
    /** `squeeze(this, axis)` */
    squeeze(axis?: number | readonly number[]): Tensor;
    /** `expandDims(this, axis)` */
    expandDims(axis: number | readonly number[]): Tensor;
    /** `ravel(this)` */
    ravel(): Tensor;
    /** `tile(this, reps)` */
    tile(reps: number | readonly number[]): Tensor;
    /** `repeat(this, repeats, axis)` */
    repeat(repeats: number, axis?: number): Tensor;
  }
}

defineMethod("slice", (x, ...specs: SliceSpec[]) => slice(x, ...specs));
defineMethod("take", (x, i: Indices, a?: number) => take(x, i, a));
defineMethod("at", (x, ...specs: AtSpec[]) => at(x, ...specs));
defineMethod("swapAxes", (x, a: number, b: number) => swapAxes(x, a, b));
defineMethod("moveAxis", (x, s: number | readonly number[], d: number | readonly number[]) => moveAxis(x, s, d));
defineMethod("squeeze", (x, a?: number | readonly number[]) => squeeze(x, a));
defineMethod("expandDims", (x, a: number | readonly number[]) => expandDims(x, a));
defineMethod("ravel", (x) => ravel(x));
defineMethod("tile", (x, r: number | readonly number[]) => tile(x, r));
defineMethod("repeat", (x, r: number, a?: number) => repeat(x, r, a));
