/**
 * Broadcasting as ops: `broadcastTo` and its transpose `sumTo` (the un-broadcast every binary VJP needs).
 * @module
 */
import { bind, type Primitive } from "../engine.js";
import { allocFloat64 } from "../alloc.js";
import { ShapeError } from "../errors.js";
import { broadcastIndex, broadcastShapes, fmt } from "../shape.js";
import { Tensor, asTensor, checkShape, sameShape, shapeSize, type Shape, type TensorLike } from "../tensor.js";
import { moveBatchAxis, reshape } from "./shape.js";
import { sum } from "./reduce.js";
import { broadcastPattern } from "./elementwise.js";

const broadcastToPrim: Primitive<Shape> = {
  name: "broadcastTo",
  impl([x], shape) {
    const src = x!.raw;
    // A tiled or repeated operand (a scalar, a row, a column) is copied by blocks, without an index array.
    const p = broadcastPattern(x!.shape, shape);
    if (p !== null) {
      const out = allocFloat64(shapeSize(shape));
      if ("tile" in p) for (let o = 0; o < out.length; o += p.tile) out.set(src, o);
      else for (let e = 0, o = 0; o < out.length; e++, o += p.repeat) out.fill(src[e]!, o, o + p.repeat);
      return new Tensor(out, shape);
    }
    const idx = broadcastIndex(x!.shape, shape);
    const out = allocFloat64(idx.length);
    for (let i = 0; i < idx.length; i++) out[i] = src[idx[i]!]!;
    return new Tensor(out, shape);
  },
  jvp(_p, [t], _out, shape) {
    return broadcastTo(t!, shape);
  },
  vjp(ct, [x]) {
    return [sumTo(ct, x!.shape)];
  },
  batch([x], [d], shape, size) {
    // Batch axis first, then length-1 axes up to the target rank: broadcasting then leaves the batch axis alone.
    const v = moveBatchAxis(x!, d!, 0, size);
    const lead = shape.length - (v.ndim - 1);
    const aligned = lead === 0 ? v : reshape(v, [size, ...new Array<number>(lead).fill(1), ...v.shape.slice(1)]);
    return [broadcastTo(aligned, [size, ...shape]), 0];
  },
};

/**
 * Broadcasts `x` to `shape` following NumPy rules.
 *
 * @example
 * ```ts
 * import { broadcastTo, tensor } from "diffopt";
 * broadcastTo(tensor([1, 2]), [2, 2]).toArray(); // [[1, 2], [1, 2]]
 * ```
 */
export function broadcastTo(x: TensorLike, shape: Shape): Tensor {
  const t = asTensor(x);
  if (sameShape(t.shape, shape)) return t;
  checkShape(shape, "broadcastTo");
  const b = broadcastShapes(t.shape, shape, "broadcastTo");
  if (!sameShape(b, shape)) throw new ShapeError(`broadcastTo: cannot broadcast ${fmt(t.shape)} to ${fmt(shape)}`);
  return bind(broadcastToPrim, [t], [...shape]);
}

/**
 * @internal Sums `x` over the axes along which `shape` was broadcast to `x.shape`: the transpose of
 * `broadcastTo` (the un-broadcast of every binary op's VJP).
 */
export function sumTo(x: Tensor, shape: Shape): Tensor {
  if (sameShape(x.shape, shape)) return x;
  const lead = x.shape.length - shape.length;
  if (lead < 0) throw new ShapeError(`sumTo: cannot reduce ${fmt(x.shape)} to the larger rank ${fmt(shape)}`);
  const axes: number[] = [];
  for (let i = 0; i < x.shape.length; i++) {
    if (i < lead) axes.push(i);
    else if (shape[i - lead] === 1 && x.shape[i] !== 1) axes.push(i);
    else if (shape[i - lead] !== x.shape[i]) {
      throw new ShapeError(`sumTo: ${fmt(shape)} does not broadcast to ${fmt(x.shape)}`);
    }
  }
  const s = sum(x, { axis: axes });
  return shapeSize(s.shape) === shapeSize(shape) && !sameShape(s.shape, shape) ? reshape(s, shape) : s;
}
