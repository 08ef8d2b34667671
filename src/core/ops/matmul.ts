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
 * C[m×n] += A[m×k] · B[k×n], row-major, at the given offsets. Large products pack B into column panels of
 * width 4 and run a 2×4 register-blocked micro-kernel (8 accumulators per pass over k); small or thin
 * products use a streaming i-k-j loop whose inner loop runs over contiguous rows of B and C.
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
  if (n === 1) gemv(a, aOff, b, bOff, c, cOff, m, k);
  else if (m >= 2 && n >= 8 && m * n * k >= 32768) gemmPacked(a, aOff, b, bOff, c, cOff, m, k, n);
  else gemmStreaming(a, aOff, b, bOff, c, cOff, m, k, n);
}

/** c[m] += A[m×k] · b[k]: one dot product per row, four accumulators to break the dependency chain. */
function gemv(a: Float64Array, aOff: number, b: Float64Array, bOff: number, c: Float64Array, cOff: number, m: number, k: number): void {
  for (let i = 0; i < m; i++) {
    const row = aOff + i * k;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let p = 0;
    for (; p + 3 < k; p += 4) {
      s0 += a[row + p]! * b[bOff + p]!;
      s1 += a[row + p + 1]! * b[bOff + p + 1]!;
      s2 += a[row + p + 2]! * b[bOff + p + 2]!;
      s3 += a[row + p + 3]! * b[bOff + p + 3]!;
    }
    for (; p < k; p++) s0 += a[row + p]! * b[bOff + p]!;
    c[cOff + i] += s0 + s1 + (s2 + s3);
  }
}

function gemmStreaming(
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
  for (let i = 0; i < m; i++) {
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

function gemmPacked(
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
  const panels = n >> 2;
  const packed = new Float64Array(panels * 4 * k);
  for (let jp = 0; jp < panels; jp++) {
    let dst = jp * 4 * k;
    for (let p = 0, src = bOff + jp * 4; p < k; p++, src += n, dst += 4) {
      packed[dst] = b[src]!;
      packed[dst + 1] = b[src + 1]!;
      packed[dst + 2] = b[src + 2]!;
      packed[dst + 3] = b[src + 3]!;
    }
  }
  const rest = panels * 4;
  let i = 0;
  for (; i + 1 < m; i += 2) {
    const a0 = aOff + i * k;
    const a1 = a0 + k;
    const c0 = cOff + i * n;
    const c1 = c0 + n;
    for (let jp = 0; jp < panels; jp++) {
      let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0; // prettier-ignore
      for (let p = 0, q = jp * 4 * k; p < k; p++, q += 4) {
        const x0 = a[a0 + p]!;
        const x1 = a[a1 + p]!;
        const b0 = packed[q]!;
        const b1 = packed[q + 1]!;
        const b2 = packed[q + 2]!;
        const b3 = packed[q + 3]!;
        s00 += x0 * b0;
        s01 += x0 * b1;
        s02 += x0 * b2;
        s03 += x0 * b3;
        s10 += x1 * b0;
        s11 += x1 * b1;
        s12 += x1 * b2;
        s13 += x1 * b3;
      }
      const j = jp * 4;
      c[c0 + j] += s00;
      c[c0 + j + 1] += s01;
      c[c0 + j + 2] += s02;
      c[c0 + j + 3] += s03;
      c[c1 + j] += s10;
      c[c1 + j + 1] += s11;
      c[c1 + j + 2] += s12;
      c[c1 + j + 3] += s13;
    }
    for (let j = rest; j < n; j++) {
      let s0 = 0;
      let s1 = 0;
      for (let p = 0, q = bOff + j; p < k; p++, q += n) {
        const bv = b[q]!;
        s0 += a[a0 + p]! * bv;
        s1 += a[a1 + p]! * bv;
      }
      c[c0 + j] += s0;
      c[c1 + j] += s1;
    }
  }
  if (i < m) gemmStreaming(a, aOff + i * k, b, bOff, c, cOff + i * n, 1, k, n);
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
  try {
    broadcastShapes(x.shape.slice(0, -2), y.shape.slice(0, -2), "matmul");
  } catch {
    throw new ShapeError(
      `matmul: batch dimensions do not broadcast: a has shape ${fmt(asTensor(a).shape)}, b has shape ${fmt(asTensor(b).shape)}`,
    );
  }
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
