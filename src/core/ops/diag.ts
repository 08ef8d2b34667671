/**
 * Diagonals and triangles: `diag`, `diagonal`, `trace`, `triu`, `tril`.
 *
 * `diagonal` reads through an index map and `diag` of a vector writes through one (the `gather`/`scatter`
 * pair of `indexing.ts`, each the other's transpose). `triu`/`tril` zero a band of every matrix: a diagonal
 * projection, hence its own transpose.
 * @module
 */
import { bind, type Primitive } from "../engine.js";
import { allocFloat64 } from "../alloc.js";
import { ShapeError, ValueError } from "../errors.js";
import { fmt, normalizeAxis, stridesOf } from "../shape.js";
import { Tensor, asTensor, type TensorLike } from "../tensor.js";
import { gatherFlat, offsetMap, scatterFlat } from "./indexing.js";
import { sum } from "./reduce.js";
import { moveBatchAxis } from "./shape.js";
import { defineMethod } from "./define-method.js";

function checkOffset(k: number, op: string, what: string): void {
  if (!Number.isInteger(k)) throw new ValueError(`${op}: ${what} must be an integer, got ${k}`);
}

/** Length of diagonal `offset` of an n1×n2 matrix, and the row and column where it starts. */
function diagonalExtent(n1: number, n2: number, offset: number): { len: number; row: number; col: number } {
  const row = offset < 0 ? -offset : 0;
  const col = offset > 0 ? offset : 0;
  return { len: Math.max(0, Math.min(n1 - row, n2 - col)), row, col };
}

/**
 * The diagonal `offset` (above the main one when positive) of the matrices spanned by `axis1` and `axis2`,
 * like `numpy.diagonal`: those two axes are removed and the diagonal becomes the last axis.
 *
 * @example
 * ```ts
 * import { diagonal, tensor } from "diffopt";
 * const a = tensor([[1, 2, 3], [4, 5, 6]]);
 * diagonal(a).toArray();     // [1, 5]
 * diagonal(a, 1).toArray();  // [2, 6]
 * diagonal(a, -1).toArray(); // [4]
 * ```
 */
export function diagonal(x: TensorLike, offset = 0, axis1 = 0, axis2 = 1): Tensor {
  const t = asTensor(x);
  if (t.ndim < 2) throw new ShapeError(`diagonal: expected at least 2 axes, got shape ${fmt(t.shape)}`);
  checkOffset(offset, "diagonal", "offset");
  const a1 = normalizeAxis(axis1, t.ndim, "diagonal");
  const a2 = normalizeAxis(axis2, t.ndim, "diagonal");
  if (a1 === a2) throw new ValueError(`diagonal: axis1 and axis2 must differ, both are axis ${a1}`);
  const strides = stridesOf(t.shape);
  const { len, row, col } = diagonalExtent(t.shape[a1]!, t.shape[a2]!, offset);
  const dims: Int32Array[] = [];
  const shape: number[] = [];
  t.shape.forEach((n, axis) => {
    if (axis === a1 || axis === a2) return;
    const offs = new Int32Array(n);
    for (let k = 0; k < n; k++) offs[k] = k * strides[axis]!;
    dims.push(offs);
    shape.push(n);
  });
  const along = new Int32Array(len);
  for (let d = 0; d < len; d++) along[d] = d * (strides[a1]! + strides[a2]!);
  dims.push(along);
  shape.push(len);
  return gatherFlat(t, offsetMap(row * strides[a1]! + col * strides[a2]!, dims), shape);
}

/**
 * `numpy.diag`: for a vector, the square matrix with the vector on diagonal `k` (zeros elsewhere); for a
 * matrix, its diagonal `k` as a vector.
 *
 * @example
 * ```ts
 * import { diag, tensor } from "diffopt";
 * diag(tensor([1, 2])).toArray();              // [[1, 0], [0, 2]]
 * diag(tensor([1, 2]), 1).toArray();           // [[0, 1, 0], [0, 0, 2], [0, 0, 0]]
 * diag(tensor([[1, 2], [3, 4]])).toArray();    // [1, 4]
 * ```
 */
export function diag(x: TensorLike, k = 0): Tensor {
  const t = asTensor(x);
  checkOffset(k, "diag", "k");
  if (t.ndim === 2) return diagonal(t, k);
  if (t.ndim !== 1) throw new ShapeError(`diag: expected a vector or a matrix, got shape ${fmt(t.shape)}`);
  const n = t.shape[0]!;
  const m = n + Math.abs(k);
  const { row, col } = diagonalExtent(m, m, k);
  const map = new Int32Array(n);
  for (let i = 0; i < n; i++) map[i] = (i + row) * m + (i + col);
  return scatterFlat(t, map, [m, m]);
}

/**
 * Sum of diagonal `offset` of the matrices spanned by `axis1` and `axis2`, like `numpy.trace` (a scalar
 * for a matrix, a tensor of the other axes otherwise).
 *
 * @example
 * ```ts
 * import { trace, tensor } from "diffopt";
 * trace(tensor([[1, 2], [3, 4]])).item();    // 5
 * trace(tensor([[1, 2], [3, 4]]), 1).item(); // 2
 * ```
 */
export function trace(x: TensorLike, offset = 0, axis1 = 0, axis2 = 1): Tensor {
  const d = diagonal(x, offset, axis1, axis2);
  return sum(d, { axis: -1 });
}

/** Entries (i, j) kept by a band: lo ≤ j − i ≤ hi. */
interface Band {
  lo: number;
  hi: number;
}

const bandPrim: Primitive<Band> = {
  name: "band",
  impl([x], { lo, hi }) {
    const shape = x!.shape;
    const m = shape[shape.length - 2]!;
    const n = shape[shape.length - 1]!;
    const src = x!.raw;
    const out = allocFloat64(src.length);
    for (let base = 0; base < src.length; base += m * n) {
      for (let i = 0; i < m; i++) {
        const from = Math.max(0, i + lo);
        const to = Math.min(n, i + hi + 1);
        const row = base + i * n;
        for (let j = from; j < to; j++) out[row + j] = src[row + j]!;
      }
    }
    return new Tensor(out, shape);
  },
  jvp(_p, [t], _out, band) {
    return bind(bandPrim, [t!], band);
  },
  vjp(ct, _p, _out, band) {
    return [bind(bandPrim, [ct], band)];
  },
  batch([x], [d], band, size) {
    // The band acts on the last two axes: a batch axis before them is one more leading axis.
    const bdim = Math.min(d!, x!.ndim - 3);
    return [bind(bandPrim, [moveBatchAxis(x!, d!, bdim, size)], band), bdim];
  },
};

function band(x: TensorLike, k: number, op: string, keep: (k: number) => Band): Tensor {
  const t = asTensor(x);
  checkOffset(k, op, "k");
  if (t.ndim < 2)
    throw new ShapeError(`${op}: expected at least 2 axes (a batch of matrices), got shape ${fmt(t.shape)}`);
  return bind(bandPrim, [t], keep(k));
}

/**
 * The upper triangle of each matrix in the last two axes: entries on and above diagonal `k` are kept, the
 * others set to zero, like `numpy.triu`.
 *
 * @example
 * ```ts
 * import { triu, tensor } from "diffopt";
 * triu(tensor([[1, 2], [3, 4]])).toArray();    // [[1, 2], [0, 4]]
 * triu(tensor([[1, 2], [3, 4]]), 1).toArray(); // [[0, 2], [0, 0]]
 * ```
 */
export function triu(x: TensorLike, k = 0): Tensor {
  return band(x, k, "triu", (lo) => ({ lo, hi: Infinity }));
}

/**
 * The lower triangle of each matrix in the last two axes: entries on and below diagonal `k` are kept, the
 * others set to zero, like `numpy.tril`.
 *
 * @example
 * ```ts
 * import { tril, tensor } from "diffopt";
 * tril(tensor([[1, 2], [3, 4]])).toArray();     // [[1, 0], [3, 4]]
 * tril(tensor([[1, 2], [3, 4]]), -1).toArray(); // [[0, 0], [3, 0]]
 * ```
 */
export function tril(x: TensorLike, k = 0): Tensor {
  return band(x, k, "tril", (hi) => ({ lo: -Infinity, hi }));
}

declare module "../tensor.js" {
  interface Tensor {
    /** `diagonal(this, offset, axis1, axis2)` */
    diagonal(offset?: number, axis1?: number, axis2?: number): Tensor;
    /** `trace(this, offset, axis1, axis2)` */
    trace(offset?: number, axis1?: number, axis2?: number): Tensor;
    /** `triu(this, k)` */
    triu(k?: number): Tensor;
    /** `tril(this, k)` */
    tril(k?: number): Tensor;
  }
}

defineMethod("diagonal", (x, o?: number, a1?: number, a2?: number) => diagonal(x, o, a1, a2));
defineMethod("trace", (x, o?: number, a1?: number, a2?: number) => trace(x, o, a1, a2));
defineMethod("triu", (x, k?: number) => triu(x, k));
defineMethod("tril", (x, k?: number) => tril(x, k));
