/**
 * Matrix products: `matmul` (batched, NumPy semantics), `dot`, `vdot`, `outer`, and the GEMM kernel.
 * @module
 */
import { bind, type Primitive } from "../engine.js";
import { allocFloat64 } from "../alloc.js";
import { ShapeError } from "../errors.js";
import { broadcastIndex, broadcastShapes, fmt } from "../shape.js";
import { Tensor, asTensor, shapeSize, type TensorLike } from "../tensor.js";
import { add, mul } from "./elementwise.js";
import { sumTo } from "./broadcast.js";
import { moveBatchAxis, reshape, transpose } from "./shape.js";
import { wasmGemm } from "../wasm/gemm.js";
import { settleAccumulator, wasmMatvec } from "../wasm/gemv.js";

/**
 * Products with every side at least 4 and at least this many multiply-adds (m·n·k) run on the WebAssembly SIMD
 * kernel when it is available (`wasm/gemm.ts`). Measured by `npm run bench -- matmul-threshold` over m, n from 2 to
 * 64 and k from 4 to 1000 (op(A) = A and Aᵀ): with every side at least 4, the kernel, packing included, beats the
 * TypeScript loops on every shape but 4×4×4 with op(A) = Aᵀ (0.95×), by 1.2–1.5× at k = 4 and 1.5–10× beyond; with
 * a side of 2 it loses on some shapes up to m·n·k = 16000, so thinner products stay in TypeScript.
 */
const WASM_MIN_WORK = 128;

/**
 * C[m×n] += A[m×k] · B[k×n], row-major and contiguous, at the given offsets (see {@link gemmStrided}).
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
  aSource: object | null = null,
  bSource: object | null = null,
  accumulate = false,
): void {
  gemmStrided(m, k, n, 1, a, aOff, k, 1, b, bOff, n, 1, c, cOff, n, aSource, bSource, accumulate);
}

/**
 * C[m×n] += Aᵀ · B for A stored row-major as k×m and B as k×n (contiguous, at the given offsets), without
 * forming Aᵀ.
 * @internal
 */
export function gemmTN(
  a: Float64Array,
  aOff: number,
  b: Float64Array,
  bOff: number,
  c: Float64Array,
  cOff: number,
  m: number,
  k: number,
  n: number,
  aSource: object | null = null,
  bSource: object | null = null,
  accumulate = false,
): void {
  gemmStrided(m, k, n, 1, a, aOff, 1, m, b, bOff, n, 1, c, cOff, n, aSource, bSource, accumulate);
}

/**
 * C[m×n] += A · Bᵀ for A stored row-major as m×k and B as n×k (contiguous, at the given offsets), without
 * forming Bᵀ.
 * @internal
 */
export function gemmNT(
  a: Float64Array,
  aOff: number,
  b: Float64Array,
  bOff: number,
  c: Float64Array,
  cOff: number,
  m: number,
  k: number,
  n: number,
  aSource: object | null = null,
  bSource: object | null = null,
  accumulate = false,
): void {
  gemmStrided(m, k, n, 1, a, aOff, k, 1, b, bOff, 1, k, c, cOff, n, aSource, bSource, accumulate);
}

/**
 * The general kernel: C += alpha · op(A) · op(B) on strided views of three arrays, where
 * op(A)(i, p) = a[aOff + i·aRow + p·aCol] (m×k), op(B)(p, j) = b[bOff + p·bRow + j·bCol] (k×n) and
 * C(i, j) = c[cOff + i·ldc + j]. Transposed operands are strides (Aᵀ of a row-major k×m A has aRow = 1,
 * aCol = m) and sub-blocks of a larger matrix are offsets with its row length as stride, so nothing is copied
 * beyond the packing below. C must not overlap the parts of `a` and `b` that are read.
 *
 * Products with every side at least 4 and at least `WASM_MIN_WORK` multiply-adds run on the WebAssembly SIMD
 * kernel (`wasm/gemm.ts`) when it is available and chosen
 * (`useKernels`), and so do matrix–vector products from 32×32 (`wasm/gemv.ts`). `aSource`/`bSource` name the
 * tensors whose values `a`/`b` are, when they are (the `matmul` primitive's operands): the WebAssembly
 * matrix–vector kernels then keep such a matrix in their memory across calls (`wasm/resident.ts`). Callers
 * working on arrays they write (the blocked factorisations) pass none. `accumulate` says that C is a cotangent sum
 * owned by the backward pass (matmul's `vjpInto`): a rank-1 update may then keep it in the WebAssembly memory until
 * the pass settles it (`wasm/gemv.ts`). Otherwise, in TypeScript, large products run blocked: slabs of at most 256 rows of op(B) by 256 columns are packed into zero-padded
 * panels of 4 columns, pairs of rows of op(A) are packed interleaved, and a 2×4 register-blocked micro-kernel
 * (8 accumulators) runs over each pair of rows and panel. Small or thin products use plain loops.
 * @internal
 */
export function gemmStrided(
  m: number,
  k: number,
  n: number,
  alpha: number,
  a: Float64Array,
  aOff: number,
  aRow: number,
  aCol: number,
  b: Float64Array,
  bOff: number,
  bRow: number,
  bCol: number,
  c: Float64Array,
  cOff: number,
  ldc: number,
  aSource: object | null = null,
  bSource: object | null = null,
  accumulate = false,
): void {
  if (m === 0 || n === 0 || k === 0 || alpha === 0) return;
  // A rank-1 update of a sum of the backward pass may keep that sum in the WebAssembly memory, newer than `c`;
  // every other kernel below reads and writes C in `c`, which must hold the current values first.
  if (
    accumulate &&
    k === 1 &&
    m > 1 &&
    n > 1 &&
    wasmMatvec(m, k, n, alpha, a, aOff, aRow, aCol, b, bOff, bRow, bCol, c, cOff, ldc, null, null, true)
  ) {
    return;
  }
  settleAccumulator(c);
  if (
    m * n * k >= WASM_MIN_WORK &&
    m >= 4 &&
    n >= 4 &&
    k >= 4 &&
    wasmGemm(m, k, n, alpha, a, aOff, aRow, aCol, b, bOff, bRow, bCol, c, cOff, ldc)
  ) {
    return;
  }
  if (wasmMatvec(m, k, n, alpha, a, aOff, aRow, aCol, b, bOff, bRow, bCol, c, cOff, ldc, aSource, bSource)) return;
  if (m >= 2 && n >= 8 && k >= 4 && m * n * k >= 32768) {
    gemmPacked(m, k, n, alpha, a, aOff, aRow, aCol, b, bOff, bRow, bCol, c, cOff, ldc);
  } else if (n === 1 && aCol === 1) {
    gemvRows(m, k, alpha, a, aOff, aRow, b, bOff, bRow, c, cOff, ldc);
  } else if (n === 1 && aRow === 1) {
    gemvColumns(m, k, alpha, a, aOff, aCol, b, bOff, bRow, c, cOff, ldc);
  } else if (bCol === 1) {
    gemmRowUpdates(m, k, n, alpha, a, aOff, aRow, aCol, b, bOff, bRow, c, cOff, ldc);
  } else {
    gemmDots(m, k, n, alpha, a, aOff, aRow, aCol, b, bOff, bRow, bCol, c, cOff, ldc);
  }
}

/** c[i] += alpha · Σₚ A(i, p)·b(p) for rows of A contiguous in p: four accumulators per dot product. */
function gemvRows(
  m: number,
  k: number,
  alpha: number,
  a: Float64Array,
  aOff: number,
  aRow: number,
  b: Float64Array,
  bOff: number,
  bRow: number,
  c: Float64Array,
  cOff: number,
  ldc: number,
): void {
  for (let i = 0; i < m; i++) {
    const row = aOff + i * aRow;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let p = 0;
    let q = bOff;
    for (; p + 3 < k; p += 4, q += 4 * bRow) {
      s0 += a[row + p]! * b[q]!;
      s1 += a[row + p + 1]! * b[q + bRow]!;
      s2 += a[row + p + 2]! * b[q + 2 * bRow]!;
      s3 += a[row + p + 3]! * b[q + 3 * bRow]!;
    }
    for (; p < k; p++, q += bRow) s0 += a[row + p]! * b[q]!;
    c[cOff + i * ldc] += alpha * (s0 + s1 + (s2 + s3));
  }
}

/** c[i] += alpha · Σₚ A(i, p)·b(p) for columns of A contiguous in i (A = Xᵀ): one axpy per stored row of X. */
function gemvColumns(
  m: number,
  k: number,
  alpha: number,
  a: Float64Array,
  aOff: number,
  aCol: number,
  b: Float64Array,
  bOff: number,
  bRow: number,
  c: Float64Array,
  cOff: number,
  ldc: number,
): void {
  for (let p = 0; p < k; p++) {
    const y = alpha * b[bOff + p * bRow]!;
    if (y === 0) continue;
    const row = aOff + p * aCol;
    if (ldc === 1) {
      for (let i = 0; i < m; i++) c[cOff + i] += a[row + i]! * y;
    } else {
      for (let i = 0; i < m; i++) c[cOff + i * ldc] += a[row + i]! * y;
    }
  }
}

/**
 * Rows of op(B) contiguous (bCol = 1): C(i, ·) += alpha·A(i, p)·B(p, ·) row by row. When op(A) is a transpose
 * (aRow = 1) the loop over p runs outermost so that A is also read along its stored rows.
 */
function gemmRowUpdates(
  m: number,
  k: number,
  n: number,
  alpha: number,
  a: Float64Array,
  aOff: number,
  aRow: number,
  aCol: number,
  b: Float64Array,
  bOff: number,
  bRow: number,
  c: Float64Array,
  cOff: number,
  ldc: number,
): void {
  if (aRow === 1 && aCol !== 1) {
    for (let p = 0; p < k; p++) {
      const aRowP = aOff + p * aCol;
      const bRowP = bOff + p * bRow;
      for (let i = 0; i < m; i++) {
        const x = alpha * a[aRowP + i]!;
        if (x === 0) continue;
        const cRow = cOff + i * ldc;
        for (let j = 0; j < n; j++) c[cRow + j] += x * b[bRowP + j]!;
      }
    }
    return;
  }
  for (let i = 0; i < m; i++) {
    const cRow = cOff + i * ldc;
    const aRowI = aOff + i * aRow;
    for (let p = 0; p < k; p++) {
      const x = alpha * a[aRowI + p * aCol]!;
      if (x === 0) continue;
      const bRowP = bOff + p * bRow;
      for (let j = 0; j < n; j++) c[cRow + j] += x * b[bRowP + j]!;
    }
  }
}

/** Any strides: one dot product per entry of C. */
function gemmDots(
  m: number,
  k: number,
  n: number,
  alpha: number,
  a: Float64Array,
  aOff: number,
  aRow: number,
  aCol: number,
  b: Float64Array,
  bOff: number,
  bRow: number,
  bCol: number,
  c: Float64Array,
  cOff: number,
  ldc: number,
): void {
  for (let i = 0; i < m; i++) {
    const aRowI = aOff + i * aRow;
    const cRow = cOff + i * ldc;
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0, x = aRowI, y = bOff + j * bCol; p < k; p++, x += aCol, y += bRow) s += a[x]! * b[y]!;
      c[cRow + j] += alpha * s;
    }
  }
}

/** Depth (rows of op(B)) and width (columns) of the packed slabs of op(B): at most 512 KiB per slab. */
const SLAB_DEPTH = 256;
const SLAB_WIDTH = 256;

function gemmPacked(
  m: number,
  k: number,
  n: number,
  alpha: number,
  a: Float64Array,
  aOff: number,
  aRow: number,
  aCol: number,
  b: Float64Array,
  bOff: number,
  bRow: number,
  bCol: number,
  c: Float64Array,
  cOff: number,
  ldc: number,
): void {
  const depth = Math.min(k, SLAB_DEPTH);
  const width = Math.min(n, SLAB_WIDTH);
  const packedB = new Float64Array(depth * (((width + 3) >> 2) << 2));
  const packedA = allocFloat64(2 * depth);
  for (let p0 = 0; p0 < k; p0 += SLAB_DEPTH) {
    const kb = Math.min(SLAB_DEPTH, k - p0);
    for (let j0 = 0; j0 < n; j0 += SLAB_WIDTH) {
      const nb = Math.min(SLAB_WIDTH, n - j0);
      const panels = (nb + 3) >> 2;
      packPanels(b, bOff + p0 * bRow + j0 * bCol, bRow, bCol, kb, nb, packedB);
      for (let i = 0; i < m; i += 2) {
        const two = i + 1 < m;
        let src = aOff + i * aRow + p0 * aCol;
        for (let q = 0; q < 2 * kb; q += 2, src += aCol) {
          packedA[q] = a[src]!;
          packedA[q + 1] = two ? a[src + aRow]! : 0;
        }
        const c0 = cOff + i * ldc + j0;
        const c1 = c0 + ldc;
        for (let jp = 0; jp < panels; jp++) {
          let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0; // prettier-ignore
          for (let q = 0, r = jp * 4 * kb, end = 2 * kb; q < end; q += 2, r += 4) {
            const x0 = packedA[q]!;
            const x1 = packedA[q + 1]!;
            const b0 = packedB[r]!;
            const b1 = packedB[r + 1]!;
            const b2 = packedB[r + 2]!;
            const b3 = packedB[r + 3]!;
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
          const w = nb - j;
          if (w >= 4 && two) {
            c[c0 + j] += alpha * s00;
            c[c0 + j + 1] += alpha * s01;
            c[c0 + j + 2] += alpha * s02;
            c[c0 + j + 3] += alpha * s03;
            c[c1 + j] += alpha * s10;
            c[c1 + j + 1] += alpha * s11;
            c[c1 + j + 2] += alpha * s12;
            c[c1 + j + 3] += alpha * s13;
          } else {
            c[c0 + j] += alpha * s00;
            if (w > 1) c[c0 + j + 1] += alpha * s01;
            if (w > 2) c[c0 + j + 2] += alpha * s02;
            if (w > 3) c[c0 + j + 3] += alpha * s03;
            if (two) {
              c[c1 + j] += alpha * s10;
              if (w > 1) c[c1 + j + 1] += alpha * s11;
              if (w > 2) c[c1 + j + 2] += alpha * s12;
              if (w > 3) c[c1 + j + 3] += alpha * s13;
            }
          }
        }
      }
    }
  }
}

/**
 * Packs the kb×nb block of op(B) starting at `src` into panels of 4 columns (panel jp holds rows 0..kb−1 of
 * columns 4jp..4jp+3, row by row), padding the last panel with zeros.
 */
function packPanels(
  b: Float64Array,
  src: number,
  bRow: number,
  bCol: number,
  kb: number,
  nb: number,
  packed: Float64Array,
): void {
  const panels = (nb + 3) >> 2;
  for (let jp = 0; jp < panels; jp++) {
    const w = Math.min(4, nb - jp * 4);
    let s = src + jp * 4 * bCol;
    let d = jp * 4 * kb;
    if (w === 4) {
      for (let p = 0; p < kb; p++, s += bRow, d += 4) {
        packed[d] = b[s]!;
        packed[d + 1] = b[s + bCol]!;
        packed[d + 2] = b[s + 2 * bCol]!;
        packed[d + 3] = b[s + 3 * bCol]!;
      }
    } else {
      for (let p = 0; p < kb; p++, s += bRow, d += 4) {
        for (let t = 0; t < 4; t++) packed[d + t] = t < w ? b[s + t * bCol]! : 0;
      }
    }
  }
}

/**
 * Which operand of a matrix product is read transposed: "nn" is A·B, "tn" is Aᵀ·B and "nt" is A·Bᵀ (on the
 * last two axes, batch axes broadcasting).
 */
type Layout = "nn" | "tn" | "nt";

const kernels: Record<Layout, typeof gemm> = { nn: gemm, tn: gemmTN, nt: gemmNT };

/** [m, k, n] of op(A)·op(B) for operands of these shapes. */
function productDims(as: readonly number[], bs: readonly number[], layout: Layout): [number, number, number] {
  const a0 = as[as.length - 2]!;
  const a1 = as[as.length - 1]!;
  const b0 = bs[bs.length - 2]!;
  const b1 = bs[bs.length - 1]!;
  if (layout === "nn") return [a0, a1, b1];
  if (layout === "tn") return [a1, a0, b1];
  return [a0, a1, b0];
}

/**
 * The matrix products, one primitive for the three layouts: the derivative rules of each are products in the
 * other layouts, so no transposed copy is ever formed and every order of derivative stays a product.
 */
const matmulPrim: Primitive<Layout> = {
  name: "matmul",
  impl([a, b], layout) {
    const as = a!.shape;
    const bs = b!.shape;
    const [m, k, n] = productDims(as, bs, layout);
    const kernel = kernels[layout];
    const batch = broadcastShapes(as.slice(0, -2), bs.slice(0, -2), "matmul");
    const nb = shapeSize(batch);
    const out = allocFloat64(nb * m * n);
    if (nb === 1) {
      kernel(a!.raw, 0, b!.raw, 0, out, 0, m, k, n, a!, b!);
    } else {
      const ia = broadcastIndex(as.slice(0, -2), batch);
      const ib = broadcastIndex(bs.slice(0, -2), batch);
      for (let t = 0; t < nb; t++) {
        kernel(a!.raw, ia[t]! * m * k, b!.raw, ib[t]! * k * n, out, t * m * n, m, k, n, a!, b!);
      }
    }
    return new Tensor(out, [...batch, m, n]);
  },
  jvp([a, b], [ta, tb], _out, layout) {
    const pa = ta === null ? null : bind(matmulPrim, [ta, b!], layout);
    const pb = tb === null ? null : bind(matmulPrim, [a!, tb], layout);
    return pa === null ? pb! : pb === null ? pa : add(pa, pb);
  },
  vjp(ct, [a, b], _out, layout, needs) {
    return [
      needs[0] ? operandCotangent(ct, a!, b!, layout, 0) : null,
      needs[1] ? operandCotangent(ct, a!, b!, layout, 1) : null,
    ];
  },
  vjpInto(ct, [a, b], _out, layout, index, target) {
    // One product added into the target by the GEMM kernels (which compute C += op(A)·op(B)): for a matrix times
    // a vector the weight's cotangent is a rank-1 update, with no outer product formed. Unbatched, concrete only.
    if (a!.level !== 0 || b!.level !== 0 || a!.ndim !== 2 || b!.ndim !== 2 || ct.ndim !== 2) return false;
    const [x, y, l] = cotangentProduct(ct, a!, b!, layout, index);
    const [m, k, n] = productDims(x.shape, y.shape, l);
    kernels[l](x.raw, 0, y.raw, 0, target, 0, m, k, n, x, y, true);
    return true;
  },
  batch([a, b], [da, db], layout, size) {
    return batchedProduct(a!, b!, da!, db!, layout, size);
  },
};

/** The cotangent of operand `index` of op(A)·op(B), summed to that operand's shape (see {@link cotangentProduct}). */
function operandCotangent(ct: Tensor, a: Tensor, b: Tensor, layout: Layout, index: number): Tensor {
  const [x, y, l] = cotangentProduct(ct, a, b, layout, index);
  return sumTo(bind(matmulPrim, [x, y], l), (index === 0 ? a : b).shape);
}

/**
 * The cotangent of operand `index` (0: A, 1: B) of op(A)·op(B) as a product [x, y, layout], in the other layouts
 * so that no transposed copy is formed:
 * nn: C = A·B  → Ā = C̄·Bᵀ ("nt"), B̄ = Aᵀ·C̄ ("tn");
 * tn: C = Aᵀ·B → Ā = B·C̄ᵀ ("nt"), B̄ = A·C̄ ("nn");
 * nt: C = A·Bᵀ → Ā = C̄·B ("nn"),  B̄ = C̄ᵀ·A ("tn").
 */
function cotangentProduct(ct: Tensor, a: Tensor, b: Tensor, layout: Layout, index: number): [Tensor, Tensor, Layout] {
  if (index === 0) return layout === "nn" ? [ct, b, "nt"] : layout === "tn" ? [b, ct, "nt"] : [ct, b, "nn"];
  return layout === "nn" ? [a, ct, "tn"] : layout === "tn" ? [a, ct, "nn"] : [ct, a, "tn"];
}

/** Fewest rows of A for which a batch of B's is copied side by side into one product (see `batchedProduct`). */
const FOLD_MIN_ROWS = 8;

/** Most multiply-adds per element (m·k·n) for which a batch of B's is copied side by side into one product. */
const FOLD_MAX_WORK = 32768;

/**
 * The batching rule of the matrix products. When one operand is a single matrix and the batch of the other
 * can be laid along the rows of op(A) or the columns of op(B) without copying (A batched in "nn"/"nt", B
 * batched in "nt", a batch of vectors B in any layout, as V·op(A)ᵀ), the whole batch is one GEMM — one large product runs on the packed/WASM kernels where a
 * batch of small ones would each run on the plain loops. When B is batched in "nn"/"tn" the batch is moved next
 * to B's columns first (one copy of B), which pays off when A has at least 8 rows and each element's product is
 * below the fast kernels' size (measured in `bench/vmap-rules.bench.ts`). Otherwise the batch axes go first and the primitive's broadcasting batch loop
 * runs one GEMM per element.
 */
function batchedProduct(
  a: Tensor,
  b: Tensor,
  da: number | null,
  db: number | null,
  layout: Layout,
  size: number,
): [Tensor, number] {
  if (db === null && b.ndim === 2 && layout !== "tn") {
    // op(A)'s rows are A's rows: [B, …, m, k] → [B·…·m, k].
    const x = moveBatchAxis(a, da, 0, size);
    const k = x.shape[x.ndim - 1]!;
    const out = bind(matmulPrim, [reshape(x, [shapeSize(x.shape.slice(0, -1)), k]), b], layout);
    return [reshape(out, [...x.shape.slice(0, -1), out.shape[1]!]), 0];
  }
  if (da === null && a.ndim === 2 && b.ndim === 3) {
    const m = layout === "tn" ? a.shape[1]! : a.shape[0]!;
    if (layout === "nt") {
      // op(B)'s columns are B's rows: [B, n, k] → [B·n, k], and C = A·Bᵀ is [m, B·n].
      const y = moveBatchAxis(b, db, 0, size);
      const [, n, k] = y.shape as [number, number, number];
      return [reshape(bind(matmulPrim, [a, reshape(y, [size * n, k])], layout), [m, size, n]), 1];
    }
    const [k, n] = b.shape.filter((_, i) => i !== db) as [number, number];
    if (n === 1) {
      // A batch of vectors: their matrix V (batch × k) needs no copy, and the products are V·op(A)ᵀ.
      const v = reshape(moveBatchAxis(b, db, 0, size), [size, k]);
      const out = bind(matmulPrim, [v, a], layout === "nn" ? "nt" : "nn");
      return [reshape(out, [size, m, 1]), 0];
    }
    // op(B) = B is [k, n] per element: [k, B, n] → [k, B·n] (one copy of B), and C = op(A)·B is [m, B·n].
    // The copy is repaid when A has enough rows and each element's product is small (the per-call costs dominate).
    if (m >= FOLD_MIN_ROWS && m * k * n < FOLD_MAX_WORK) {
      const y = moveBatchAxis(b, db, 1, size);
      return [reshape(bind(matmulPrim, [a, reshape(y, [k, size * n])], layout), [m, size, n]), 1];
    }
  }
  // One GEMM per element: the batch axes first, each operand padded to the same number of leading axes.
  const lead = Math.max(a.ndim - (da === null ? 0 : 1), b.ndim - (db === null ? 0 : 1)) - 2;
  return [bind(matmulPrim, [batchFront(a, da, size, lead), batchFront(b, db, size, lead)], layout), 0];
}

/** `x` with its batch axis `d` (if any) first and padded with unit axes to `lead` axes before the matrix ones. */
function batchFront(x: Tensor, d: number | null, size: number, lead: number): Tensor {
  if (d === null) return x;
  const y = moveBatchAxis(x, d, 0, size);
  const pad = lead - (y.ndim - 3);
  return pad === 0 ? y : reshape(y, [size, ...new Array<number>(pad).fill(1), ...y.shape.slice(1)]);
}

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
  if (vecB && x.ndim === 2 && x.level === 0 && y.level === 0 && x.shape[1] === y.shape[0]) {
    // A concrete matrix times a vector (every step of a fixed-point loop such as tanh(W·z + x)): the product
    // directly, without the column reshape, the batch broadcast and their copies of the shapes.
    const m = x.shape[0]!;
    const out = allocFloat64(m);
    gemm(x.raw, 0, y.raw, 0, out, 0, m, y.shape[0]!, 1, x, y);
    return new Tensor(out, [m]);
  }
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
  let out = bind(matmulPrim, [x, y], "nn");
  if (vecA || vecB) {
    const s = [...out.shape];
    if (vecB) s.splice(s.length - 1, 1);
    if (vecA) s.splice(s.length - (vecB ? 1 : 2), 1);
    out = reshape(out, s);
  }
  return out;
}

/**
 * Aᵀ·B on the last two axes (batch axes broadcast), computed without forming Aᵀ: the same as
 * `matmul(matrixTranspose(a), b)` but faster, e.g. for normal equations Xᵀ·X or gradients Xᵀ·r.
 *
 * @example
 * ```ts
 * import { matmulTN, tensor } from "diffopt";
 * matmulTN(tensor([[1, 2], [3, 4]]), tensor([[1], [1]])).toArray(); // [[4], [6]]
 * ```
 */
export function matmulTN(a: TensorLike, b: TensorLike): Tensor {
  return transposedProduct("matmulTN", a, b, "tn");
}

/**
 * A·Bᵀ on the last two axes (batch axes broadcast), computed without forming Bᵀ: the same as
 * `matmul(a, matrixTranspose(b))` but faster, e.g. for Gram matrices X·Xᵀ.
 *
 * @example
 * ```ts
 * import { matmulNT, tensor } from "diffopt";
 * matmulNT(tensor([[1, 2], [3, 4]]), tensor([[1, 1]])).toArray(); // [[3], [7]]
 * ```
 */
export function matmulNT(a: TensorLike, b: TensorLike): Tensor {
  return transposedProduct("matmulNT", a, b, "nt");
}

function transposedProduct(name: string, a: TensorLike, b: TensorLike, layout: "tn" | "nt"): Tensor {
  const x = asTensor(a);
  const y = asTensor(b);
  if (x.ndim < 2 || y.ndim < 2) {
    throw new ShapeError(`${name}: operands must have at least two axes, got ${fmt(x.shape)} and ${fmt(y.shape)}`);
  }
  const ka = x.shape[x.ndim - (layout === "tn" ? 2 : 1)]!;
  const kb = y.shape[y.ndim - (layout === "tn" ? 2 : 1)]!;
  if (ka !== kb) {
    const axes = layout === "tn" ? "rows" : "columns";
    throw new ShapeError(
      `${name}: a and b must have the same number of ${axes}, got shapes ${fmt(x.shape)} and ${fmt(y.shape)}`,
    );
  }
  try {
    broadcastShapes(x.shape.slice(0, -2), y.shape.slice(0, -2), name);
  } catch {
    throw new ShapeError(
      `${name}: batch dimensions do not broadcast: a has shape ${fmt(x.shape)}, b has shape ${fmt(y.shape)}`,
    );
  }
  return bind(matmulPrim, [x, y], layout);
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
    throw new ShapeError(
      `dot: operands of more than 2 axes are not supported (shapes ${fmt(x.shape)}, ${fmt(y.shape)}); use matmul`,
    );
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
