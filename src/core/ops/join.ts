/**
 * Joining and splitting along an axis: `concatenate`, `stack`, `split`, and the range slice / zero-pad pair
 * that are each other's transpose.
 * @module
 */
import { bind, type Primitive } from "../engine.js";
import { allocFloat64 } from "../alloc.js";
import { ShapeError, ValueError } from "../errors.js";
import { fmt, normalizeAxis } from "../shape.js";
import { Tensor, asTensor, shapeSize, zerosLike, type TensorLike } from "../tensor.js";
import { moveBatchAxis, reshape } from "./shape.js";

interface RangeParams {
  axis: number;
  start: number;
  stop: number;
  /** Length of the axis in the larger (padded) tensor. */
  full: number;
}

/** outer × axisLen × inner decomposition of a shape around `axis`. */
function split3(shape: readonly number[], axis: number): [number, number, number] {
  let outer = 1;
  for (let i = 0; i < axis; i++) outer *= shape[i]!;
  let inner = 1;
  for (let i = axis + 1; i < shape.length; i++) inner *= shape[i]!;
  return [outer, shape[axis]!, inner];
}

const sliceAxisPrim: Primitive<RangeParams> = {
  name: "sliceAxis",
  impl([x], p) {
    const [outer, len, inner] = split3(x!.shape, p.axis);
    const w = p.stop - p.start;
    const out = allocFloat64(outer * w * inner);
    const src = x!.raw;
    for (let o = 0; o < outer; o++) {
      const from = (o * len + p.start) * inner;
      out.set(src.subarray(from, from + w * inner), o * w * inner);
    }
    const shape = [...x!.shape];
    shape[p.axis] = w;
    return new Tensor(out, shape);
  },
  jvp(_p, [t], _o, p) {
    return bind(sliceAxisPrim, [t!], p);
  },
  vjp(ct, _p, _o, p) {
    return [bind(padAxisPrim, [ct], p)];
  },
  batch([x], [d], p) {
    return [bind(sliceAxisPrim, [x!], batchedRange(p, d!)), d];
  },
};

/** The range parameters for a value whose batch sits at axis `d` (the batch stays there). */
function batchedRange(p: RangeParams, d: number): RangeParams {
  return { ...p, axis: p.axis < d ? p.axis : p.axis + 1 };
}

const padAxisPrim: Primitive<RangeParams> = {
  name: "padAxis",
  impl([x], p) {
    const [outer, w, inner] = split3(x!.shape, p.axis);
    const out = allocFloat64(outer * p.full * inner);
    const src = x!.raw;
    for (let o = 0; o < outer; o++) {
      out.set(src.subarray(o * w * inner, (o + 1) * w * inner), (o * p.full + p.start) * inner);
    }
    const shape = [...x!.shape];
    shape[p.axis] = p.full;
    return new Tensor(out, shape);
  },
  jvp(_p, [t], _o, p) {
    return bind(padAxisPrim, [t!], p);
  },
  vjp(ct, _p, _o, p) {
    return [bind(sliceAxisPrim, [ct], p)];
  },
  batch([x], [d], p) {
    return [bind(padAxisPrim, [x!], batchedRange(p, d!)), d];
  },
};

/** Joins tensors (checked to fit) along `axis`: one copy; the derivative of each piece is its slice. */
const concatenatePrim: Primitive<{ axis: number }> = {
  name: "concatenate",
  impl(ts, { axis }) {
    const shape = [...ts[0]!.shape];
    shape[axis] = ts.reduce((n, t) => n + t.shape[axis]!, 0);
    const full = shape[axis]!;
    const [outer, , inner] = split3(shape, axis);
    const out = allocFloat64(shapeSize(shape));
    let offset = 0;
    for (const t of ts) {
      const w = t.shape[axis]!;
      for (let o = 0; o < outer; o++) {
        out.set(t.raw.subarray(o * w * inner, (o + 1) * w * inner), (o * full + offset) * inner);
      }
      offset += w;
    }
    return new Tensor(out, shape);
  },
  jvp(primals, tangents, _out, p) {
    return bind(
      concatenatePrim,
      primals.map((x, i) => tangents[i] ?? zerosLike(x)),
      p,
    );
  },
  vjp(ct, primals, _out, { axis }, needs) {
    let offset = 0;
    return primals.map((x, i) => {
      const w = x.shape[axis]!;
      offset += w;
      return needs[i] ? sliceAxis(ct, axis, offset - w, offset) : null;
    });
  },
  batch(args, dims, { axis }, size) {
    const moved = args.map((a, i) => moveBatchAxis(a, dims[i]!, 0, size));
    return [bind(concatenatePrim, moved, { axis: axis + 1 }), 0];
  },
};

/**
 * @internal Elements `start..stop-1` of `x` along `axis` (differentiable; the transpose zero-pads).
 */
export function sliceAxis(x: Tensor, axis: number, start: number, stop: number): Tensor {
  if (start === 0 && stop === x.shape[axis]) return x;
  return bind(sliceAxisPrim, [x], { axis, start, stop, full: x.shape[axis]! });
}

/** @internal Zero-pads `x` along `axis` so that it occupies `start..` of an axis of length `full`. */
export function padAxis(x: Tensor, axis: number, start: number, full: number): Tensor {
  if (start === 0 && full === x.shape[axis]) return x;
  return bind(padAxisPrim, [x], { axis, start, stop: start + x.shape[axis]!, full });
}

/**
 * Joins tensors along an existing axis.
 *
 * @example
 * ```ts
 * import { concatenate, tensor } from "diffopt";
 * concatenate([tensor([1, 2]), tensor([3])]).toArray(); // [1, 2, 3]
 * ```
 */
export function concatenate(xs: readonly TensorLike[], axis = 0): Tensor {
  if (xs.length === 0) throw new ValueError("concatenate: need at least one tensor");
  const ts = xs.map(asTensor);
  const first = ts[0]!;
  if (first.ndim === 0) throw new ShapeError("concatenate: cannot concatenate scalars; use stack");
  const ax = normalizeAxis(axis, first.ndim, "concatenate");
  ts.forEach((t, i) => {
    if (t.ndim !== first.ndim || t.shape.some((d, j) => j !== ax && d !== first.shape[j])) {
      throw new ShapeError(
        `concatenate: tensor ${i} has shape ${fmt(t.shape)}, incompatible with ${fmt(first.shape)} along axis ${ax}`,
      );
    }
  });
  if (ts.length === 1) return first;
  return bind(concatenatePrim, ts, { axis: ax });
}

/**
 * Joins tensors of equal shape along a new axis.
 *
 * @example
 * ```ts
 * import { stack, tensor } from "diffopt";
 * stack([tensor([1, 2]), tensor([3, 4])]).shape; // [2, 2]
 * ```
 */
export function stack(xs: readonly TensorLike[], axis = 0): Tensor {
  if (xs.length === 0) throw new ValueError("stack: need at least one tensor");
  const ts = xs.map(asTensor);
  const shape = ts[0]!.shape;
  const ax = normalizeAxis(axis, shape.length + 1, "stack");
  const expanded = ts.map((t, i) => {
    if (t.shape.length !== shape.length || t.shape.some((d, j) => d !== shape[j])) {
      throw new ShapeError(`stack: tensor ${i} has shape ${fmt(t.shape)}, expected ${fmt(shape)}`);
    }
    const s = [...shape];
    s.splice(ax, 0, 1);
    return reshape(t, s);
  });
  return concatenate(expanded, ax);
}

/**
 * Splits `x` along `axis` into `sections` equal parts (a number) or at the given indices (an array), like
 * `numpy.split`.
 *
 * @example
 * ```ts
 * import { split, arange } from "diffopt";
 * split(arange(6), 3).map((t) => t.toArray()); // [[0, 1], [2, 3], [4, 5]]
 * split(arange(5), [2]).map((t) => t.toArray()); // [[0, 1], [2, 3, 4]]
 * ```
 */
export function split(x: TensorLike, sections: number | readonly number[], axis = 0): Tensor[] {
  const t = asTensor(x);
  const ax = normalizeAxis(axis, t.ndim, "split");
  const len = t.shape[ax]!;
  let cuts: number[];
  if (typeof sections === "number") {
    if (!Number.isInteger(sections) || sections <= 0 || len % sections !== 0) {
      throw new ValueError(`split: axis ${ax} of length ${len} does not split into ${sections} equal sections`);
    }
    cuts = Array.from({ length: sections - 1 }, (_, i) => ((i + 1) * len) / sections);
  } else {
    cuts = [...sections];
    for (let i = 0; i < cuts.length; i++) {
      if (!Number.isInteger(cuts[i]) || cuts[i]! < 0 || cuts[i]! > len || (i > 0 && cuts[i]! < cuts[i - 1]!)) {
        throw new ValueError(`split: indices [${cuts.join(", ")}] must be sorted integers within [0, ${len}]`);
      }
    }
  }
  const bounds = [0, ...cuts, len];
  const out: Tensor[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) out.push(sliceAxis(t, ax, bounds[i]!, bounds[i + 1]!));
  return out;
}
