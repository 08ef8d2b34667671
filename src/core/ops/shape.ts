/**
 * Shape ops: `reshape`, `transpose`, `swapAxes`, `moveAxis`, `squeeze`, `expandDims`, `ravel`, `tile`, `repeat`.
 * All are data movement, hence linear: each is a `reshape`, a `transpose` or a `broadcastTo`, whose JVP applies
 * the same op to the tangent and whose VJP is the transposed movement.
 * @module
 */
import { bind, type Primitive } from "../engine.js";
import { allocFloat64 } from "../alloc.js";
import { ShapeError, ValueError } from "../errors.js";
import { fmt, normalizeAxes, normalizeAxis, stridesOf } from "../shape.js";
import { Tensor, asTensor, checkShape, sameShape, shapeSize, type Shape, type TensorLike } from "../tensor.js";
import { broadcastTo } from "./broadcast.js";

const reshapePrim: Primitive<Shape> = {
  name: "reshape",
  impl([x], shape) {
    return new Tensor(x!.raw, shape);
  },
  jvp(_p, [t], _out, shape) {
    return bind(reshapePrim, [t!], shape);
  },
  vjp(ct, [x]) {
    return [bind(reshapePrim, [ct], x!.shape)];
  },
  batch([x], [d], shape, size) {
    return [bind(reshapePrim, [moveBatchAxis(x!, d!, 0, size)], [size, ...shape]), 0];
  },
};

/**
 * Gives `x` a new shape with the same number of elements; one dimension may be `-1` (inferred).
 *
 * @example
 * ```ts
 * import { reshape, arange } from "diffopt";
 * reshape(arange(6), [2, -1]).shape; // [2, 3]
 * ```
 */
export function reshape(x: TensorLike, shape: Shape): Tensor {
  const t = asTensor(x);
  if (!Array.isArray(shape)) checkShape(shape, "reshape");
  const s = [...shape];
  const infer = s.indexOf(-1);
  if (infer >= 0) {
    const rest = s.reduce((acc, d, i) => (i === infer ? acc : acc * d), 1);
    if (rest === 0 || t.size % rest !== 0) {
      throw new ShapeError(`reshape: cannot infer -1 in ${fmt(shape)} for ${t.size} elements`);
    }
    s[infer] = t.size / rest;
  }
  checkShape(s, "reshape");
  if (shapeSize(s) !== t.size) {
    throw new ShapeError(`reshape: cannot reshape ${fmt(t.shape)} (${t.size} elements) to ${fmt(shape)}`);
  }
  if (sameShape(s, t.shape)) return t;
  return bind(reshapePrim, [t], s);
}

const transposePrim: Primitive<number[]> = {
  name: "transpose",
  impl([x], perm) {
    const shape = x!.shape;
    const nd = shape.length;
    const outShape = perm.map((p) => shape[p]!);
    const inStrides = stridesOf(shape);
    const src = x!.raw;
    const out = allocFloat64(src.length);
    if (nd === 2 && perm[0] === 1) {
      const r = shape[0]!;
      const c = shape[1]!;
      for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = src[i * c + j]!;
      return new Tensor(out, outShape);
    }
    const strides = perm.map((p) => inStrides[p]!);
    const counter = new Array(nd).fill(0);
    let pos = 0;
    for (let k = 0; k < out.length; k++) {
      out[k] = src[pos]!;
      for (let ax = nd - 1; ax >= 0; ax--) {
        counter[ax]++;
        pos += strides[ax]!;
        if (counter[ax] < outShape[ax]!) break;
        pos -= strides[ax]! * outShape[ax]!;
        counter[ax] = 0;
      }
    }
    return new Tensor(out, outShape);
  },
  jvp(_p, [t], _out, perm) {
    return bind(transposePrim, [t!], perm);
  },
  vjp(ct, _p, _out, perm) {
    const inv: number[] = new Array(perm.length);
    perm.forEach((p, i) => (inv[p] = i));
    return [bind(transposePrim, [ct], inv)];
  },
  batch([x], [d], perm) {
    // One transpose: the batch axis first, then the permuted per-element axes (shifted past the batch axis).
    const at = (a: number) => (a < d! ? a : a + 1);
    return [bind(transposePrim, [x!], [d!, ...perm.map(at)]), 0];
  },
};

/**
 * Permutes the axes of `x` (reverses them by default), like `numpy.transpose`.
 *
 * @example
 * ```ts
 * import { transpose, tensor } from "diffopt";
 * transpose(tensor([[1, 2, 3]])).shape; // [3, 1]
 * ```
 */
export function transpose(x: TensorLike, axes?: readonly number[]): Tensor {
  const t = asTensor(x);
  const nd = t.ndim;
  const perm =
    axes === undefined
      ? Array.from({ length: nd }, (_, i) => nd - 1 - i)
      : axes.map((a) => normalizeAxis(a, nd, "transpose"));
  if (perm.length !== nd || new Set(perm).size !== nd) {
    throw new ValueError(`transpose: axes [${axes?.join(", ")}] are not a permutation of ${nd} axes`);
  }
  if (perm.every((p, i) => p === i)) return t;
  return bind(transposePrim, [t], perm);
}

/**
 * Exchanges two axes of `x`, like `numpy.swapaxes` (negative axes count from the end).
 *
 * @example
 * ```ts
 * import { swapAxes, zeros } from "diffopt";
 * swapAxes(zeros([2, 3, 4]), 0, -1).shape; // [4, 3, 2]
 * ```
 */
export function swapAxes(x: TensorLike, axis1: number, axis2: number): Tensor {
  const t = asTensor(x);
  const a = normalizeAxis(axis1, t.ndim, "swapAxes");
  const b = normalizeAxis(axis2, t.ndim, "swapAxes");
  const perm = Array.from({ length: t.ndim }, (_, i) => i);
  perm[a] = b;
  perm[b] = a;
  return transpose(t, perm);
}

/** Normalises a list of axes, keeping its order; throws a `ValueError` on a repeated axis. */
function orderedAxes(axes: number | readonly number[], ndim: number, op: string, what: string): number[] {
  const list = typeof axes === "number" ? [axes] : [...axes];
  const out = list.map((a) => normalizeAxis(a, ndim, op));
  if (new Set(out).size !== out.length) throw new ValueError(`${op}: repeated axis in ${what} [${list.join(", ")}]`);
  return out;
}

/**
 * Moves axis `source` of `x` to position `destination`, keeping the order of the other axes, like
 * `numpy.moveaxis`. Both may be lists of the same length.
 *
 * @example
 * ```ts
 * import { moveAxis, zeros } from "diffopt";
 * moveAxis(zeros([2, 3, 4]), 0, -1).shape;          // [3, 4, 2]
 * moveAxis(zeros([2, 3, 4]), [0, 1], [2, 0]).shape; // [3, 4, 2]
 * ```
 */
export function moveAxis(
  x: TensorLike,
  source: number | readonly number[],
  destination: number | readonly number[],
): Tensor {
  const t = asTensor(x);
  const src = orderedAxes(source, t.ndim, "moveAxis", "source");
  const dst = orderedAxes(destination, t.ndim, "moveAxis", "destination");
  if (src.length !== dst.length) {
    throw new ValueError(`moveAxis: source has ${src.length} axes but destination has ${dst.length}`);
  }
  const perm = Array.from({ length: t.ndim }, (_, i) => i).filter((a) => !src.includes(a));
  const moves = src.map((s, i) => [dst[i]!, s] as const).sort((p, q) => p[0] - q[0]);
  for (const [d, s] of moves) perm.splice(d, 0, s);
  return transpose(t, perm);
}

/**
 * Removes axes of length 1: all of them, or the given `axis` (a number or a list), each of which must have
 * length 1 (else a `ShapeError`).
 *
 * @example
 * ```ts
 * import { squeeze, zeros } from "diffopt";
 * squeeze(zeros([1, 3, 1])).shape;     // [3]
 * squeeze(zeros([1, 3, 1]), 0).shape;  // [3, 1]
 * ```
 */
export function squeeze(x: TensorLike, axis?: number | readonly number[]): Tensor {
  const t = asTensor(x);
  const shape = t.shape;
  let drop: number[];
  if (axis === undefined) {
    drop = [];
    shape.forEach((d, i) => d === 1 && drop.push(i));
  } else {
    drop = normalizeAxes(axis, t.ndim, "squeeze");
    for (const a of drop) {
      if (shape[a] !== 1) {
        throw new ShapeError(`squeeze: axis ${a} of shape ${fmt(shape)} has length ${shape[a]}, not 1`);
      }
    }
  }
  return reshape(
    t,
    shape.filter((_, i) => !drop.includes(i)),
  );
}

/**
 * Inserts axes of length 1 at the given positions of the result (a number or a list; negative counts from
 * the end of the result), like `numpy.expand_dims`.
 *
 * @example
 * ```ts
 * import { expandDims, zeros } from "diffopt";
 * expandDims(zeros([2, 3]), 0).shape;        // [1, 2, 3]
 * expandDims(zeros([2, 3]), [1, -1]).shape;  // [2, 1, 3, 1]
 * ```
 */
export function expandDims(x: TensorLike, axis: number | readonly number[]): Tensor {
  const t = asTensor(x);
  const count = typeof axis === "number" ? 1 : axis.length;
  const outNd = t.ndim + count;
  const axes = normalizeAxes(axis, outNd, "expandDims");
  const shape: number[] = [];
  let k = 0;
  for (let i = 0; i < outNd; i++) shape.push(axes.includes(i) ? 1 : t.shape[k++]!);
  return reshape(t, shape);
}

/**
 * The elements of `x` as a 1-D tensor, in row-major order (`numpy.ravel`).
 *
 * @example
 * ```ts
 * import { ravel, tensor } from "diffopt";
 * ravel(tensor([[1, 2], [3, 4]])).toArray(); // [1, 2, 3, 4]
 * ```
 */
export function ravel(x: TensorLike): Tensor {
  const t = asTensor(x);
  return reshape(t, [t.size]);
}

function checkCount(n: number, op: string, what: string): void {
  if (!Number.isInteger(n) || n < 0) throw new ValueError(`${op}: ${what} must be non-negative integers, got ${n}`);
}

/**
 * Repeats the whole of `x` `reps` times along each axis, like `numpy.tile`: `reps` is padded with leading 1s
 * to the rank of `x`, or `x` gets leading axes of length 1 to the length of `reps`.
 *
 * @example
 * ```ts
 * import { tile, tensor } from "diffopt";
 * tile(tensor([1, 2]), 2).toArray();       // [1, 2, 1, 2]
 * tile(tensor([1, 2]), [2, 1]).toArray();  // [[1, 2], [1, 2]]
 * ```
 */
export function tile(x: TensorLike, reps: number | readonly number[]): Tensor {
  const t = asTensor(x);
  const r = typeof reps === "number" ? [reps] : [...reps];
  r.forEach((n) => checkCount(n, "tile", "reps"));
  const nd = Math.max(r.length, t.ndim);
  const fullReps = [...new Array<number>(nd - r.length).fill(1), ...r];
  const shape = [...new Array<number>(nd - t.ndim).fill(1), ...t.shape];
  // [s0, s1, …] → [1, s0, 1, s1, …] → broadcast to [r0, s0, r1, s1, …] → [r0·s0, r1·s1, …]
  const interleaved = shape.flatMap((d) => [1, d]);
  const spread = shape.flatMap((d, i) => [fullReps[i]!, d]);
  return reshape(
    broadcastTo(reshape(t, interleaved), spread),
    shape.map((d, i) => d * fullReps[i]!),
  );
}

/**
 * Repeats each element of `x` `repeats` times along `axis` (on the flattened tensor when `axis` is omitted),
 * like `numpy.repeat` with an integer count.
 *
 * @example
 * ```ts
 * import { repeat, tensor } from "diffopt";
 * repeat(tensor([1, 2]), 2).toArray();              // [1, 1, 2, 2]
 * repeat(tensor([[1, 2]]), 2, 0).toArray();         // [[1, 2], [1, 2]]
 * ```
 */
export function repeat(x: TensorLike, repeats: number, axis?: number): Tensor {
  let t = asTensor(x);
  checkCount(repeats, "repeat", "repeats");
  if (axis === undefined) t = ravel(t);
  const ax = normalizeAxis(axis ?? 0, t.ndim, "repeat");
  // [… n …] → [… n, 1 …] → broadcast to [… n, repeats …] → [… n·repeats …]
  const inserted = [...t.shape.slice(0, ax + 1), 1, ...t.shape.slice(ax + 1)];
  const spread = [...inserted];
  spread[ax + 1] = repeats;
  const out = [...t.shape];
  out[ax] = t.shape[ax]! * repeats;
  return reshape(broadcastTo(reshape(t, inserted), spread), out);
}

/**
 * Moves the batch axis of a batched value `x` from axis `from` to axis `to` (for the batching rules of every
 * layer, see `vmap.ts`; not exported from the package entry point). When `from` is null, `x` is a per-element
 * value: it gets a batch axis of length `size` at `to`, by broadcasting. Its declaration is kept in the built
 * types (not stripped as internal), because `vmap.ts` re-exports it for the implicit and solver layers, and a
 * declaration file may not re-export a stripped name.
 */
export function moveBatchAxis(x: Tensor, from: number | null, to: number, size: number): Tensor {
  if (from === null) {
    const one = [...x.shape];
    one.splice(to, 0, 1);
    const target = [...x.shape];
    target.splice(to, 0, size);
    return broadcastTo(reshape(x, one), target);
  }
  return from === to ? x : moveAxis(x, from, to);
}
