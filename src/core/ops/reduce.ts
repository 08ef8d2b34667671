/**
 * Reductions: `sum`, `mean`, `max`, `min`, `logsumexp`, with `axis` and `keepdims`.
 * @module
 */
import { bind, type Primitive } from "../engine.js";
import { normalizeAxes } from "../shape.js";
import { Tensor, asTensor, shapeSize, type Shape, type TensorLike } from "../tensor.js";
import { broadcastTo } from "./broadcast.js";
import { reshape } from "./shape.js";

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

const sumPrim: Primitive<ReduceParams> = {
  name: "sum",
  impl([x], p) {
    const src = x!.data;
    const n = shapeSize(p.outShape);
    const out = new Float64Array(n);
    if (n === 1) {
      let s = 0;
      for (let i = 0; i < src.length; i++) s += src[i]!;
      out[0] = s;
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
};

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
