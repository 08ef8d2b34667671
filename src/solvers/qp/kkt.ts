/**
 * The dense KKT matrix [[Q + GᵀDG, Aᵀ], [A, 0]] shared by the interior-point iterations, the direct
 * equality-constrained solve and OSQP's polishing, with a regularisation fallback for singular systems.
 *
 * @internal
 * @module
 */
import { Tensor } from "../../core/tensor.js";
import { matmulTN } from "../../core/ops/matmul.js";
import { luFactor, luSolve, type LuFactors } from "../../linalg/dense/kernels.js";
import { dotPlain, normInf, type PlainQP } from "./problem.js";

/** @internal y ← y + a·x. */
export function axpy(a: number, x: Float64Array, y: Float64Array): void {
  for (let i = 0; i < y.length; i++) y[i] += a * x[i]!;
}

/**
 * @internal The dense symmetric (n + p) matrix [[Q + GᵀDG, Aᵀ], [A, −δI]] with D = diag(d), factorised; δ = 0 unless the
 * matrix is singular, then a regularisation relative to its scale (rank-deficient A, or Q singular on the
 * null space of the constraints).
 */
export function factorKkt(p: PlainQP, d: Float64Array | null): ReturnType<typeof luFactor> & { regularized?: boolean } {
  const { n } = p;
  const size = n + p.p;
  const K = new Float64Array(size * size);
  const Q = p.Q.dense();
  for (let i = 0; i < n; i++) K.set(Q.subarray(i * n, i * n + n), i * size);
  if (p.G && d) {
    const G = p.G.dense();
    const scaled = new Float64Array(p.m * n);
    for (let k = 0; k < p.m; k++) {
      const sk = Math.sqrt(d[k]!);
      for (let j = 0; j < n; j++) scaled[k * n + j] = sk * G[k * n + j]!;
    }
    const Gs = new Tensor(scaled, [p.m, n]);
    const GtDG = matmulTN(Gs, Gs).raw;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) K[i * size + j] += GtDG[i * n + j]!;
  }
  if (p.A) {
    const A = p.A.dense();
    for (let i = 0; i < p.p; i++) {
      for (let j = 0; j < n; j++) {
        K[(n + i) * size + j] = A[i * n + j]!;
        K[j * size + n + i] = A[i * n + j]!;
      }
    }
  }
  let f = luFactor(K, size);
  if (!f.singular) return f;
  const scale = Math.max(1, normInf(K));
  for (const delta of [1e-10, 1e-8, 1e-6]) {
    const R = K.slice();
    for (let i = 0; i < size; i++) R[i * size + i] += i < n ? delta * scale : -delta * scale;
    f = luFactor(R, size);
    if (!f.singular) return { ...f, regularized: true };
  }
  return f;
}

/** @internal The KKT residuals r_d = Qx + c + Aᵀν + Gᵀλ, r_e = Ax − b, r_i = Gx + s − h. */
export function kktResiduals(p: PlainQP, x: Float64Array, nu: Float64Array, lam: Float64Array, s: Float64Array) {
  const rd = p.Q.mv(x);
  for (let i = 0; i < p.n; i++) rd[i] += p.c[i]!;
  if (p.A) axpy(1, p.A.rmv(nu), rd);
  if (p.G) axpy(1, p.G.rmv(lam), rd);
  const re = p.A ? p.A.mv(x).map((v, i) => v - p.b[i]!) : new Float64Array(0);
  const ri = p.G ? p.G.mv(x).map((v, i) => v + s[i]! - p.h[i]!) : new Float64Array(0);
  return { rd, re, ri };
}

/**
 * @internal Polishing: the exact solution of the equality-constrained QP on a guessed active set,
 * min ½xᵀQx + cᵀx s.t. C𝒜x = t𝒜, from the dense system [[Q, C𝒜ᵀ], [C𝒜, 0]] (regularised if singular, then one
 * step of iterative refinement on the unregularised system). `rows` are row-major k×n, `targets` their
 * right-hand sides. Returns x, the multipliers of the rows and the factors (null when the system was regularised), or
 * null when the system cannot be solved.
 */
export function polishKkt(
  Q: Float64Array,
  c: Float64Array,
  rows: Float64Array,
  targets: Float64Array,
  n: number,
): { x: Float64Array; y: Float64Array; factors: LuFactors | null } | null {
  const k = targets.length;
  const size = n + k;
  const K = new Float64Array(size * size);
  for (let i = 0; i < n; i++) K.set(Q.subarray(i * n, i * n + n), i * size);
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < n; j++) {
      K[(n + i) * size + j] = rows[i * n + j]!;
      K[j * size + n + i] = rows[i * n + j]!;
    }
  }
  const rhs = new Float64Array(size);
  for (let i = 0; i < n; i++) rhs[i] = -c[i]!;
  rhs.set(targets, n);
  let f = luFactor(K, size);
  const regularized = f.singular;
  if (f.singular) {
    const delta = 1e-10 * Math.max(1, normInf(K));
    const R = K.slice();
    for (let i = 0; i < size; i++) R[i * size + i] += i < n ? delta : -delta;
    f = luFactor(R, size);
    if (f.singular) return null;
  }
  const z = luSolve(f, size, rhs);
  // one refinement step against the unregularised system
  const res = rhs.slice();
  for (let i = 0; i < size; i++) {
    let s = 0;
    for (let j = 0; j < size; j++) s += K[i * size + j]! * z[j]!;
    res[i] -= s;
  }
  axpy(1, luSolve(f, size, res), z);
  if (!z.every(Number.isFinite)) return null;
  // the factors of a regularised (singular) system are not handed to the backward pass: its derivative must fail
  return { x: z.slice(0, n), y: z.slice(n), factors: regularized ? null : f };
}

const equalityFactors = new WeakMap<PlainQP, ReturnType<typeof factorKkt>>();

/** @internal The factorised [[Qₛ, Aᵀ], [A, 0]] of a problem (factorised once per plain view). */
export function equalityKkt(p: PlainQP): ReturnType<typeof factorKkt> {
  let f = equalityFactors.get(p);
  if (f === undefined) equalityFactors.set(p, (f = factorKkt(p, null)));
  return f;
}

/**
 * @internal The rows of `G` (indices `candidates`, in order of preference) that are linearly independent of the
 * rows of `A` and of those kept before them (modified Gram–Schmidt, twice, with relative threshold 1e-9).
 */
export function independentRows(A: Float64Array, G: Float64Array, candidates: readonly number[], n: number): number[] {
  const basis: Float64Array[] = [];
  const admit = (row: Float64Array): boolean => {
    const r = row.slice();
    const norm0 = Math.sqrt(dotPlain(r, r));
    if (norm0 === 0) return false;
    for (let pass = 0; pass < 2; pass++) for (const q of basis) axpy(-dotPlain(q, r), q, r);
    const norm = Math.sqrt(dotPlain(r, r));
    if (norm <= 1e-9 * norm0) return false;
    basis.push(r.map((v) => v / norm));
    return true;
  };
  for (let i = 0; i < A.length / n; i++) admit(A.subarray(i * n, i * n + n));
  return candidates.filter((i) => admit(G.subarray(i * n, i * n + n)));
}
