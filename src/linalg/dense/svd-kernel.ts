/**
 * The thin singular value decomposition of a row-major float64 matrix by one-sided Jacobi rotations.
 * @module
 */
import { ValueError } from "../../core/errors.js";
import { gemmStrided } from "../../core/ops/matmul.js";
import { magnitudeExponent, qrExplicit, qrFactor, scaledArray, timesPowerOfTwo, transposeArray } from "./kernels.js";

/** Sweeps allowed before giving up; one-sided Jacobi converges quadratically, typically in 6–12 sweeps. */
const MAX_SWEEPS = 100;

/** Thin SVD factors of an m×n matrix, k = min(m, n): A = U·diag(s)·Vᵀ. */
export interface SvdFactors {
  /** m×k, orthonormal columns, row-major. */
  u: Float64Array;
  /** k singular values, descending, ≥ 0. */
  s: Float64Array;
  /** n×k, orthonormal columns, row-major. */
  v: Float64Array;
}

/**
 * Thin SVD A = U·diag(s)·Vᵀ of a row-major m×n array, singular values descending.
 *
 * One-sided (Hestenes) Jacobi with QR preconditioning (Drmač and Veselić): a Householder QR with column pivoting
 * A·P = Q·R (of Aᵀ when m < n) leaves an n×n triangle whose transpose is close to orthogonal columns, so a few
 * sweeps of rotations of pairs of columns of Rᵀ make them orthogonal to working precision; the column norms are
 * then the singular values. This computes small singular values to high relative accuracy. Left singular vectors
 * of zero singular values are completed to an orthonormal set.
 * @internal The kernel of `linalg.svd`, `linalg.svdvals` and the spectral norms.
 */
export function svdKernel(a: Float64Array, m: number, n: number): SvdFactors {
  if (a.length !== m * n) throw new ValueError(`svdKernel: a has ${a.length} entries, expected ${m}·${n}`);
  if (m < n) {
    const t = svdKernel(transposeArray(a, m, n), n, m);
    return { u: t.v, s: t.s, v: t.u };
  }
  // Squared column norms must neither overflow nor underflow: work on A·2^−e with |entries| ≤ 1 (exact scaling;
  // 2^e itself overflows for entries near the largest float, so the scalings go through timesPowerOfTwo).
  const e = magnitudeExponent(a);
  const scaled = e === 0 ? a : scaledArray(a, -e);
  // A·P = Q·R, so A = Q·R·Pᵀ; with Rᵀ = X·diag(s)·Yᵀ (Jacobi), A = (Q·Y)·diag(s)·(P·X)ᵀ.
  const factors = qrFactor(scaled, m, n, true);
  const { q, r } = qrExplicit(factors);
  // The columns of Rᵀ are the rows of R: already contiguous, as the sweeps want them.
  const y = new Float64Array(n * n);
  for (let j = 0; j < n; j++) y[j * n + j] = 1;
  jacobiSweeps(r, y, n, n);

  const norms = new Float64Array(n);
  for (let j = 0; j < n; j++) norms[j] = Math.sqrt(dotRows(r, j * n, r, j * n, n));
  const order = Array.from({ length: n }, (_, j) => j).sort((i, j) => norms[j]! - norms[i]!);
  const s = new Float64Array(n);
  const xRows = new Float64Array(n * n); // left singular vectors of Rᵀ, as rows
  const yRows = new Float64Array(n * n); // right singular vectors of Rᵀ, as rows
  order.forEach((j, rank) => {
    s[rank] = timesPowerOfTwo(norms[j]!, e);
    for (let i = 0; i < n; i++) xRows[rank * n + i] = norms[j]! > 0 ? r[j * n + i]! / norms[j]! : 0;
    for (let i = 0; i < n; i++) yRows[rank * n + i] = y[j * n + i]!;
  });
  orthonormalizeRows(xRows, n, n);

  // U = Q·Y: U[:, k] = Q·(row k of yRows); V = P·X: V[perm[i], k] = xRows[k, i].
  const u = new Float64Array(m * n);
  gemmStrided(m, n, n, 1, q, 0, n, 1, yRows, 0, 1, n, u, 0, n);
  const v = new Float64Array(n * n);
  for (let k = 0; k < n; k++) for (let i = 0; i < n; i++) v[factors.perm[i]! * n + k] = xRows[k * n + i]!;
  return { u, s, v };
}

/** Rotates pairs of columns (rows of `w`, length r) until all are mutually orthogonal; `q` accumulates. */
function jacobiSweeps(w: Float64Array, q: Float64Array, r: number, c: number): void {
  const sq = new Float64Array(c); // squared column norms, updated by each rotation and refreshed every sweep
  // Columns count as orthogonal when |cos ∠| ≤ √r·eps (LAPACK's gesvj criterion): below, rounding dominates.
  const tol = Math.sqrt(r) * Number.EPSILON;
  for (let sweep = 0; sweep < MAX_SWEEPS; sweep++) {
    let rotated = false;
    for (let j = 0; j < c; j++) sq[j] = dotRows(w, j * r, w, j * r, r);
    for (let p = 0; p < c - 1; p++) {
      for (let k = p + 1; k < c; k++) {
        const alpha = sq[p]!;
        const beta = sq[k]!;
        const gamma = dotRows(w, p * r, w, k * r, r);
        if (gamma === 0 || Math.abs(gamma) <= tol * Math.sqrt(alpha * beta)) continue;
        rotated = true;
        // The rotation that zeroes the inner product: t = tan θ, the smaller root of t² + 2ζt − 1 = 0.
        const zeta = (beta - alpha) / (2 * gamma);
        const t = (zeta >= 0 ? 1 : -1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const cs = 1 / Math.sqrt(1 + t * t);
        const sn = cs * t;
        rotateRows(w, p * r, k * r, r, cs, sn);
        sq[p] = alpha - t * gamma;
        sq[k] = beta + t * gamma;
        rotateRows(q, p * c, k * c, c, cs, sn);
      }
    }
    if (!rotated) return;
  }
  throw new ValueError(`svdKernel: one-sided Jacobi did not converge in ${MAX_SWEEPS} sweeps`);
}

function dotRows(x: Float64Array, xo: number, y: Float64Array, yo: number, len: number): number {
  let acc = 0;
  for (let i = 0; i < len; i++) acc += x[xo + i]! * y[yo + i]!;
  return acc;
}

function rotateRows(x: Float64Array, po: number, ko: number, len: number, cs: number, sn: number): void {
  for (let i = 0; i < len; i++) {
    const xp = x[po + i]!;
    const xk = x[ko + i]!;
    x[po + i] = cs * xp - sn * xk;
    x[ko + i] = sn * xp + cs * xk;
  }
}

/**
 * Makes the `count` rows (length `len`) orthonormal in order: twice-repeated Gram–Schmidt, which leaves rows that
 * already are untouched to rounding, and replaces a row that vanishes (a zero singular value) by the first unit
 * vector independent of the rows before it.
 */
function orthonormalizeRows(x: Float64Array, count: number, len: number): void {
  const project = (row: number) => {
    for (let pass = 0; pass < 2; pass++) {
      for (let i = 0; i < row; i++) {
        const d = dotRows(x, i * len, x, row * len, len);
        for (let t = 0; t < len; t++) x[row * len + t] -= d * x[i * len + t]!;
      }
    }
    return Math.sqrt(dotRows(x, row * len, x, row * len, len));
  };
  for (let row = 0; row < count; row++) {
    let nrm = project(row);
    for (let unit = 0; nrm < 0.5 && unit < len; unit++) {
      x.fill(0, row * len, (row + 1) * len);
      x[row * len + unit] = 1;
      nrm = project(row);
    }
    for (let t = 0; t < len; t++) x[row * len + t] /= nrm;
  }
}
