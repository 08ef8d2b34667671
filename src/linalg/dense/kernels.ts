/**
 * Raw float64 kernels of dense linear algebra: LU with partial pivoting, Cholesky, triangular solves,
 * Householder QR (optionally column-pivoted), minimum-norm least squares and the symmetric eigendecomposition.
 *
 * Conventions: matrices are row-major `Float64Array`s; inputs are never mutated; a right-hand side `b` of an
 * n×n system is either a vector of length n or an n×k matrix (row-major, k = b.length / n), and the solution has
 * the same layout. These kernels do no input validation beyond what their results report (`singular`, `null`):
 * the differentiable wrappers in this folder check shapes and finiteness.
 *
 * @module
 */
import { ValueError } from "../../core/errors.js";
import { gemmStrided } from "../../core/ops/matmul.js";

const EPS = Number.EPSILON;

/** An LU factorisation P·A = L·U (unit lower L and upper U packed in `lu`; row i of P·A is row `piv[i]` of A). */
export interface LuFactors {
  readonly lu: Float64Array;
  readonly piv: Int32Array;
}

/** @internal The transpose of the row-major rows×cols array `a`. */
export function transposeArray(a: Float64Array, rows: number, cols: number): Float64Array {
  const t = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = a[i * cols + j]!;
  return t;
}

/**
 * Power-of-two exponents beyond which a kernel that squares entries (Householder and Givens norms, Jacobi
 * rotations, sums of squares over up to ~2²⁰ terms) could overflow or lose its largest terms to underflow.
 */
const SAFE_EXPONENT = 500;

/** @internal The e with max|a| ≤ 2^e < 2·max|a| (0 for an all-zero array). */
export function magnitudeExponent(a: Float64Array): number {
  let amax = 0;
  for (let i = 0; i < a.length; i++) amax = Math.max(amax, Math.abs(a[i]!));
  if (amax === 0) return 0;
  let e = Math.ceil(Math.log2(amax));
  // log2 rounds: make 2^(e−1) < amax ≤ 2^e exact.
  if (timesPowerOfTwo(1, e) < amax) e++;
  else if (timesPowerOfTwo(1, e - 1) >= amax) e--;
  return e;
}

/** @internal x·2^e exactly (barring overflow or underflow of the result), for any e in [−2148, 2046]. */
export function timesPowerOfTwo(x: number, e: number): number {
  const half = e >> 1;
  return x * 2 ** half * 2 ** (e - half);
}

/** @internal a·2^e, a new array (exact for entries whose result is a normal number). */
export function scaledArray(a: Float64Array, e: number): Float64Array {
  const half = e >> 1;
  const f1 = 2 ** half;
  const f2 = 2 ** (e - half);
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! * f1 * f2;
  return out;
}

/**
 * @internal The exponent by which a kernel that squares entries must first scale `a` (by 2^−e) so that nothing
 * overflows or underflows: 0, the fast path, whenever max|a| lies in [2⁻⁵⁰⁰, 2⁵⁰⁰].
 */
export function rangeExponent(a: Float64Array): number {
  const e = magnitudeExponent(a);
  return Math.abs(e) > SAFE_EXPONENT ? e : 0;
}

/**
 * LU factorisation with partial pivoting of the n×n matrix `a`: P·A = L·U. `singular` is true when some pivot is
 * exactly zero or smaller in magnitude than n·eps·max|aᵢⱼ|. As in LAPACK's getrf, elimination continues past
 * tiny non-zero pivots (so the product of the pivots is still the determinant) and skips only exactly-zero
 * columns; the factors of a singular matrix must not be used to solve. From n = 64 the factorisation is
 * recursive (halves of the columns, with triangular solves and GEMM updates), about 3× faster at n = 500 than
 * the unblocked loops; the pivots are chosen by the same rule.
 *
 * @example
 * ```ts
 * import { linalg } from "diffopt";
 * const f = linalg.luFactor(new Float64Array([0, 1, 2, 3]), 2);
 * linalg.luSolve(f, 2, new Float64Array([1, 5])); // Float64Array [1, 1]
 * ```
 */
export function luFactor(a: Float64Array, n: number): { lu: Float64Array; piv: Int32Array; singular: boolean } {
  const lu = a.slice(0, n * n);
  const piv = new Int32Array(n);
  for (let i = 0; i < n; i++) piv[i] = i;
  let amax = 0;
  for (let i = 0; i < n * n; i++) {
    const v = Math.abs(lu[i]!);
    if (v > amax) amax = v;
  }
  const tiny = n * EPS * amax;
  const singular = n < RECURSIVE_LU_MIN_ORDER ? luPanel(lu, n, 0, n, piv, tiny) : luRecursive(lu, n, 0, n, piv, tiny);
  return { lu, piv, singular };
}

/**
 * Orders from which the recursive factorisations beat the unblocked loops on V8 (below them the GEMM updates
 * are too small to pay off).
 */
const RECURSIVE_LU_MIN_ORDER = 64;
const RECURSIVE_CHOLESKY_MIN_ORDER = 96;
/** Column blocks at most this wide are factored by the unblocked loops (measured best among 8–48). */
const LEAF = 32;
/** Height of the row blocks in which the lower triangle of a symmetric update is done. */
const ROW_BLOCK = 64;

/** Splits [k0, k1) near its middle, at a multiple of {@link LEAF} past k0 so that the leaves are full width. */
function splitPoint(k0: number, k1: number): number {
  return k0 + Math.max(LEAF, Math.floor((k1 - k0) / (2 * LEAF)) * LEAF);
}

/**
 * In place: recursive LU with partial pivoting of columns k0..k1−1 of `lu` (rows k0..n−1, already updated for
 * the columns before k0). The left half is factored, the right half brought up to date by a triangular solve
 * and one GEMM, then factored: almost all of the ~2n³/3 flops run in GEMM, with large inner dimensions.
 */
function luRecursive(lu: Float64Array, n: number, k0: number, k1: number, piv: Int32Array, tiny: number): boolean {
  if (k1 - k0 <= LEAF) return luPanel(lu, n, k0, k1, piv, tiny);
  const mid = splitPoint(k0, k1);
  const left = luRecursive(lu, n, k0, mid, piv, tiny);
  // U₁₂ = L₁₁⁻¹·A₁₂ (L₁₁ unit lower: rows and columns k0..mid−1), then A₂₂ ← A₂₂ − L₂₁·U₁₂.
  unitLowerSolveInPlace(lu, n, k0, mid, mid, k1);
  gemmStrided(n - mid, mid - k0, k1 - mid, -1, lu, mid * n + k0, n, 1, lu, k0 * n + mid, n, 1, lu, mid * n + mid, n);
  const right = luRecursive(lu, n, mid, k1, piv, tiny);
  return left || right;
}

/**
 * In place: X ← L⁻¹·X where L is the unit lower triangle of `t` on rows and columns r0..r1−1 and X is the block
 * of rows r0..r1−1 and columns c0..c1−1 of `t` (row-major n×n); recursive, so that most flops run in GEMM.
 */
function unitLowerSolveInPlace(t: Float64Array, n: number, r0: number, r1: number, c0: number, c1: number): void {
  if (r1 - r0 <= LEAF) {
    for (let i = r0 + 1; i < r1; i++) {
      const rowI = i * n;
      for (let p = r0; p < i; p++) {
        const l = t[rowI + p]!;
        if (l === 0) continue;
        const rowP = p * n;
        for (let j = c0; j < c1; j++) t[rowI + j] -= l * t[rowP + j]!;
      }
    }
    return;
  }
  const mid = splitPoint(r0, r1);
  unitLowerSolveInPlace(t, n, r0, mid, c0, c1);
  gemmStrided(r1 - mid, mid - r0, c1 - c0, -1, t, mid * n + r0, n, 1, t, r0 * n + c0, n, 1, t, mid * n + c0, n);
  unitLowerSolveInPlace(t, n, mid, r1, c0, c1);
}

/**
 * In place: eliminates columns k0..k1−1 of the row-major n×n `lu` (rows k0..n−1, already updated for the
 * columns before k0) with partial pivoting, swapping whole rows and recording them in `piv`; the rank-1 updates
 * stop at column k1. With k0 = 0 and k1 = n this is the whole unblocked LU. Returns whether some pivot was at
 * most `tiny`; exactly-zero columns are skipped.
 */
function luPanel(lu: Float64Array, n: number, k0: number, k1: number, piv: Int32Array, tiny: number): boolean {
  let singular = false;
  for (let k = k0; k < k1; k++) {
    let p = k;
    let best = Math.abs(lu[k * n + k]!);
    for (let i = k + 1; i < n; i++) {
      const v = Math.abs(lu[i * n + k]!);
      if (v > best) {
        best = v;
        p = i;
      }
    }
    if (p !== k) {
      for (let j = 0; j < n; j++) {
        const t = lu[k * n + j]!;
        lu[k * n + j] = lu[p * n + j]!;
        lu[p * n + j] = t;
      }
      const t = piv[k]!;
      piv[k] = piv[p]!;
      piv[p] = t;
    }
    if (best <= tiny) singular = true;
    if (best === 0) continue;
    const inv = 1 / lu[k * n + k]!;
    const rowK = k * n;
    for (let i = k + 1; i < n; i++) {
      const rowI = i * n;
      const l = lu[rowI + k]! * inv;
      lu[rowI + k] = l;
      if (l === 0) continue;
      for (let j = k + 1; j < k1; j++) lu[rowI + j] -= l * lu[rowK + j]!;
    }
  }
  return singular;
}

/**
 * The smallest pivot magnitude |Uᵢᵢ| of an LU factorisation and its index (for error messages).
 *
 * @example
 * ```ts
 * import { linalg } from "diffopt";
 * linalg.luMinPivot(linalg.luFactor(new Float64Array([1, 2, 2, 4]), 2).lu, 2); // { index: 1, value: 0 }
 * ```
 */
export function luMinPivot(lu: Float64Array, n: number): { index: number; value: number } {
  let index = 0;
  let value = Infinity;
  for (let i = 0; i < n; i++) {
    const v = Math.abs(lu[i * n + i]!);
    if (v < value) {
      value = v;
      index = i;
    }
  }
  return { index, value };
}

/**
 * Solves A·x = b (or Aᵀ·x = b with `transpose`) from the factors of {@link luFactor}. `b` is a vector of length
 * n or an n×k row-major matrix; the result has the same layout.
 *
 * @example
 * ```ts
 * import { linalg } from "diffopt";
 * const f = linalg.luFactor(new Float64Array([2, 1, 0, 1]), 2);
 * linalg.luSolve(f, 2, new Float64Array([3, 1]), true); // solves [[2, 0], [1, 1]] x = [3, 1]: [1.5, -0.5]
 * ```
 */
export function luSolve(f: LuFactors, n: number, b: Float64Array, transpose = false): Float64Array {
  const k = n === 0 ? 0 : b.length / n;
  const { lu, piv } = f;
  const x = new Float64Array(n * k);
  if (!transpose) {
    for (let i = 0; i < n; i++) x.set(b.subarray(piv[i]! * k, piv[i]! * k + k), i * k);
    forwardRows(lu, n, x, k, true, false);
    backwardRows(lu, n, x, k, false, false);
    return x;
  }
  // Aᵀ = Uᵀ Lᵀ P: solve Uᵀ z = b, Lᵀ w = z, then x = Pᵀ w.
  const w = b.slice(0, n * k);
  forwardRows(lu, n, w, k, false, true);
  backwardRows(lu, n, w, k, true, true);
  for (let i = 0; i < n; i++) x.set(w.subarray(i * k, i * k + k), piv[i]! * k);
  return x;
}

/**
 * In place: solves op(T)·X = X for a lower-triangular op(T) (T itself lower, or T upper and `trans`), with k
 * right-hand sides stored row-major in `x`. `unit` takes the diagonal as ones.
 */
function forwardRows(t: Float64Array, n: number, x: Float64Array, k: number, unit: boolean, trans: boolean): void {
  for (let i = 0; i < n; i++) {
    const xi = i * k;
    for (let j = 0; j < i; j++) {
      const l = trans ? t[j * n + i]! : t[i * n + j]!;
      if (l === 0) continue;
      const xj = j * k;
      for (let c = 0; c < k; c++) x[xi + c] -= l * x[xj + c]!;
    }
    if (!unit) {
      const inv = 1 / t[i * n + i]!;
      for (let c = 0; c < k; c++) x[xi + c] *= inv;
    }
  }
}

/** In place: solves op(T)·X = X for an upper-triangular op(T) (T upper, or T lower and `trans`). */
function backwardRows(t: Float64Array, n: number, x: Float64Array, k: number, unit: boolean, trans: boolean): void {
  for (let i = n - 1; i >= 0; i--) {
    const xi = i * k;
    for (let j = i + 1; j < n; j++) {
      const u = trans ? t[j * n + i]! : t[i * n + j]!;
      if (u === 0) continue;
      const xj = j * k;
      for (let c = 0; c < k; c++) x[xi + c] -= u * x[xj + c]!;
    }
    if (!unit) {
      const inv = 1 / t[i * n + i]!;
      for (let c = 0; c < k; c++) x[xi + c] *= inv;
    }
  }
}

/**
 * Cholesky factor of the symmetric n×n matrix `a` (only its lower triangle is read): the lower-triangular L with
 * A = L·Lᵀ, or null when A is not (numerically) positive definite: when a pivot is not above n·eps·max|aᵢᵢ|.
 * From n = 96 the factorisation is recursive, with GEMM updates of the lower triangle.
 *
 * @example
 * ```ts
 * import { linalg } from "diffopt";
 * linalg.choleskyFactor(new Float64Array([4, 2, 2, 5]), 2); // Float64Array [2, 0, 1, 2]
 * linalg.choleskyFactor(new Float64Array([1, 2, 2, 1]), 2); // null
 * ```
 */
export function choleskyFactor(a: Float64Array, n: number): Float64Array | null {
  const l = new Float64Array(n * n);
  // A pivot at rounding level relative to the diagonal means A is singular to working precision: a PSD but
  // singular matrix would otherwise pass with a tiny positive pivot and give a meaningless solve.
  let maxDiag = 0;
  for (let j = 0; j < n; j++) maxDiag = Math.max(maxDiag, Math.abs(a[j * n + j]!));
  const tiny = n * EPS * maxDiag;
  for (let i = 0; i < n; i++) l.set(a.subarray(i * n, i * n + i + 1), i * n);
  if (n < RECURSIVE_CHOLESKY_MIN_ORDER) return choleskyPanel(l, n, 0, n, tiny) ? l : null;
  if (!choleskyRecursive(l, n, 0, n, tiny)) return null;
  // The symmetric updates also wrote above the diagonal, next to it.
  for (let i = 0; i < n; i++) l.fill(0, i * n + i + 1, i * n + n);
  return l;
}

/**
 * In place: recursive Cholesky of columns k0..k1−1 of `l` (see {@link choleskyPanel} for the layout). After
 * the left half, the lower triangle of the right half is updated by GEMMs: block rows of the square part, each
 * stopping at its diagonal block, and the rows below in one product.
 */
function choleskyRecursive(l: Float64Array, n: number, k0: number, k1: number, tiny: number): boolean {
  if (k1 - k0 <= LEAF) return choleskyPanel(l, n, k0, k1, tiny);
  const mid = splitPoint(k0, k1);
  if (!choleskyRecursive(l, n, k0, mid, tiny)) return false;
  const depth = mid - k0;
  // A[i, j] −= Σₚ L[i, p]·L[j, p] over p in k0..mid−1, for mid ≤ j < k1 and j ≤ i (op(B)(p, j) = L[j, p]).
  for (let r0 = mid; r0 < k1; r0 += ROW_BLOCK) {
    const r1 = Math.min(k1, r0 + ROW_BLOCK);
    gemmStrided(r1 - r0, depth, r1 - mid, -1, l, r0 * n + k0, n, 1, l, mid * n + k0, 1, n, l, r0 * n + mid, n);
  }
  if (k1 < n) {
    gemmStrided(n - k1, depth, k1 - mid, -1, l, k1 * n + k0, n, 1, l, mid * n + k0, 1, n, l, k1 * n + mid, n);
  }
  return choleskyRecursive(l, n, mid, k1, tiny);
}

/**
 * In place: computes columns k0..k1−1 of the Cholesky factor in the row-major n×n `l`, which holds on and below
 * the diagonal the lower triangle of A already updated for the columns before k0 (only entries i ≥ j, j < k1 are
 * read). With k0 = 0 and k1 = n this is the whole unblocked (left-looking) Cholesky. Returns false at a pivot
 * that is not above `tiny` (A not numerically positive definite).
 */
function choleskyPanel(l: Float64Array, n: number, k0: number, k1: number, tiny: number): boolean {
  for (let j = k0; j < k1; j++) {
    const rowJ = j * n;
    let d = l[rowJ + j]!;
    for (let p = k0; p < j; p++) d -= l[rowJ + p]! * l[rowJ + p]!;
    if (!(d > tiny)) return false;
    const ljj = Math.sqrt(d);
    l[rowJ + j] = ljj;
    const inv = 1 / ljj;
    for (let i = j + 1; i < n; i++) {
      const rowI = i * n;
      let s = l[rowI + j]!;
      for (let p = k0; p < j; p++) s -= l[rowI + p]! * l[rowJ + p]!;
      l[rowI + j] = s * inv;
    }
  }
  return true;
}

/**
 * Solves A·x = b given the Cholesky factor L of A (A = L·Lᵀ); `b` is a vector or n×k matrix.
 *
 * @example
 * ```ts
 * import { linalg } from "diffopt";
 * const l = linalg.choleskyFactor(new Float64Array([4, 2, 2, 5]), 2)!;
 * linalg.choleskySolve(l, 2, new Float64Array([6, 7])); // Float64Array [1, 1]
 * ```
 */
export function choleskySolve(l: Float64Array, n: number, b: Float64Array): Float64Array {
  const k = n === 0 ? 0 : b.length / n;
  const x = b.slice(0, n * k);
  forwardRows(l, n, x, k, false, false);
  backwardRows(l, n, x, k, false, true);
  return x;
}

/**
 * Solves op(T)·x = b for a triangular n×n `t` (op = identity, or transpose with `transpose`). Only the triangle
 * named by `lower` is read; `unitDiagonal` takes the diagonal as ones. `b` is a vector or n×k matrix.
 *
 * @example
 * ```ts
 * import { linalg } from "diffopt";
 * linalg.triangularSolveKernel(new Float64Array([2, 0, 1, 1]), 2, new Float64Array([2, 3]), { lower: true }); // [1, 2]
 * ```
 */
export function triangularSolveKernel(
  t: Float64Array,
  n: number,
  b: Float64Array,
  opts: { lower: boolean; transpose?: boolean; unitDiagonal?: boolean },
): Float64Array {
  const k = n === 0 ? 0 : b.length / n;
  const x = b.slice(0, n * k);
  const trans = opts.transpose ?? false;
  const unit = opts.unitDiagonal ?? false;
  if (opts.lower !== trans) forwardRows(t, n, x, k, unit, trans);
  else backwardRows(t, n, x, k, unit, trans);
  return x;
}

/**
 * A Householder QR factorisation A·P = Q·R of an m×n matrix. `qr` holds R on and above the diagonal and the
 * essential parts of the Householder vectors below it (vᵢ = [1, qr[i+1.., i]]); Q = H₀·H₁·…·H_{k−1} with
 * Hᵢ = I − tauᵢ·vᵢ·vᵢᵀ and k = min(m, n). `perm[j]` is the column of A in column j of A·P (the identity unless
 * the factorisation was column-pivoted).
 */
export interface QrFactors {
  readonly qr: Float64Array;
  readonly tau: Float64Array;
  readonly perm: Int32Array;
  readonly m: number;
  readonly n: number;
}

/**
 * Householder QR of the m×n matrix `a`, with column pivoting (largest remaining column norm first, as in
 * LAPACK's geqp3) when `pivoting` is true, which makes |R₀₀| ≥ |R₁₁| ≥ … and reveals the numerical rank.
 *
 * @example
 * ```ts
 * import { linalg } from "diffopt";
 * const { q, r } = linalg.qrExplicit(linalg.qrFactor(new Float64Array([3, 0, 4, 5]), 2, 2));
 * // r = [-5, -4, 0, 3] (row-major), q = [-0.6, -0.8, -0.8, 0.6]
 * ```
 */
export function qrFactor(a: Float64Array, m: number, n: number, pivoting = false): QrFactors {
  // Householder norms square the entries: beyond 2^±500 factor A·2^−e and scale R back (Q does not change).
  const e = rangeExponent(a.subarray(0, m * n));
  const qr = e === 0 ? a.slice(0, m * n) : scaledArray(a.subarray(0, m * n), -e);
  const kmax = Math.min(m, n);
  const tau = new Float64Array(kmax);
  const perm = new Int32Array(n);
  for (let j = 0; j < n; j++) perm[j] = j;
  const colNorm2 = new Float64Array(pivoting ? n : 0);
  const refNorm2 = new Float64Array(pivoting ? n : 0);
  if (pivoting) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) colNorm2[j] += qr[i * n + j]! * qr[i * n + j]!;
    }
    refNorm2.set(colNorm2);
  }
  for (let k = 0; k < kmax; k++) {
    if (pivoting) {
      let p = k;
      for (let j = k + 1; j < n; j++) if (colNorm2[j]! > colNorm2[p]!) p = j;
      if (p !== k) {
        for (let i = 0; i < m; i++) {
          const t = qr[i * n + k]!;
          qr[i * n + k] = qr[i * n + p]!;
          qr[i * n + p] = t;
        }
        swap(perm, k, p);
        swapF(colNorm2, k, p);
        swapF(refNorm2, k, p);
      }
    }
    // Householder vector for column k, rows k..m-1.
    let sigma = 0;
    for (let i = k + 1; i < m; i++) sigma += qr[i * n + k]! * qr[i * n + k]!;
    const alpha = qr[k * n + k]!;
    if (sigma === 0) {
      tau[k] = 0;
    } else {
      const norm = Math.sqrt(alpha * alpha + sigma);
      const beta = alpha <= 0 ? norm : -norm;
      const v0 = alpha - beta;
      tau[k] = (beta - alpha) / beta;
      const inv = 1 / v0;
      for (let i = k + 1; i < m; i++) qr[i * n + k] *= inv;
      qr[k * n + k] = beta;
      applyReflectorLeft(qr, m, n, k, tau[k]!, qr, n, k + 1, n);
    }
    if (pivoting) {
      for (let j = k + 1; j < n; j++) {
        if (colNorm2[j] === 0) continue;
        const r = qr[k * n + j]!;
        colNorm2[j] -= r * r;
        // Recompute when cancellation has eaten most of the digits (the LAPACK safeguard).
        if (colNorm2[j]! <= 1e-8 * refNorm2[j]!) {
          let s = 0;
          for (let i = k + 1; i < m; i++) s += qr[i * n + j]! * qr[i * n + j]!;
          colNorm2[j] = s;
          refNorm2[j] = s;
        }
      }
    }
  }
  if (e !== 0)
    for (let i = 0; i < kmax; i++) for (let j = i; j < n; j++) qr[i * n + j] = timesPowerOfTwo(qr[i * n + j]!, e);
  return { qr, tau, perm, m, n };
}

function swap(x: Int32Array, i: number, j: number): void {
  const t = x[i]!;
  x[i] = x[j]!;
  x[j] = t;
}

function swapF(x: Float64Array, i: number, j: number): void {
  const t = x[i]!;
  x[i] = x[j]!;
  x[j] = t;
}

/**
 * Applies Hₖ = I − tau·v·vᵀ (v stored in column k of `h`, an m×hn matrix, rows k..m−1 with implicit 1 at row k)
 * from the left to columns c0..c1−1 of the m×cn matrix `c`.
 */
function applyReflectorLeft(
  h: Float64Array,
  m: number,
  hn: number,
  k: number,
  tau: number,
  c: Float64Array,
  cn: number,
  c0: number,
  c1: number,
): void {
  if (tau === 0 || c1 <= c0) return;
  const w = new Float64Array(c1 - c0);
  for (let j = c0; j < c1; j++) w[j - c0] = c[k * cn + j]!;
  for (let i = k + 1; i < m; i++) {
    const vi = h[i * hn + k]!;
    if (vi === 0) continue;
    const row = i * cn;
    for (let j = c0; j < c1; j++) w[j - c0] += vi * c[row + j]!;
  }
  for (let j = c0; j < c1; j++) c[k * cn + j] -= tau * w[j - c0]!;
  for (let i = k + 1; i < m; i++) {
    const s = tau * h[i * hn + k]!;
    if (s === 0) continue;
    const row = i * cn;
    for (let j = c0; j < c1; j++) c[row + j] -= s * w[j - c0]!;
  }
}

/**
 * Applies Qᵀ (from {@link qrFactor}) to the m×k matrix (or m-vector) `b`, returning a new m×k array.
 *
 * @example
 * ```ts
 * import { linalg } from "diffopt";
 * linalg.qrApplyQt(linalg.qrFactor(new Float64Array([3, 4]), 2, 1), new Float64Array([3, 4])); // [-5, 0]
 * ```
 */
export function qrApplyQt(f: QrFactors, b: Float64Array): Float64Array {
  const { m, n } = f;
  const k = m === 0 ? 0 : b.length / m;
  const out = b.slice(0, m * k);
  for (let j = 0; j < Math.min(m, n); j++) applyReflectorLeft(f.qr, m, n, j, f.tau[j]!, out, k, 0, k);
  return out;
}

/**
 * The reduced factors of {@link qrFactor}: Q (m×k, orthonormal columns) and R (k×n, upper triangular) with
 * k = min(m, n), both row-major, such that A·P = Q·R.
 *
 * @example
 * ```ts
 * import { linalg } from "diffopt";
 * linalg.qrExplicit(linalg.qrFactor(new Float64Array([1, 1]), 2, 1)).r; // Float64Array [-1.4142135623730951]
 * ```
 */
export function qrExplicit(f: QrFactors): { q: Float64Array; r: Float64Array } {
  const { m, n, qr, tau } = f;
  const k = Math.min(m, n);
  const r = new Float64Array(k * n);
  for (let i = 0; i < k; i++) for (let j = i; j < n; j++) r[i * n + j] = qr[i * n + j]!;
  // Q = H₀ ⋯ H_{k−1} applied to the first k columns of the identity, from the last reflector backwards.
  const q = new Float64Array(m * k);
  for (let i = 0; i < k; i++) q[i * k + i] = 1;
  for (let j = k - 1; j >= 0; j--) applyReflectorLeft(qr, m, n, j, tau[j]!, q, k, j, k);
  return { q, r };
}

/**
 * The minimum-norm least-squares solution of A·x ≈ b for an m×n `a` and `b` of length m (or m×k): the x of
 * smallest norm among the minimisers of ‖A·x − b‖.
 *
 * Method (a complete orthogonal decomposition, no SVD): a column-pivoted QR A·P = Q·R gives the numerical rank r
 * as the number of |Rᵢᵢ| > rcond·|R₀₀| (default rcond = max(m, n)·eps). With T the first r rows of R (r×n),
 * every minimiser solves T·y = (Qᵀb)[0..r) for y = Pᵀx; the minimum-norm one is y = Z·S⁻ᵀ·(Qᵀb)[0..r), from the
 * QR factorisation Tᵀ = Z·S (n×r, so S is r×r and invertible). For full column rank this is plain QR least
 * squares. `cols` is the number k of right-hand sides, b.length / m by default; with no equations (m = 0) it
 * cannot be read from b (1 by default: a vector), and every x is a minimiser: the result is 0.
 * @internal The kernel of `linalg.lstsq`, `linalg.pinv` and `numericalRank`.
 */
export function lstsqKernel(
  a: Float64Array,
  m: number,
  n: number,
  b: Float64Array,
  rcond?: number,
  cols: number = m === 0 ? 1 : b.length / m,
): Float64Array {
  const k = cols;
  const x = new Float64Array(n * k);
  const f = qrFactor(a, m, n, true);
  const rank = qrRank(f, rcond ?? Math.max(m, n) * EPS);
  if (rank === 0) return x;
  const c = qrApplyQt(f, b).subarray(0, rank * k);
  // T = first `rank` rows of R (upper trapezoidal); factor Tᵀ (n×rank).
  const tt = new Float64Array(n * rank);
  for (let i = 0; i < rank; i++) for (let j = i; j < n; j++) tt[j * rank + i] = f.qr[i * n + j]!;
  let y: Float64Array;
  if (rank === n) {
    y = triangularSolveKernel(upperOf(f.qr, n, rank), rank, c, { lower: false });
  } else {
    const g = qrFactor(tt, n, rank);
    // Tᵀ = Z·S  ⇒  T = Sᵀ·Zᵀ; solve Sᵀ·u = c, then y = Z·[u; 0].
    const s = upperOf(g.qr, rank, rank);
    const u = triangularSolveKernel(s, rank, c, { lower: false, transpose: true });
    const padded = new Float64Array(n * k);
    padded.set(u);
    y = applyQ(g, padded);
  }
  for (let i = 0; i < n; i++) x.set(y.subarray(i * k, i * k + k), f.perm[i]! * k);
  return x;
}

/**
 * The numerical rank of the m×n matrix `a` as `linalg.lstsq` sees it: the number of diagonal entries of the
 * column-pivoted R with |Rᵢᵢ| > rcond·|R₀₀| (default rcond = max(m, n)·eps).
 *
 * @example
 * ```ts
 * import { linalg } from "diffopt";
 * linalg.numericalRank(new Float64Array([1, 2, 2, 4]), 2, 2); // 1
 * ```
 */
export function numericalRank(a: Float64Array, m: number, n: number, rcond?: number): number {
  return qrRank(qrFactor(a, m, n, true), rcond ?? Math.max(m, n) * EPS);
}

/** Numerical rank of a column-pivoted QR: the number of |Rᵢᵢ| > rcond·|R₀₀|. */
function qrRank(f: QrFactors, rcond: number): number {
  const kmax = Math.min(f.m, f.n);
  if (kmax === 0) return 0;
  const r00 = Math.abs(f.qr[0]!);
  if (r00 === 0) return 0;
  let rank = 0;
  while (rank < kmax && Math.abs(f.qr[rank * f.n + rank]!) > rcond * r00) rank++;
  return rank;
}

/** The leading r×r upper triangle of an m×n packed QR (row stride n), as a dense r×r array. */
function upperOf(qr: Float64Array, n: number, r: number): Float64Array {
  const u = new Float64Array(r * r);
  for (let i = 0; i < r; i++) for (let j = i; j < r; j++) u[i * r + j] = qr[i * n + j]!;
  return u;
}

/** Applies Q (from {@link qrFactor}) to the m×k matrix `b`. */
function applyQ(f: QrFactors, b: Float64Array): Float64Array {
  const { m, n } = f;
  const k = m === 0 ? 0 : b.length / m;
  const out = b.slice(0, m * k);
  for (let j = Math.min(m, n) - 1; j >= 0; j--) applyReflectorLeft(f.qr, m, n, j, f.tau[j]!, out, k, 0, k);
  return out;
}

/**
 * Symmetric eigendecomposition A = V·diag(w)·Vᵀ of the n×n matrix `a` (its lower triangle is mirrored, so a
 * slightly asymmetric input is treated as its lower-triangle symmetrisation). Eigenvalues ascend; eigenvector j
 * is column j of the row-major `v`.
 *
 * Method: Householder reduction to a symmetric tridiagonal T = QᵀAQ (about 4n³/3 flops, plus 4n³/3 to form Q),
 * then implicit symmetric QR steps with Wilkinson shifts on T, chasing the bulge with Givens rotations that are
 * accumulated into Q (about 6n³ flops in all). Off-diagonal entries below eps·(|dᵢ| + |dᵢ₊₁|) deflate. Both stages
 * are orthogonal, so the eigenvalues carry errors near eps·‖A‖ and V is orthonormal to working precision.
 * @internal The kernel of `linalg.eigh` and of the PSD projection.
 */
export function eighKernel(a: Float64Array, n: number): { w: Float64Array; v: Float64Array } {
  // The reflectors and rotations square the entries: beyond 2^±500 work on A·2^−e, whose eigenvectors are A's.
  const scale = rangeExponent(a.subarray(0, n * n));
  const lower = scale === 0 ? a : scaledArray(a.subarray(0, n * n), -scale);
  const s = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      s[i * n + j] = lower[i * n + j]!;
      s[j * n + i] = lower[i * n + j]!;
    }
  }
  const d = new Float64Array(n);
  const e = new Float64Array(Math.max(n - 1, 0));
  // Rows of zt are the columns of Q (then of V), so that rotations touch contiguous memory.
  const zt = tridiagonalize(s, n, d, e);
  tridiagonalQr(d, e, zt, n);
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => d[i]! - d[j]!);
  const w = new Float64Array(n);
  const v = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    const src = order[j]!;
    w[j] = scale === 0 ? d[src]! : timesPowerOfTwo(d[src]!, scale);
    for (let i = 0; i < n; i++) v[i * n + j] = zt[src * n + i]!;
  }
  return { w, v };
}

/**
 * Householder tridiagonalisation of the full symmetric n×n `s` (overwritten): fills the diagonal `d` and
 * off-diagonal `e` of T = QᵀAQ and returns Qᵀ (row-major).
 */
function tridiagonalize(s: Float64Array, n: number, d: Float64Array, e: Float64Array): Float64Array {
  const tau = new Float64Array(n);
  const p = new Float64Array(n);
  for (let k = 0; k + 2 < n; k++) {
    // Reflector for x = s[k+1.., k]: H·x = beta·e₁ with H = I − tau·v·vᵀ, v = [1, x[1..]/(x₀ − beta)].
    const alpha = s[(k + 1) * n + k]!;
    let sigma = 0;
    for (let i = k + 2; i < n; i++) sigma += s[i * n + k]! * s[i * n + k]!;
    if (sigma === 0) {
      e[k] = alpha;
      continue;
    }
    const norm = Math.sqrt(alpha * alpha + sigma);
    const beta = alpha <= 0 ? norm : -norm;
    const t = (beta - alpha) / beta;
    const scale = 1 / (alpha - beta);
    s[(k + 1) * n + k] = 1;
    for (let i = k + 2; i < n; i++) s[i * n + k] *= scale;
    tau[k] = t;
    e[k] = beta;
    // Trailing block B = s[k+1.., k+1..]: B ← H·B·H = B − v·wᵀ − w·vᵀ, w = p − (tau/2)(pᵀv)·v, p = tau·B·v.
    let pv = 0;
    for (let i = k + 1; i < n; i++) {
      let acc = 0;
      const row = i * n;
      for (let j = k + 1; j < n; j++) acc += s[row + j]! * s[j * n + k]!;
      p[i] = t * acc;
      pv += p[i]! * s[i * n + k]!;
    }
    const half = 0.5 * t * pv;
    for (let i = k + 1; i < n; i++) p[i] -= half * s[i * n + k]!;
    for (let i = k + 1; i < n; i++) {
      const vi = s[i * n + k]!;
      const wi = p[i]!;
      const row = i * n;
      for (let j = k + 1; j < n; j++) s[row + j] -= vi * p[j]! + wi * s[j * n + k]!;
    }
  }
  for (let k = 0; k < n; k++) d[k] = s[k * n + k]!;
  if (n >= 2) e[n - 2] = s[(n - 1) * n + n - 2]!;
  // Q = H₀·H₁⋯H_{n−3}, formed by applying the reflectors to I from the last; H_k touches rows/columns k+1...
  const q = new Float64Array(n * n);
  for (let i = 0; i < n; i++) q[i * n + i] = 1;
  const w = new Float64Array(n);
  for (let k = n - 3; k >= 0; k--) {
    const t = tau[k]!;
    if (t === 0) continue;
    w.fill(0, k + 1, n);
    for (let i = k + 1; i < n; i++) {
      const vi = s[i * n + k]!;
      const row = i * n;
      for (let j = k + 1; j < n; j++) w[j] += vi * q[row + j]!;
    }
    for (let i = k + 1; i < n; i++) {
      const f = t * s[i * n + k]!;
      const row = i * n;
      for (let j = k + 1; j < n; j++) q[row + j] -= f * w[j]!;
    }
  }
  // Return Qᵀ.
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const x = q[i * n + j]!;
      q[i * n + j] = q[j * n + i]!;
      q[j * n + i] = x;
    }
  }
  return q;
}

/**
 * Diagonalises the symmetric tridiagonal (d, e) in place by implicit QR steps with Wilkinson shifts; each Givens
 * rotation G in the (k, k+1) plane is applied to rows k, k+1 of `zt` (so zt ← Gᵀ·zt, i.e. Z ← Z·G).
 */
function tridiagonalQr(d: Float64Array, e: Float64Array, zt: Float64Array, n: number): void {
  let h = n - 1;
  let iterations = 0;
  while (h > 0) {
    for (let i = 0; i < h; i++) {
      if (Math.abs(e[i]!) <= EPS * (Math.abs(d[i]!) + Math.abs(d[i + 1]!))) e[i] = 0;
    }
    if (e[h - 1] === 0) {
      h--;
      continue;
    }
    let l = h - 1;
    while (l > 0 && e[l - 1] !== 0) l--;
    if (++iterations > 50 * n) {
      throw new ValueError(
        `eighKernel: the tridiagonal QR iteration did not converge in ${50 * n} steps (is the matrix finite?)`,
      );
    }
    // Wilkinson shift: the eigenvalue of the trailing 2×2 block closer to d[h].
    const delta = 0.5 * (d[h - 1]! - d[h]!);
    const b = e[h - 1]!;
    const mu = d[h]! - (b * b) / (delta + (delta >= 0 ? 1 : -1) * Math.hypot(delta, b));
    let x = d[l]! - mu;
    let z = e[l]!;
    for (let k = l; k < h; k++) {
      const r = Math.hypot(x, z);
      const c = x / r;
      const sn = -z / r;
      if (k > l) e[k - 1] = r;
      const dk = d[k]!;
      const dk1 = d[k + 1]!;
      const ek = e[k]!;
      d[k] = c * c * dk - 2 * c * sn * ek + sn * sn * dk1;
      d[k + 1] = sn * sn * dk + 2 * c * sn * ek + c * c * dk1;
      e[k] = c * sn * (dk - dk1) + (c * c - sn * sn) * ek;
      if (k + 1 < h) {
        z = -sn * e[k + 1]!;
        e[k + 1] = c * e[k + 1]!;
      }
      x = e[k]!;
      const rk = k * n;
      const rk1 = rk + n;
      for (let i = 0; i < n; i++) {
        const zk = zt[rk + i]!;
        const zk1 = zt[rk1 + i]!;
        zt[rk + i] = c * zk - sn * zk1;
        zt[rk1 + i] = sn * zk + c * zk1;
      }
    }
  }
}

/**
 * @internal y = A·x, or Aᵀ·x with `transpose`, for A row-major m×n, on concrete values: the matrix–vector kernels
 * of `gemmStrided` (WebAssembly SIMD when available).
 */
export function gemv(a: Float64Array, m: number, n: number, x: Float64Array, transpose: boolean): Float64Array {
  if (!transpose) {
    const y = new Float64Array(m);
    gemmStrided(m, n, 1, 1, a, 0, n, 1, x, 0, 1, 1, y, 0, 1);
    return y;
  }
  const y = new Float64Array(n);
  gemmStrided(n, m, 1, 1, a, 0, 1, n, x, 0, 1, 1, y, 0, 1);
  return y;
}
