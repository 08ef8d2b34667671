/**
 * Reductions with `axis` and `keepdims`: `sum`, `mean`, `prod`, `max`, `min`, `argmax`, `argmin`
 * (`logsumexp` lives with the softmax family in `softmax.ts`).
 *
 * Reductions other than `sum` work on a contiguous block of axes, seen as `[outer, len, inner]`: the kernels
 * then run over plain strided lanes. Non-contiguous axes are first moved to the end by a (differentiable)
 * transpose, see {@link blockReduce}.
 * @module
 */
import { bind, stripDerivatives, type Primitive } from "../engine.js";
import { allocFloat64 } from "../alloc.js";
import { ValueError } from "../errors.js";
import { fmt, normalizeAxes, normalizeAxis } from "../shape.js";
import { Tensor, asTensor, full, shapeSize, type Shape, type TensorLike } from "../tensor.js";
import { broadcastTo } from "./broadcast.js";
import { div, equal, maximum, mul } from "./elementwise.js";
import { concatenate, sliceAxis } from "./join.js";
import { defineMethod } from "./define-method.js";
import { moveBatchAxis, reshape, transpose } from "./shape.js";

/** Options of a reduction. */
export interface ReduceOptions {
  /** Axis or axes to reduce (negative counts from the end); all axes when omitted. */
  axis?: number | readonly number[];
  /** Keep reduced axes with length 1 (so the result broadcasts against the input). */
  keepdims?: boolean;
}

/** @internal Static parameters of a reduction: normalised axes and the kept-dims shape. */
export interface ReduceParams {
  axes: number[];
  keepShape: number[];
  outShape: number[];
}

/** @internal Resolves reduction options against a shape. */
export function reduceParams(shape: Shape, opts: ReduceOptions | undefined, op: string): ReduceParams {
  const axes = normalizeAxes(opts?.axis, shape.length, op);
  const keepShape = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const outShape = opts?.keepdims ? keepShape : shape.filter((_, i) => !axes.includes(i));
  return { axes, keepShape, outShape };
}

/**
 * @internal For each element of an array of `shape`, the index of the reduced element it folds into.
 * `keepShape` is the shape with reduced axes set to 1.
 */
export function reduceIndex(shape: Shape, keepShape: Shape): Int32Array {
  const nd = shape.length;
  const size = shapeSize(shape);
  const idx = new Int32Array(size);
  const outStrides: number[] = new Array(nd);
  let acc = 1;
  for (let i = nd - 1; i >= 0; i--) {
    outStrides[i] = keepShape[i] === 1 ? 0 : acc;
    acc *= keepShape[i]!;
  }
  const counter = new Array(nd).fill(0);
  let pos = 0;
  for (let k = 0; k < size; k++) {
    idx[k] = pos;
    for (let ax = nd - 1; ax >= 0; ax--) {
      counter[ax]++;
      pos += outStrides[ax]!;
      if (counter[ax] < shape[ax]!) break;
      pos -= outStrides[ax]! * shape[ax]!;
      counter[ax] = 0;
    }
  }
  return idx;
}

/** @internal Expands a reduced result back to the kept-dims shape, then broadcasts it to `shape`. */
export function unreduce(y: Tensor, p: ReduceParams, shape: Shape): Tensor {
  return broadcastTo(reshape(y, p.keepShape), shape);
}

/**
 * @internal The same reduction for a batch of `size` elements stacked along a new axis 0: axes shift by one, the
 * shapes gain the batch axis and a block reduction gets `size` times more outer lanes.
 */
export function batchedReduceParams<P extends ReduceParams>(p: P, size: number): P {
  const q = {
    ...p,
    axes: p.axes.map((a) => a + 1),
    keepShape: [size, ...p.keepShape],
    outShape: [size, ...p.outShape],
  };
  if ("outer" in q) (q as unknown as BlockParams).outer = (p as unknown as BlockParams).outer * size;
  return q;
}

/** @internal Gives a one-argument reduction (or lane op) over `ReduceParams` its batching rule: batch axis first. */
export function reduceBatch<P extends ReduceParams>(prim: Primitive<P>): Primitive<P> {
  prim.batch = ([x], [d], p, size) => [bind(prim, [moveBatchAxis(x!, d!, 0, size)], batchedReduceParams(p, size)), 0];
  return prim;
}

const sumPrim: Primitive<ReduceParams> = reduceBatch({
  name: "sum",
  impl([x], p) {
    const src = x!.raw;
    const n = shapeSize(p.outShape);
    const out = allocFloat64(n);
    const block = contiguousBlock(x!.shape, p.axes);
    if (n === 1) {
      let s = 0;
      for (let i = 0; i < src.length; i++) s += src[i]!;
      out[0] = s;
    } else if (block !== null) {
      const [outer, len, inner] = block;
      for (let o = 0; o < outer; o++) {
        const base = o * len * inner;
        const dst = o * inner;
        for (let l = 0; l < len; l++) {
          const row = base + l * inner;
          for (let i = 0; i < inner; i++) out[dst + i] += src[row + i]!;
        }
      }
    } else {
      const idx = reduceIndex(x!.shape, p.keepShape);
      for (let i = 0; i < src.length; i++) out[idx[i]!] += src[i]!;
    }
    return new Tensor(out, p.outShape);
  },
  jvp(_p, [t], _out, p) {
    return bind(sumPrim, [t!], p);
  },
  vjp(ct, [x], _out, p) {
    return [unreduce(ct, p, x!.shape)];
  },
});

/**
 * Sum of elements over `axis` (all axes by default).
 *
 * @example
 * ```ts
 * import { sum, tensor } from "diffopt";
 * sum(tensor([[1, 2], [3, 4]])).item();              // 10
 * sum(tensor([[1, 2], [3, 4]]), { axis: 0 }).toArray(); // [4, 6]
 * ```
 */
export function sum(x: TensorLike, opts?: ReduceOptions): Tensor {
  const t = asTensor(x);
  const p = reduceParams(t.shape, opts, "sum");
  if (p.axes.length === 0) return t;
  return bind(sumPrim, [t], p);
}

/** @internal `x` summed with precomputed reduction parameters (used by derivative rules). */
export function sumWith(x: Tensor, p: ReduceParams): Tensor {
  return bind(sumPrim, [x], p);
}

/**
 * @internal `[outer, len, inner]` when the sorted `axes` of `shape` are contiguous (their product is `len`),
 * else null.
 */
export function contiguousBlock(shape: Shape, axes: readonly number[]): [number, number, number] | null {
  if (axes.length === 0 || axes[axes.length - 1]! - axes[0]! !== axes.length - 1) return null;
  const first = axes[0]!;
  const last = axes[axes.length - 1]!;
  let outer = 1;
  let len = 1;
  let inner = 1;
  for (let i = 0; i < shape.length; i++) {
    if (i < first) outer *= shape[i]!;
    else if (i <= last) len *= shape[i]!;
    else inner *= shape[i]!;
  }
  return [outer, len, inner];
}

/**
 * @internal Parameters of a reduction over one contiguous block of axes: the input is seen as
 * `[outer, len, inner]` and the output as `[outer, inner]` (with shape `outShape`). `axes` and `keepShape`
 * refer to the (possibly transposed) tensor the kernel runs on, so `sumWith` and `unreduce` apply as is.
 */
export interface BlockParams extends ReduceParams {
  outer: number;
  len: number;
  inner: number;
}

/** @internal A tensor arranged for a block reduction, and the parameters of the reduction. */
export interface BlockReduction {
  /** The input, transposed when the reduced axes were not contiguous. */
  x: Tensor;
  p: BlockParams;
  /** The transpose applied to the input, or null. */
  perm: number[] | null;
}

/**
 * @internal Resolves `opts` against `x` for a block reduction. Reduced axes that are not contiguous are moved
 * to the end by a transpose (kept axes keep their order, so the output layout is unchanged). Returns null when
 * no axis is reduced.
 */
export function blockReduce(x: Tensor, opts: ReduceOptions | undefined, op: string): BlockReduction | null {
  const axes = normalizeAxes(opts?.axis, x.ndim, op);
  if (axes.length === 0) return null;
  const outShape = opts?.keepdims
    ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d))
    : x.shape.filter((_, i) => !axes.includes(i));
  let xt = x;
  let perm: number[] | null = null;
  let tAxes = axes;
  if (contiguousBlock(x.shape, axes) === null) {
    const kept = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
    perm = [...kept, ...axes];
    xt = transpose(x, perm);
    tAxes = axes.map((_, k) => kept.length + k);
  }
  const [outer, len, inner] = contiguousBlock(xt.shape, tAxes)!;
  const keepShape = xt.shape.map((d, i) => (tAxes.includes(i) ? 1 : d));
  return { x: xt, perm, p: { axes: tAxes, keepShape, outShape, outer, len, inner } };
}

/**
 * @internal Elementwise weights that split a reduction's derivative equally among the entries equal to the
 * extremum `out` of their lane (zero elsewhere). They are piecewise constant in `x` (comparisons carry no
 * derivative); written with ops so that they batch under `vmap`. A lane whose extremum is NaN matches nothing.
 */
function tieWeights(x: Tensor, out: Tensor, p: BlockParams): Tensor {
  const hits = equal(x, unreduce(out, p, x.shape));
  return div(hits, unreduce(maximum(sumWith(hits, p), 1), p, x.shape));
}

/**
 * @internal Maxima (or minima) of the lanes of `src` seen as [outer, len, inner], written to `out`
 * ([outer, inner]). NaN propagates: once stored it never compares true again. −∞ (+∞) for empty lanes.
 */
export function laneExtrema(
  src: Float64Array,
  outer: number,
  len: number,
  inner: number,
  isMax: boolean,
  out: Float64Array,
): void {
  const init = isMax ? -Infinity : Infinity;
  if (inner === 1) {
    // Contiguous lanes: keep the running extremum in a register.
    for (let o = 0; o < outer; o++) {
      const base = o * len;
      let m = init;
      if (isMax) {
        for (let l = 0; l < len; l++) {
          const v = src[base + l]!;
          if (v > m || v !== v) m = v;
        }
      } else {
        for (let l = 0; l < len; l++) {
          const v = src[base + l]!;
          if (v < m || v !== v) m = v;
        }
      }
      out[o] = m;
    }
    return;
  }
  out.fill(init);
  for (let o = 0; o < outer; o++) {
    const dst = o * inner;
    for (let l = 0; l < len; l++) {
      const row = (o * len + l) * inner;
      for (let i = 0; i < inner; i++) {
        const v = src[row + i]!;
        const m = out[dst + i]!;
        if ((isMax ? v > m : v < m) || v !== v) out[dst + i] = v;
      }
    }
  }
}

function extremumPrimitive(name: string, isMax: boolean): Primitive<BlockParams> {
  return reduceBatch({
    name,
    impl([x], p) {
      const out = allocFloat64(p.outer * p.inner);
      laneExtrema(x!.raw, p.outer, p.len, p.inner, isMax, out);
      return new Tensor(out, p.outShape);
    },
    jvp([x], [t], out, p) {
      return sumWith(mul(t!, tieWeights(x!, out, p)), p);
    },
    vjp(ct, [x], out, p) {
      return [mul(unreduce(ct, p, x!.shape), tieWeights(x!, out, p))];
    },
  });
}

const maxPrim = extremumPrimitive("max", true);
const minPrim = extremumPrimitive("min", false);

function extremum(prim: Primitive<BlockParams>, x: TensorLike, opts: ReduceOptions | undefined): Tensor {
  const t = asTensor(x);
  const r = blockReduce(t, opts, prim.name);
  if (r === null) return t;
  if (r.p.len === 0) {
    throw new ValueError(
      `${prim.name}: cannot reduce an empty axis (shape ${fmt(t.shape)}); the result has no identity`,
    );
  }
  return bind(prim, [r.x], r.p);
}

/**
 * Maximum over `axis` (all axes by default). NaN propagates. The derivative is split equally among tied
 * maxima, as in JAX. Reducing an empty axis throws a `ValueError`.
 *
 * @example
 * ```ts
 * import { max, grad, tensor } from "diffopt";
 * max(tensor([[1, 5], [7, 2]]), { axis: 1 }).toArray(); // [5, 7]
 * grad((x) => max(x))(tensor([3, 1, 3])).toArray();    // [0.5, 0, 0.5]
 * ```
 */
export function max(x: TensorLike, opts?: ReduceOptions): Tensor {
  return extremum(maxPrim, x, opts);
}

/**
 * Minimum over `axis` (all axes by default). NaN propagates. The derivative is split equally among tied
 * minima, as in JAX. Reducing an empty axis throws a `ValueError`.
 *
 * @example
 * ```ts
 * import { min, tensor } from "diffopt";
 * min(tensor([[1, 5], [7, 2]]), { axis: 0 }).toArray(); // [1, 2]
 * ```
 */
export function min(x: TensorLike, opts?: ReduceOptions): Tensor {
  return extremum(minPrim, x, opts);
}

/**
 * Arithmetic mean over `axis` (all axes by default): `sum(x, opts) / count`. Averaging over an empty axis
 * throws a `ValueError`.
 *
 * @example
 * ```ts
 * import { mean, tensor } from "diffopt";
 * mean(tensor([[1, 2], [3, 4]])).item();                // 2.5
 * mean(tensor([[1, 2], [3, 4]]), { axis: -1 }).toArray(); // [1.5, 3.5]
 * ```
 */
export function mean(x: TensorLike, opts?: ReduceOptions): Tensor {
  const t = asTensor(x);
  const axes = normalizeAxes(opts?.axis, t.ndim, "mean");
  let count = 1;
  for (const a of axes) count *= t.shape[a]!;
  if (count === 0) throw new ValueError(`mean: cannot average over an empty axis (shape ${fmt(t.shape)})`);
  const s = sum(t, opts);
  return count === 1 ? s : div(s, count);
}

/**
 * Product over `axis` (all axes by default); 1 over an empty axis.
 *
 * It is computed as a balanced tree of elementwise products (each lane padded with ones to a power of two,
 * then halved log₂(len) times), so its derivatives of every order are products of the other entries, exact
 * also where entries are zero (no division by x).
 *
 * @example
 * ```ts
 * import { prod, grad, tensor } from "diffopt";
 * prod(tensor([[1, 2], [3, 4]]), { axis: 1 }).toArray(); // [2, 12]
 * grad((x) => prod(x))(tensor([2, 0, 5])).toArray();   // [0, 10, 0]
 * ```
 */
export function prod(x: TensorLike, opts?: ReduceOptions): Tensor {
  const t = asTensor(x);
  const r = blockReduce(t, opts, "prod");
  if (r === null) return t;
  const { outer, len, inner, outShape } = r.p;
  let width = 1;
  while (width < len) width *= 2;
  let y = reshape(r.x, [outer, len, inner]);
  if (width > len) y = concatenate([y, full([outer, width - len, inner], 1)], 1);
  for (; width > 1; width /= 2) y = mul(sliceAxis(y, 1, 0, width / 2), sliceAxis(y, 1, width / 2, width));
  return reshape(y, outShape);
}

/** Options of {@link argmax} and {@link argmin}. */
export interface ArgReduceOptions {
  /** The axis to search (negative counts from the end); the flattened tensor when omitted, as in NumPy. */
  axis?: number;
  /** Keep the searched axis with length 1 (all axes with length 1 when `axis` is omitted). */
  keepdims?: boolean;
}

interface ArgParams {
  axis: number;
  isMax: boolean;
  outShape: number[];
}

/** The index search as a primitive without derivative, so that it batches (the batch adds outer lanes). */
const argExtremumPrim: Primitive<ArgParams> = {
  name: "argExtremum",
  impl([x], p) {
    return argKernel(x!, p);
  },
  jvp() {
    return null;
  },
  vjp() {
    return [null];
  },
  batch([x], [d], p, size) {
    const q = { ...p, axis: p.axis + 1, outShape: [size, ...p.outShape] };
    return [bind(argExtremumPrim, [moveBatchAxis(x!, d!, 0, size)], q), 0];
  },
};

function argExtremum(x: TensorLike, opts: ArgReduceOptions | undefined, isMax: boolean, op: string): Tensor {
  // Indices carry no derivative: search the values (a batch stays a batch), so the result is a plain constant.
  const t = stripDerivatives(asTensor(x));
  const flat = opts?.axis === undefined;
  const axis = flat ? 0 : normalizeAxis(opts.axis!, t.ndim, op);
  if ((flat ? t.size : t.shape[axis]) === 0)
    throw new ValueError(`${op}: cannot search an empty axis (shape ${fmt(t.shape)})`);
  let outShape: number[];
  if (flat) outShape = opts?.keepdims ? t.shape.map(() => 1) : [];
  else outShape = opts?.keepdims ? t.shape.map((d, i) => (i === axis ? 1 : d)) : t.shape.filter((_, i) => i !== axis);
  return bind(argExtremumPrim, [flat ? reshape(t, [t.size]) : t], { axis, isMax, outShape });
}

function argKernel(t: Tensor, p: ArgParams): Tensor {
  const { isMax } = p;
  const [outer, len, inner] = contiguousBlock(t.shape, [p.axis])!;
  const src = t.raw;
  const best = allocFloat64(outer * inner);
  const out = allocFloat64(outer * inner);
  for (let o = 0; o < outer; o++) {
    const dst = o * inner;
    for (let i = 0; i < inner; i++) best[dst + i] = src[o * len * inner + i]!;
    for (let l = 1; l < len; l++) {
      const row = (o * len + l) * inner;
      for (let i = 0; i < inner; i++) {
        const v = src[row + i]!;
        const b = best[dst + i]!;
        // The first NaN wins, as in NumPy; otherwise the first strict improvement.
        if (b === b && ((isMax ? v > b : v < b) || v !== v)) {
          best[dst + i] = v;
          out[dst + i] = l;
        }
      }
    }
  }
  return new Tensor(out, p.outShape);
}

/**
 * Index of the first maximum along `axis` (of the flattened tensor when `axis` is omitted), like
 * `numpy.argmax`. The indices are returned as a float64 tensor of integers (so they combine with other ops);
 * it is a constant: piecewise-constant functions have no derivative.
 *
 * @example
 * ```ts
 * import { argmax, tensor } from "diffopt";
 * argmax(tensor([[1, 5], [7, 2]]), { axis: 1 }).toArray(); // [1, 0]
 * argmax(tensor([[1, 5], [7, 2]])).item();                // 2
 * ```
 */
export function argmax(x: TensorLike, opts?: ArgReduceOptions): Tensor {
  return argExtremum(x, opts, true, "argmax");
}

/**
 * Index of the first minimum along `axis` (of the flattened tensor when `axis` is omitted), like
 * `numpy.argmin`; a float64 tensor of integers with no derivative (see {@link argmax}).
 *
 * @example
 * ```ts
 * import { argmin, tensor } from "diffopt";
 * argmin(tensor([[1, 5], [7, 2]]), { axis: 0 }).toArray(); // [0, 1]
 * ```
 */
export function argmin(x: TensorLike, opts?: ArgReduceOptions): Tensor {
  return argExtremum(x, opts, false, "argmin");
}

declare module "../tensor.js" {
  interface Tensor {
    /** `mean(this, opts)` */
    mean(opts?: ReduceOptions): Tensor;
    /** `prod(this, opts)` */
    prod(opts?: ReduceOptions): Tensor;
    /** `max(this, opts)` */
    max(opts?: ReduceOptions): Tensor;
    /** `min(this, opts)` */
    min(opts?: ReduceOptions): Tensor;
    /** `argmax(this, opts)` */
    argmax(opts?: ArgReduceOptions): Tensor;
    /** `argmin(this, opts)` */
    argmin(opts?: ArgReduceOptions): Tensor;
  }
}

defineMethod("mean", (x, o?: ReduceOptions) => mean(x, o));
defineMethod("prod", (x, o?: ReduceOptions) => prod(x, o));
defineMethod("max", (x, o?: ReduceOptions) => max(x, o));
defineMethod("min", (x, o?: ReduceOptions) => min(x, o));
defineMethod("argmax", (x, o?: ArgReduceOptions) => argmax(x, o));
defineMethod("argmin", (x, o?: ArgReduceOptions) => argmin(x, o));
