/**
 * MINRES (Paige–Saunders) for symmetric, possibly indefinite, systems.
 * @module
 */
import type { Tensor } from "../../core/tensor.js";
import type { Tree } from "../../core/tree.js";
import type { AnyLinearOperator } from "../operator.js";
import { dot, type Kernel, type KrylovOptions, type KrylovResult, residual, runKrylov } from "./common.js";

/**
 * @internal MINRES on x in place: the Lanczos process on A (with a symmetric positive definite preconditioner M,
 * in the M⁻¹ inner product) and Givens rotations that keep the least-squares problem of the tridiagonal matrix
 * solved, so x moves along the direction vectors w without storing the basis. The estimate it stops on is the
 * M⁻¹-norm of the residual (the 2-norm without preconditioner).
 */
export const minresKernel: Kernel = (A, b, x, ctx) => {
  const n = x.length;
  const M = ctx.precond;
  let r1: Float64Array = residual(A, b, x);
  let y: Float64Array = M ? M(r1).slice() : r1.slice();
  const beta1sq = dot(r1, y);
  if (!(beta1sq >= 0))
    return { iterations: 0, fatal: `the preconditioner is not positive definite (rᵀMr = ${beta1sq})` };
  const beta1 = Math.sqrt(beta1sq);
  if (beta1 <= ctx.tol) return { iterations: 0 };
  let r2: Float64Array = r1.slice();
  const v = new Float64Array(n);
  let w = new Float64Array(n);
  let w1 = new Float64Array(n);
  let w2 = new Float64Array(n);
  let oldb = 0;
  let beta = beta1;
  let dbar = 0;
  let epsln = 0;
  let phibar = beta1;
  let cs = -1;
  let sn = 0;
  for (let itn = 1; itn <= ctx.maxIter; itn++) {
    const s = 1 / beta;
    for (let i = 0; i < n; i++) v[i] = s * y[i]!;
    const av = A.apply(v);
    const c1 = itn >= 2 ? beta / oldb : 0;
    for (let i = 0; i < n; i++) y[i] = av[i]! - c1 * r1[i]!;
    const alfa = dot(v, y);
    const c2 = alfa / beta;
    for (let i = 0; i < n; i++) y[i]! -= c2 * r2[i]!;
    // rotate the Lanczos vectors: r1 ← r2, r2 ← y, and y ← M r2
    const spare = r1;
    r1 = r2;
    r2 = y;
    y = spare;
    if (M) y.set(M(r2));
    else y.set(r2);
    oldb = beta;
    const betasq = dot(r2, y);
    if (!(betasq >= 0))
      return { iterations: itn, fatal: `the preconditioner is not positive definite (rᵀMr = ${betasq})` };
    beta = Math.sqrt(betasq);
    // apply the previous rotation, then compute and apply the new one
    const oldeps = epsln;
    const delta = cs * dbar + sn * alfa;
    const gbar = sn * dbar - cs * alfa;
    epsln = sn * beta;
    dbar = -cs * beta;
    const gamma = Math.max(Math.hypot(gbar, beta), Number.MIN_VALUE);
    cs = gbar / gamma;
    sn = beta / gamma;
    const phi = cs * phibar;
    phibar = sn * phibar;
    // new direction w = (v − oldeps·w1 − delta·w2) / gamma, with (w1, w2) ← (w2, w)
    const t = w1;
    w1 = w2;
    w2 = w;
    w = t;
    const inv = 1 / gamma;
    for (let i = 0; i < n; i++) {
      const wi = (v[i]! - oldeps * w1[i]! - delta * w2[i]!) * inv;
      w[i] = wi;
      x[i]! += phi * wi;
    }
    if (Math.abs(phibar) <= ctx.tol || beta === 0) return { iterations: itn };
  }
  return { iterations: ctx.maxIter };
};

/**
 * Solves A x = b by MINRES, for a symmetric (possibly indefinite) operator; an optional preconditioner must be
 * symmetric positive definite. Runs on plain values; use `linearSolve(op, b, { solver: "minres" })` for a
 * differentiable solve. Converged when ‖b − A x‖ ≤ max(rtol·‖b‖, atol).
 *
 * @example
 * ```ts
 * import { linalg, tensor } from "diffopt";
 * const A = linalg.LinearOperator.fromMatrix(tensor([[1, 2], [2, -1]]), { symmetric: true });
 * linalg.minres(A, tensor([3, 1])).value.toArray(); // ≈ [1, 1]
 * ```
 */
export function minres<T extends Tree = Tensor>(
  op: AnyLinearOperator,
  b: T,
  opts: KrylovOptions = {},
): KrylovResult<T> {
  return runKrylov("minres", () => minresKernel, op, b, opts);
}
