/**
 * Shape ops: `reshape`, `transpose`.
 * @module
 */
import { bind, type Primitive } from "../engine.js";
import { ShapeError, ValueError } from "../errors.js";
import { fmt, normalizeAxis, stridesOf } from "../shape.js";
import { Tensor, asTensor, sameShape, shapeSize, type Shape, type TensorLike } from "../tensor.js";

const reshapePrim: Primitive<Shape> = {
  name: "reshape",
  impl([x], shape) {
    return new Tensor(x!.data, shape);
  },
  jvp(_p, [t], _out, shape) {
    return bind(reshapePrim, [t!], shape);
  },
  vjp(ct, [x]) {
    return [bind(reshapePrim, [ct], x!.shape)];
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
  const s = [...shape];
  const infer = s.indexOf(-1);
  if (infer >= 0) {
    const rest = s.reduce((acc, d, i) => (i === infer ? acc : acc * d), 1);
    if (rest === 0 || t.size % rest !== 0) {
      throw new ShapeError(`reshape: cannot infer -1 in ${fmt(shape)} for ${t.size} elements`);
    }
    s[infer] = t.size / rest;
  }
  for (const d of s) {
    if (!Number.isInteger(d) || d < 0) throw new ValueError(`reshape: invalid shape ${fmt(shape)}`);
  }
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
    const src = x!.data;
    const out = new Float64Array(src.length);
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
  const perm = axes === undefined ? Array.from({ length: nd }, (_, i) => nd - 1 - i) : axes.map((a) => normalizeAxis(a, nd, "transpose"));
  if (perm.length !== nd || new Set(perm).size !== nd) {
    throw new ValueError(`transpose: axes [${axes?.join(", ")}] are not a permutation of ${nd} axes`);
  }
  if (perm.every((p, i) => p === i)) return t;
  return bind(transposePrim, [t], perm);
}
