/**
 * Least-squares solvers for any (rectangular or singular) operator: CG on the normal equations and LSQR.
 * Started from zero, both converge to the minimum-norm least-squares solution (from x0: the least-squares
 * solution nearest x0).
 * @module
 */
import type { Tensor } from "../../core/tensor.js";
import type { Tree } from "../../core/tree.js";
import type { AnyLinearOperator } from "../operator.js";
import { dot, type Kernel, type KrylovResult, type LeastSquaresOptions, nrm2, residual, runKrylov } from "./common.js";

/** @internal CG on AᵀA x = Aᵀb without forming AᵀA (CGLS), on x in place; stops on ‖Aᵀ(b − Ax)‖. */
export const normalCgKernel: Kernel = (A, b, x, ctx) => {
  const n = x.length;
  const r = residual(A, b, x);
  const s = A.applyT(r).slice();
  let gamma = dot(s, s);
  if (Math.sqrt(gamma) <= ctx.tol) return { iterations: 0 };
  const p = s.slice();
  for (let k = 1; k <= ctx.maxIter; k++) {
    const q = A.apply(p);
    const qq = dot(q, q);
    if (!(qq > 0)) return { iterations: k, fatal: `the search direction is in the null space of A (‖Ap‖ = ${qq})` };
    const alpha = gamma / qq;
    for (let i = 0; i < n; i++) x[i]! += alpha * p[i]!;
    for (let i = 0; i < r.length; i++) r[i]! -= alpha * q[i]!;
    const st = A.applyT(r);
    const gammaNew = dot(st, st);
    if (Math.sqrt(gammaNew) <= ctx.tol) return { iterations: k };
    const beta = gammaNew / gamma;
    gamma = gammaNew;
    for (let i = 0; i < n; i++) p[i] = st[i]! + beta * p[i]!;
  }
  return { iterations: ctx.maxIter };
};

/**
 * @internal LSQR (Paige–Saunders) on x in place: Golub–Kahan bidiagonalisation of A from the residual and a QR
 * of the bidiagonal by rotations; stops on its estimate of ‖Aᵀ(b − Ax)‖.
 */
export const lsqrKernel: Kernel = (A, b, x, ctx) => {
  const n = x.length;
  const u = residual(A, b, x);
  let beta = nrm2(u);
  if (beta === 0) return { iterations: 0 };
  for (let i = 0; i < u.length; i++) u[i]! /= beta;
  const v = A.applyT(u).slice();
  let alpha = nrm2(v);
  if (alpha * beta <= ctx.tol || alpha === 0) return { iterations: 0 };
  for (let i = 0; i < n; i++) v[i]! /= alpha;
  const w = v.slice();
  let phibar = beta;
  let rhobar = alpha;
  for (let k = 1; k <= ctx.maxIter; k++) {
    const av = A.apply(v);
    for (let i = 0; i < u.length; i++) u[i] = av[i]! - alpha * u[i]!;
    beta = nrm2(u);
    if (beta > 0) for (let i = 0; i < u.length; i++) u[i]! /= beta;
    const atu = A.applyT(u);
    for (let i = 0; i < n; i++) v[i] = atu[i]! - beta * v[i]!;
    alpha = nrm2(v);
    if (alpha > 0) for (let i = 0; i < n; i++) v[i]! /= alpha;
    const rho = Math.hypot(rhobar, beta);
    const c = rhobar / rho;
    const sn = beta / rho;
    const theta = sn * alpha;
    rhobar = -c * alpha;
    const phi = c * phibar;
    phibar = sn * phibar;
    const t1 = phi / rho;
    const t2 = theta / rho;
    for (let i = 0; i < n; i++) {
      x[i]! += t1 * w[i]!;
      w[i] = v[i]! - t2 * w[i]!;
    }
    const normalResidual = Math.abs(phibar * alpha * c);
    if (normalResidual <= ctx.tol || alpha === 0 || phibar === 0) return { iterations: k };
  }
  return { iterations: ctx.maxIter };
};

/**
 * Least squares by conjugate gradients on the normal equations AᵀA x = Aᵀb (CGLS, without forming AᵀA); works
 * for any operator (rectangular, singular). It squares the condition number: prefer {@link lsqr}. Converged when
 * ‖Aᵀ(b − A x)‖ ≤ max(rtol·‖Aᵀb‖, atol). Runs on plain values; `linearSolve(op, b, { solver: "normalCg" })` is
 * differentiable.
 *
 * @example
 * ```ts
 * import { linalg, tensor } from "diffopt";
 * // fit y = c to [1, 2, 3]: the mean
 * const A = linalg.LinearOperator.fromMatrix(tensor([[1], [1], [1]]));
 * linalg.normalCg(A, tensor([1, 2, 3])).value.toArray(); // ≈ [2]
 * ```
 */
export function normalCg<T extends Tree = Tensor>(
  op: AnyLinearOperator,
  b: T,
  opts: LeastSquaresOptions = {},
): KrylovResult<T> {
  return runKrylov("normalCg", () => normalCgKernel, op, b, opts, true);
}

/**
 * Least squares by LSQR: min ‖A x − b‖ for any operator (rectangular, singular), numerically better than CG on
 * the normal equations. From zero it converges to the minimum-norm solution. Converged when
 * ‖Aᵀ(b − A x)‖ ≤ max(rtol·‖Aᵀb‖, atol). Runs on plain values; `linearSolve(op, b, { solver: "lsqr" })` is
 * differentiable.
 *
 * @example
 * ```ts
 * import { linalg, tensor } from "diffopt";
 * const A = linalg.LinearOperator.fromMatrix(tensor([[1, 1]]));
 * linalg.lsqr(A, tensor([2])).value.toArray(); // ≈ [1, 1] (the minimum-norm solution)
 * ```
 */
export function lsqr<T extends Tree = Tensor>(
  op: AnyLinearOperator,
  b: T,
  opts: LeastSquaresOptions = {},
): KrylovResult<T> {
  return runKrylov("lsqr", () => lsqrKernel, op, b, opts, true);
}
