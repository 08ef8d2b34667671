/**
 * Ordering ops along an axis: `sort`, `argsort`, the scans `cumsum` and `cumprod`, and the gather/scatter
 * pair along an axis that carries `sort`'s derivative.
 *
 * `sort(x)` is `gatherAlongAxis(x, argsort(x))`: the permutation is piecewise constant in `x`, so the
 * derivative of a sort is the same permutation applied to the tangent, and its transpose scatters the
 * cotangent back. Gather and scatter are linear and each other's transpose, so every order of derivative works.
 * @module
 */
import { bind, type Primitive } from "../engine.js";
import { allocFloat64 } from "../alloc.js";
import { ValueError } from "../errors.js";
import { fmt, normalizeAxis } from "../shape.js";
import { Tensor, asTensor, type Shape, type TensorLike } from "../tensor.js";
import { defineMethod } from "./define-method.js";
import { add, mul } from "./elementwise.js";
import { padAxis, sliceAxis } from "./join.js";
import { contiguousBlock } from "./reduce.js";
import { gatherFlat, scatterFlat } from "./indexing.js";
import { moveBatchAxis, reshape } from "./shape.js";

/**
 * Validates an along-axis index against the source shape and returns the flat source position of every
 * index entry (for `gatherFlat`/`scatterFlat`, which are linear and each other's transpose).
 */
function alongAxisStarts(srcShape: Shape, index: Int32Array, indexShape: Shape, axis: number, op: string): Int32Array {
  const ok = indexShape.length === srcShape.length && indexShape.every((d, i) => i === axis || d === srcShape[i]);
  if (!ok) {
    throw new ValueError(`${op}: index shape ${fmt(indexShape)} must match ${fmt(srcShape)} except along axis ${axis}`);
  }
  const [outer, len, inner] = contiguousBlock(srcShape, [axis])!;
  const m = indexShape[axis]!;
  const starts = new Int32Array(index.length);
  for (let o = 0; o < outer; o++) {
    for (let k = 0; k < m; k++) {
      const row = (o * m + k) * inner;
      for (let i = 0; i < inner; i++) {
        const v = index[row + i]!;
        if (v < 0 || v >= len) {
          throw new ValueError(`${op}: index ${v} is out of range for axis ${axis} of length ${len}`);
        }
        starts[row + i] = (o * len + v) * inner + i;
      }
    }
  }
  return starts;
}

/**
 * @internal `out[..., k, ...] = x[..., index[..., k, ...], ...]` along `axis` (NumPy's `take_along_axis`
 * with an integer index of shape `indexShape`). Differentiable in `x`; its transpose is
 * {@link scatterAddAlongAxis}.
 */
export function gatherAlongAxis(x: Tensor, index: Int32Array, indexShape: Shape, axis: number): Tensor {
  const ax = normalizeAxis(axis, x.ndim, "gatherAlongAxis");
  return gatherFlat(x, alongAxisStarts(x.shape, index, indexShape, ax, "gatherAlongAxis"), [...indexShape]);
}

/**
 * @internal The transpose of {@link gatherAlongAxis}: adds `y[..., k, ...]` into position
 * `index[..., k, ...]` along `axis` of a zero tensor of shape `shape`. Differentiable in `y`.
 */
export function scatterAddAlongAxis(y: Tensor, index: Int32Array, shape: Shape, axis: number): Tensor {
  const ax = normalizeAxis(axis, y.ndim, "scatterAddAlongAxis");
  return scatterFlat(y, alongAxisStarts(shape, index, y.shape, ax, "scatterAddAlongAxis"), [...shape]);
}

/** Length of the runs sorted by insertion before merging. */
const RUN = 32;

/**
 * Sorts `order[0..n)` (positions into `vals`) by value, stably: insertion-sorted runs, then bottom-up merges
 * between `order` and `scratch`. The values must not be NaN. Faster than `Array.prototype.sort` with a
 * comparator, since comparisons are inline.
 */
function mergeSortPositions(vals: Float64Array, order: Int32Array, scratch: Int32Array, n: number): void {
  for (let lo = 0; lo < n; lo += RUN) {
    const hi = Math.min(lo + RUN, n);
    for (let i = lo + 1; i < hi; i++) {
      const pos = order[i]!;
      const v = vals[pos]!;
      let j = i - 1;
      while (j >= lo && vals[order[j]!]! > v) {
        order[j + 1] = order[j]!;
        j--;
      }
      order[j + 1] = pos;
    }
  }
  let from = order;
  let to = scratch;
  for (let width = RUN; width < n; width *= 2) {
    for (let lo = 0; lo < n; lo += 2 * width) {
      const mid = Math.min(lo + width, n);
      const hi = Math.min(lo + 2 * width, n);
      let i = lo;
      let j = mid;
      let k = lo;
      // Take from the right run only when strictly smaller: equal values keep their order.
      while (i < mid && j < hi) to[k++] = vals[from[j]!]! < vals[from[i]!]! ? from[j++]! : from[i++]!;
      while (i < mid) to[k++] = from[i++]!;
      while (j < hi) to[k++] = from[j++]!;
    }
    const t = from;
    from = to;
    to = t;
  }
  if (from !== order) order.set(from.subarray(0, n));
}

/**
 * Stable ascending order of every lane of `t` along `axis` (NaN last, as in NumPy): positions in [0, len),
 * laid out like `t`.
 */
function sortIndex(t: Tensor, axis: number): Int32Array {
  const [outer, len, inner] = contiguousBlock(t.shape, [axis])!;
  const src = t.raw;
  const index = new Int32Array(src.length);
  const lane = allocFloat64(len);
  const order = new Int32Array(len);
  const scratch = new Int32Array(len);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * len * inner + i;
      // Non-NaN positions first (to be sorted), then the NaN positions in their original order.
      let finite = 0;
      for (let l = 0; l < len; l++) {
        const v = src[base + l * inner]!;
        lane[l] = v;
        if (v === v) order[finite++] = l;
      }
      let k = finite;
      for (let l = 0; l < len; l++) if (lane[l] !== lane[l]) order[k++] = l;
      mergeSortPositions(lane, order, scratch, finite);
      for (let l = 0; l < len; l++) index[base + l * inner] = order[l]!;
    }
  }
  return index;
}

function sortAxis(t: Tensor, axis: number, op: string): number {
  if (t.ndim === 0) throw new ValueError(`${op}: expected a tensor with at least one axis, got a scalar`);
  return normalizeAxis(axis, t.ndim, op);
}

/**
 * @internal Static parameters of the index-tensor gather/scatter along an axis: the axis, the public function
 * (for errors) and, for the scatter, the shape of its output.
 */
export interface AlongParams {
  readonly axis: number;
  readonly op: string;
  readonly shape?: Shape;
}

/**
 * Validated integer values of an index tensor along an axis of length `len` (the index is a float64 tensor,
 * as `argsort` returns it and as a user's index tensor is).
 */
function indexValues(idx: Tensor, len: number, op: string): Int32Array {
  const src = idx.raw;
  const out = new Int32Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const v = src[i]!;
    if (!Number.isInteger(v) || v < 0 || v >= len) {
      throw new ValueError(`${op}: index ${v} is not an integer in [0, ${len}) (the length of the indexed axis)`);
    }
    out[i] = v;
  }
  return out;
}

/** The axis of a batched value (batch axis at `bdim`) that holds per-element axis `axis`. */
function valueAxis(axis: number, bdim: number): number {
  return axis < bdim ? axis : axis + 1;
}

/**
 * Brings the batch axes of a batched (x, index) pair into line for the along-axis primitives: when both sit at
 * the same axis they stay (the primitive's axis shifts past them); otherwise both move to the front, an
 * unbatched one broadcast along it.
 */
function alignBatch(
  args: readonly Tensor[],
  dims: readonly (number | null)[],
  axis: number,
  size: number,
): { args: Tensor[]; axis: number; bdim: number } {
  const [d0, d1] = dims;
  if (d0 === d1 && d0 !== null) return { args: [...args], axis: valueAxis(axis, d0!), bdim: d0! };
  return { args: args.map((a, i) => moveBatchAxis(a, dims[i]!, 0, size)), axis: axis + 1, bdim: 0 };
}

/**
 * `take_along_axis` with the index as a tensor argument (a constant: no derivative flows into it). Unlike
 * {@link gatherAlongAxis}, whose index is a static array, the index here may itself be traced by a transform,
 * in particular batched by `vmap` (each batch element sorts by its own permutation).
 */
const takeAlongPrim: Primitive<AlongParams> = {
  name: "takeAlongAxis",
  impl([x, idx], p) {
    const index = indexValues(idx!, x!.shape[p.axis]!, p.op);
    return gatherFlat(x!, alongAxisStarts(x!.shape, index, idx!.shape, p.axis, p.op), idx!.shape);
  },
  jvp([, idx], [t], _out, p) {
    return t === null ? null : bind(takeAlongPrim, [t, idx!], p);
  },
  vjp(ct, [x, idx], _out, p, needs) {
    return [needs[0] ? bind(scatterAlongPrim, [ct, idx!], { ...p, shape: x!.shape }) : null, null];
  },
  batch(args, dims, p, size) {
    const {
      args: [x, idx],
      axis,
      bdim,
    } = alignBatch(args, dims, p.axis, size);
    return [bind(takeAlongPrim, [x!, idx!], { ...p, axis }), bdim];
  },
};

/** The transpose of `takeAlongPrim`: zeros of `shape` with u added at the index positions along the axis. */
const scatterAlongPrim: Primitive<AlongParams> = {
  name: "scatterAlongAxis",
  impl([u, idx], p) {
    const shape = p.shape!;
    const index = indexValues(idx!, shape[p.axis]!, p.op);
    return scatterFlat(u!, alongAxisStarts(shape, index, idx!.shape, p.axis, p.op), [...shape]);
  },
  jvp([, idx], [t], _out, p) {
    return t === null ? null : bind(scatterAlongPrim, [t, idx!], p);
  },
  vjp(ct, [, idx], _out, p, needs) {
    return [needs[0] ? bind(takeAlongPrim, [ct, idx!], { axis: p.axis, op: p.op }) : null, null];
  },
  batch(args, dims, p, size) {
    const {
      args: [u, idx],
      axis,
      bdim,
    } = alignBatch(args, dims, p.axis, size);
    const shape = [...p.shape!];
    shape.splice(bdim, 0, size);
    return [bind(scatterAlongPrim, [u!, idx!], { ...p, axis, shape }), bdim];
  },
};

/**
 * The stable sorting permutation along an axis, as a float64 tensor: piecewise constant, so its derivative is
 * zero. A primitive (rather than a read of the values) so that it also runs on batched values under `vmap`.
 */
const argsortPrim: Primitive<number> = {
  name: "argsort",
  impl([x], axis) {
    return new Tensor(Float64Array.from(sortIndex(x!, axis)), x!.shape);
  },
  jvp() {
    return null;
  },
  vjp() {
    return [null];
  },
  batch([x], [d], axis) {
    return [bind(argsortPrim, [x!], valueAxis(axis, d!)), d!];
  },
};

/**
 * @internal `take_along_axis(x, index, axis)` for an index tensor (integer values, same rank as `x`, matching
 * it except along `axis`), differentiable in `x`; `op` names the public function in errors.
 */
export function takeAlongAxis(x: Tensor, index: Tensor, axis: number, op: string): Tensor {
  return bind(takeAlongPrim, [x, index], { axis, op });
}

/** @internal The transpose of {@link takeAlongAxis}: `u` added at the index positions of zeros of `shape`. */
export function scatterAlongAxis(u: Tensor, index: Tensor, shape: Shape, axis: number, op: string): Tensor {
  return bind(scatterAlongPrim, [u, index], { axis, op, shape });
}

/**
 * Sorts along `axis` (default the last), ascending and stable, NaN last. The derivative permutes the
 * tangent the same way (ties are kept in input order, a valid choice where the sort is not differentiable).
 *
 * @example
 * ```ts
 * import { sort, grad, mul, sum, tensor } from "diffopt";
 * sort(tensor([[3, 1, 2], [0, -1, 5]])).toArray(); // [[1, 2, 3], [-1, 0, 5]]
 * grad((x) => sum(mul(sort(x), tensor([1, 2, 3]))))(tensor([3, 1, 2])).toArray(); // [3, 1, 2]
 * ```
 */
export function sort(x: TensorLike, axis = -1): Tensor {
  const t = asTensor(x);
  const ax = sortAxis(t, axis, "sort");
  return takeAlongAxis(t, bind(argsortPrim, [t], ax), ax, "sort");
}

/**
 * Indices that sort `x` along `axis` (default the last), stable, NaN last, like `numpy.argsort(kind="stable")`.
 * Returned as a float64 tensor of integers; a constant (no derivative).
 *
 * @example
 * ```ts
 * import { argsort, tensor } from "diffopt";
 * argsort(tensor([3, 1, 2, 1])).toArray(); // [1, 3, 2, 0]
 * ```
 */
export function argsort(x: TensorLike, axis = -1): Tensor {
  const t = asTensor(x);
  return bind(argsortPrim, [t], sortAxis(t, axis, "argsort"));
}

interface CumsumParams {
  outer: number;
  len: number;
  inner: number;
  /** Accumulate from the end of the axis (the transpose of the forward sum). */
  reverse: boolean;
}

const cumsumPrim: Primitive<CumsumParams> = {
  name: "cumsum",
  impl([x], p) {
    const { outer, len, inner, reverse } = p;
    const src = x!.raw;
    const out = allocFloat64(src.length);
    for (let o = 0; o < outer; o++) {
      const base = o * len * inner;
      for (let s = 0; s < len; s++) {
        const l = reverse ? len - 1 - s : s;
        const row = base + l * inner;
        if (s === 0) {
          for (let i = 0; i < inner; i++) out[row + i] = src[row + i]!;
        } else {
          const prev = row + (reverse ? inner : -inner);
          for (let i = 0; i < inner; i++) out[row + i] = out[prev + i]! + src[row + i]!;
        }
      }
    }
    return new Tensor(out, x!.shape);
  },
  jvp(_x, [t], _out, p) {
    return bind(cumsumPrim, [t!], p);
  },
  vjp(ct, _x, _out, p) {
    return [bind(cumsumPrim, [ct], { ...p, reverse: !p.reverse })];
  },
  batch([x], [d], p, size) {
    // Batch axis first: the batch multiplies the outer lanes.
    return [bind(cumsumPrim, [moveBatchAxis(x!, d!, 0, size)], { ...p, outer: p.outer * size }), 0];
  },
};

/** The tensor a scan runs on (flattened when `axis` is omitted, as in NumPy) and its normalised axis. */
function scanInput(x: TensorLike, axis: number | undefined, op: string): { t: Tensor; axis: number } {
  const t = asTensor(x);
  if (axis === undefined) return { t: reshape(t, [t.size]), axis: 0 };
  if (t.ndim === 0) throw new ValueError(`${op}: axis ${axis} given for a scalar`);
  return { t, axis: normalizeAxis(axis, t.ndim, op) };
}

/**
 * Cumulative sum along `axis`; over the flattened tensor when `axis` is omitted (as in NumPy). Its
 * transpose is the cumulative sum from the end.
 *
 * @example
 * ```ts
 * import { cumsum, tensor } from "diffopt";
 * cumsum(tensor([1, 2, 3])).toArray();                // [1, 3, 6]
 * cumsum(tensor([[1, 2], [3, 4]]), 0).toArray();      // [[1, 2], [4, 6]]
 * ```
 */
export function cumsum(x: TensorLike, axis?: number): Tensor {
  const { t, axis: ax } = scanInput(x, axis, "cumsum");
  const [outer, len, inner] = contiguousBlock(t.shape, [ax])!;
  if (len <= 1) return t;
  return bind(cumsumPrim, [t], { outer, len, inner, reverse: false });
}

/**
 * Cumulative product along `axis`; over the flattened tensor when `axis` is omitted (as in NumPy).
 *
 * Computed as a Hillis–Steele scan of elementwise products (⌈log₂ len⌉ steps, each multiplying by the lane
 * shifted by 2ᵏ), so its derivatives of every order are exact also where entries are zero (no division by x).
 *
 * @example
 * ```ts
 * import { cumprod, grad, sum, tensor } from "diffopt";
 * cumprod(tensor([1, 2, 3, 4])).toArray();                     // [1, 2, 6, 24]
 * grad((x) => sum(cumprod(x)))(tensor([2, 0, 3])).toArray(); // [1, 8, 0]
 * ```
 */
export function cumprod(x: TensorLike, axis?: number): Tensor {
  const { t, axis: ax } = scanInput(x, axis, "cumprod");
  const [outer, len, inner] = contiguousBlock(t.shape, [ax])!;
  if (len <= 1) return t;
  let y = reshape(t, [outer, len, inner]);
  for (let shift = 1; shift < len; shift *= 2) {
    // The lane shifted by `shift` along the axis, with ones in the first `shift` places.
    const head = allocFloat64(len).fill(1, 0, shift);
    const shifted = add(padAxis(sliceAxis(y, 1, 0, len - shift), 1, shift, len), new Tensor(head, [1, len, 1]));
    y = mul(y, shifted);
  }
  return reshape(y, t.shape);
}

declare module "../tensor.js" {
  interface Tensor {
    /** `sort(this, axis)` */
    sort(axis?: number): Tensor;
    /** `argsort(this, axis)` */
    argsort(axis?: number): Tensor;
    /** `cumsum(this, axis)` */
    cumsum(axis?: number): Tensor;
    /** `cumprod(this, axis)` */
    cumprod(axis?: number): Tensor;
  }
}

defineMethod("sort", (x, a?: number) => sort(x, a));
defineMethod("argsort", (x, a?: number) => argsort(x, a));
defineMethod("cumsum", (x, a?: number) => cumsum(x, a));
defineMethod("cumprod", (x, a?: number) => cumprod(x, a));
