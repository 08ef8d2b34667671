/**
 * Matrix products: `matmul` (batched, NumPy semantics), `dot`, `vdot`, `outer`, and the GEMM kernel.
 * @module
 */
import { bind, type Primitive } from "../engine.js";
import { ShapeError } from "../errors.js";
import { broadcastIndex, broadcastShapes, fmt } from "../shape.js";
import { Tensor, asTensor, shapeSize, type TensorLike } from "../tensor.js";
import { add, mul } from "./elementwise.js";
import { sumTo } from "./broadcast.js";
import { reshape, transpose } from "./shape.js";

/**
 * C[m×n] += A[m×k] · B[k×n], row-major, at the given offsets. Loop order i-k-j keeps the inner loop
 * contiguous; four rows of A are processed together so each row of B is read once per four rows of C.
 * @internal
 */
export function gemm(
  a: Float64Array,
  aOff: number,
  b: Float64Array,
  bOff: number,
  c: Float64Array,
  cOff: number,
  m: number,
  k: number,
  n: number,
): void {
  let i = 0;
  for (; i + 3 < m; i += 4) {
    const c0 = cOff + i * n;
    const c1 = c0 + n;
    const c2 = c1 + n;
    const c3 = c2 + n;
    const a0 = aOff + i * k;
    for (let p = 0; p < k; p++) {
      const x0 = a[a0 + p]!;
      const x1 = a[a0 + k + p]!;
      const x2 = a[a0 + 2 * k + p]!;
      const x3 = a[a0 + 3 * k + p]!;
      const bRow = bOff + p * n;
      for (let j = 0; j < n; j++) {
        const bv = b[bRow + j]!;
        c[c0 + j] += x0 * bv;
        c[c1 + j] += x1 * bv;
        c[c2 + j] += x2 * bv;
        c[c3 + j] += x3 * bv;
      }
    }
  }
  for (; i < m; i++) {
    const cRow = cOff + i * n;
    const aRow = aOff + i * k;
    for (let p = 0; p < k; p++) {
      const x = a[aRow + p]!;
      if (x === 0) continue;
      const bRow = bOff + p * n;
      for (let j = 0; j < n; j++) c[cRow + j] += x * b[bRow + j]!;
    }
  }
}

const matmulPrim: Primitive<undefined> = {
  name: "matmul",
  impl([a, b]) {
    const as = a!.shape;
    const bs = b!.shape;
    const m = as[as.length - 2]!;
    const k = as[as.length - 1]!;
    const n = bs[bs.length - 1]!;
    const batch = broadcastShapes(as.slice(0, -2), bs.slice(0, -2), "matmul");
    const nb = shapeSize(batch);
    const out = new Float64Array(nb * m * n);
    if (nb === 1) {
      gemm(a!.data, 0, b!.data, 0, out, 0, m, k, n);
    } else {
      const ia = broadcastIndex(as.slice(0, -2), batch);
      const ib = broadcastIndex(bs.slice(0, -2), batch);
      for (let t = 0; t < nb; t++) gemm(a!.data, ia[t]! * m * k, b!.data, ib[t]! * k * n, out, t * m * n, m, k, n);
    }
    return new Tensor(out, [...batch, m, n]);
  },
  jvp([a, b], [ta, tb]) {
    const pa = ta === null ? null : bind(matmulPrim, [ta, b!], undefined);
    const pb = tb === null ? null : bind(matmulPrim, [a!, tb], undefined);
    return pa === null ? pb! : pb === null ? pa : add(pa, pb);
  },
  vjp(ct, [a, b], _out, _p, needs) {
    return [
      needs[0] ? sumTo(bind(matmulPrim, [ct, matrixTranspose(b!)], undefined), a!.shape) : null,
      needs[1] ? sumTo(bind(matmulPrim, [matrixTranspose(a!), ct], undefined), b!.shape) : null,
    ];
  },
};

/**
 * Swaps the last two axes (the matrix transpose of a batch of matrices).
 *
 * @example
 * ```ts
 * import { matrixTranspose, tensor } from "diffopt";
 * matrixTranspose(tensor([[1, 2]])).toArray(); // [[1], [2]]
 * ```
 */
export function matrixTranspose(x: TensorLike): Tensor {
  const t = asTensor(x);
  if (t.ndim < 2) throw new ShapeError(`matrixTranspose: expected at least 2 axes, got shape ${fmt(t.shape)}`);
  const perm = Array.from({ length: t.ndim }, (_, i) => i);
  perm[t.ndim - 2] = t.ndim - 1;
  perm[t.ndim - 1] = t.ndim - 2;
  return transpose(t, perm);
}

/**
 * Matrix product with NumPy semantics: 1-D operands are promoted to a row (left) or column (right) and the
 * added axis removed; leading batch axes broadcast.
 *
 * @example
 * ```ts
 * import { matmul, tensor } from "diffopt";
 * matmul(tensor([[1, 2], [3, 4]]), tensor([1, 1])).toArray(); // [3, 7]
 * ```
 */
export function matmul(a: TensorLike, b: TensorLike): Tensor {
  let x = asTensor(a);
  let y = asTensor(b);
  if (x.ndim === 0 || y.ndim === 0) {
    throw new ShapeError(`matmul: operands must have at least one axis, got ${fmt(x.shape)} and ${fmt(y.shape)}`);
  }
  const vecA = x.ndim === 1;
  const vecB = y.ndim === 1;
  if (vecA) x = reshape(x, [1, x.shape[0]!]);
  if (vecB) y = reshape(y, [y.shape[0]!, 1]);
  const k = x.shape[x.ndim - 1]!;
  if (y.shape[y.ndim - 2] !== k) {
    throw new ShapeError(
      `matmul: inner dimensions differ: a has shape ${fmt(asTensor(a).shape)}, b has shape ${fmt(asTensor(b).shape)}`,
    );
  }
  broadcastShapes(x.shape.slice(0, -2), y.shape.slice(0, -2), "matmul");
  let out = bind(matmulPrim, [x, y], undefined);
  if (vecA || vecB) {
    const s = [...out.shape];
    if (vecB) s.splice(s.length - 1, 1);
    if (vecA) s.splice(s.length - (vecB ? 1 : 2), 1);
    out = reshape(out, s);
  }
  return out;
}

/**
 * `numpy.dot`: the inner product of vectors, matrix–vector or matrix–matrix product (for ≤ 2-D operands;
 * scalars multiply).
 *
 * @example
 * ```ts
 * import { dot, tensor } from "diffopt";
 * dot(tensor([1, 2]), tensor([3, 4])).item(); // 11
 * ```
 */
export function dot(a: TensorLike, b: TensorLike): Tensor {
  const x = asTensor(a);
  const y = asTensor(b);
  if (x.ndim === 0 || y.ndim === 0) return mul(x, y);
  if (x.ndim > 2 || y.ndim > 2) {
    throw new ShapeError(`dot: operands of more than 2 axes are not supported (shapes ${fmt(x.shape)}, ${fmt(y.shape)}); use matmul`);
  }
  return matmul(x, y);
}

/**
 * The inner product of two tensors of the same size, flattened: Σ aᵢ bᵢ.
 *
 * @example
 * ```ts
 * import { vdot, tensor } from "diffopt";
 * vdot(tensor([[1, 2]]), tensor([[3, 4]])).item(); // 11
 * ```
 */
export function vdot(a: TensorLike, b: TensorLike): Tensor {
  const x = asTensor(a);
  const y = asTensor(b);
  if (x.size !== y.size) throw new ShapeError(`vdot: sizes differ: ${fmt(x.shape)} vs ${fmt(y.shape)}`);
  return matmul(reshape(x, [x.size]), reshape(y, [y.size]));
}

/**
 * Outer product of two vectors (flattened): `out[i, j] = a[i] * b[j]`.
 *
 * @example
 * ```ts
 * import { outer, tensor } from "diffopt";
 * outer(tensor([1, 2]), tensor([3, 4])).toArray(); // [[3, 4], [6, 8]]
 * ```
 */
export function outer(a: TensorLike, b: TensorLike): Tensor {
  const x = asTensor(a);
  const y = asTensor(b);
  return mul(reshape(x, [x.size, 1]), reshape(y, [1, y.size]));
}
