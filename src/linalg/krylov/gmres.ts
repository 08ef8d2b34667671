/**
 * Restarted GMRES for general square systems.
 * @module
 */
import type { Tensor } from "../../core/tensor.js";
import { ValueError } from "../../core/errors.js";
import type { Tree } from "../../core/tree.js";
import type { AnyLinearOperator } from "../operator.js";
import {
  dot,
  type FlatOperator,
  type GmresOptions,
  type Kernel,
  type KernelContext,
  type KrylovResult,
  nrm2,
  residual,
  runKrylov,
} from "./common.js";

/** @internal The default restart length for a system of n unknowns. */
export function defaultRestart(n: number): number {
  return Math.max(1, Math.min(n, 50));
}

/**
 * @internal GMRES(restart) with right preconditioning (so the minimised residual is the true one): Arnoldi with
 * modified Gram–Schmidt (and a second pass when cancellation is detected), Givens rotations on the Hessenberg
 * matrix, and an update of x at the end of each cycle.
 */
export function gmresKernel(restart: number): Kernel {
  return (A: FlatOperator, b: Float64Array, x: Float64Array, ctx: KernelContext) => {
    const n = x.length;
    const m = Math.min(restart, ctx.maxIter);
    const M = ctx.precond;
    const V: Float64Array[] = [];
    const H = new Float64Array((m + 1) * m); // H[i, j] at i * m + j
    const cs = new Float64Array(m);
    const sn = new Float64Array(m);
    const g = new Float64Array(m + 1);
    let total = 0;
    while (total < ctx.maxIter) {
      const r = residual(A, b, x);
      const beta = nrm2(r);
      if (beta <= ctx.tol) return { iterations: total };
      for (let i = 0; i < n; i++) r[i]! /= beta;
      V[0] = r;
      g.fill(0);
      g[0] = beta;
      H.fill(0);
      let k = 0;
      let singular = false;
      for (let j = 0; j < m && total < ctx.maxIter; j++) {
        const vj = V[j]!;
        const w = A.apply(M ? M(vj) : vj).slice();
        const before = nrm2(w);
        for (let pass = 0; pass < 2; pass++) {
          for (let i = 0; i <= j; i++) {
            const vi = V[i]!;
            const h = dot(w, vi);
            H[i * m + j]! += h;
            for (let t = 0; t < n; t++) w[t]! -= h * vi[t]!;
          }
          if (nrm2(w) > 0.7 * before) break;
        }
        const hn = nrm2(w);
        H[(j + 1) * m + j] = hn;
        for (let i = 0; i < j; i++) {
          const a = H[i * m + j]!;
          const c = H[(i + 1) * m + j]!;
          H[i * m + j] = cs[i]! * a + sn[i]! * c;
          H[(i + 1) * m + j] = -sn[i]! * a + cs[i]! * c;
        }
        const a = H[j * m + j]!;
        const d = Math.hypot(a, hn);
        total++;
        k = j + 1;
        if (d === 0) {
          singular = true;
          k = j;
          break;
        }
        cs[j] = a / d;
        sn[j] = hn / d;
        H[j * m + j] = d;
        H[(j + 1) * m + j] = 0;
        g[j + 1] = -sn[j]! * g[j]!;
        g[j] = cs[j]! * g[j]!;
        if (Math.abs(g[j + 1]!) <= ctx.tol || hn === 0) break;
        for (let t = 0; t < n; t++) w[t]! /= hn;
        V[j + 1] = w;
      }
      // y = H⁻¹ g on the k×k upper triangle, then x += M (V y)
      const y = new Float64Array(k);
      for (let i = k - 1; i >= 0; i--) {
        let s = g[i]!;
        for (let l = i + 1; l < k; l++) s -= H[i * m + l]! * y[l]!;
        y[i] = s / H[i * m + i]!;
      }
      const u = new Float64Array(n);
      for (let i = 0; i < k; i++) {
        const vi = V[i]!;
        const yi = y[i]!;
        for (let t = 0; t < n; t++) u[t]! += yi * vi[t]!;
      }
      const du = M ? M(u) : u;
      for (let t = 0; t < n; t++) x[t]! += du[t]!;
      if (singular)
        return { iterations: total, fatal: "the operator is singular on the Krylov subspace (a zero Arnoldi pivot)" };
      if (Math.abs(g[k]!) <= ctx.tol) return { iterations: total };
    }
    return { iterations: total };
  };
}

/**
 * Solves A x = b by restarted GMRES (right-preconditioned), for a general square operator. Runs on plain values;
 * use `linearSolve(op, b, { solver: "gmres" })` for a differentiable solve. Converged when
 * ‖b − A x‖ ≤ max(rtol·‖b‖, atol). Memory: `restart` + 1 vectors.
 *
 * @example
 * ```ts
 * import { linalg, tensor } from "diffopt";
 * const A = linalg.LinearOperator.fromMatrix(tensor([[2, 1], [0, 3]]));
 * linalg.gmres(A, tensor([3, 3])).value.toArray(); // ≈ [1, 1]
 * ```
 */
export function gmres<T extends Tree = Tensor>(op: AnyLinearOperator, b: T, opts: GmresOptions = {}): KrylovResult<T> {
  return runKrylov(
    "gmres",
    (n) => {
      const restart = opts.restart ?? defaultRestart(n);
      if (!Number.isInteger(restart) || restart < 1)
        throw new ValueError(`gmres: restart must be a positive integer, got ${restart}`);
      return gmresKernel(restart);
    },
    op,
    b,
    opts,
  );
}
