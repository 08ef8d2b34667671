/**
 * The thin singular value decomposition of a row-major float64 matrix by one-sided Jacobi rotations.
 * @module
 */
import { ValueError } from "../../core/errors.js";

const EPS = 2.220446049250313e-16;
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
 * One-sided (Hestenes) Jacobi: rotations of pairs of columns of B (A, or Aᵀ when m < n) until every pair is
 * orthogonal to working precision; then s are the column norms, U the normalised columns and V the product of
 * the rotations. It computes small singular values to high relative accuracy. Columns of U for zero singular
 * values are completed to an orthonormal set.
 *
 * @example
 * ```ts
 * import { linalg } from "diffopt";
 * linalg.svdKernel(new Float64Array([3, 0, 0, -2]), 2, 2).s; // Float64Array [3, 2]
 * ```
 */
export function svdKernel(a: Float64Array, m: number, n: number): SvdFactors {
  if (a.length !== m * n) throw new ValueError(`svdKernel: a has ${a.length} entries, expected ${m}·${n}`);
  const wide = m < n;
  const r = wide ? n : m; // rows of B
  const c = wide ? m : n; // columns of B (= k)
  // W holds the columns of B contiguously (W[j·r + i] = B[i, j]), Q those of the accumulated rotation (c×c).
  const w = new Float64Array(r * c);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      if (wide) w[i * r + j] = a[i * n + j]!;
      else w[j * r + i] = a[i * n + j]!;
    }
  }
  const q = new Float64Array(c * c);
  for (let j = 0; j < c; j++) q[j * c + j] = 1;
  jacobiSweeps(w, q, r, c);

  const norms = new Float64Array(c);
  for (let j = 0; j < c; j++) norms[j] = Math.sqrt(dotRows(w, j * r, w, j * r, r));
  const order = Array.from({ length: c }, (_, j) => j).sort((x, y) => norms[y]! - norms[x]!);
  const s = new Float64Array(c);
  const left = new Float64Array(c * r); // left singular vectors as rows
  const right = new Float64Array(c * c); // right singular vectors as rows
  order.forEach((j, rank) => {
    s[rank] = norms[j]!;
    for (let i = 0; i < r; i++) left[rank * r + i] = norms[j]! > 0 ? w[j * r + i]! / norms[j]! : 0;
    for (let i = 0; i < c; i++) right[rank * c + i] = q[j * c + i]!;
  });
  orthonormalizeRows(left, c, r);

  // B = L·diag(s)·Rᵀ; for a wide A, A = Bᵀ swaps the roles of the two sides.
  const [uRows, uLen, vRows, vLen] = wide ? [right, c, left, r] : [left, r, right, c];
  return { u: columnsOf(uRows, c, uLen), s, v: columnsOf(vRows, c, vLen) };
}

/** Rotates pairs of columns (rows of `w`, length r) until all are mutually orthogonal; `q` accumulates. */
function jacobiSweeps(w: Float64Array, q: Float64Array, r: number, c: number): void {
  const sq = new Float64Array(c); // squared column norms, updated by each rotation and refreshed every sweep
  for (let sweep = 0; sweep < MAX_SWEEPS; sweep++) {
    let rotated = false;
    for (let j = 0; j < c; j++) sq[j] = dotRows(w, j * r, w, j * r, r);
    for (let p = 0; p < c - 1; p++) {
      for (let k = p + 1; k < c; k++) {
        const alpha = sq[p]!;
        const beta = sq[k]!;
        const gamma = dotRows(w, p * r, w, k * r, r);
        if (gamma === 0 || Math.abs(gamma) <= EPS * Math.sqrt(alpha * beta)) continue;
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

/** The len×count row-major matrix whose columns are the `count` rows of `rows`. */
function columnsOf(rows: Float64Array, count: number, len: number): Float64Array {
  const out = new Float64Array(len * count);
  for (let j = 0; j < count; j++) for (let i = 0; i < len; i++) out[i * count + j] = rows[j * len + i]!;
  return out;
}
