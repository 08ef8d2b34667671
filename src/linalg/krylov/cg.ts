/**
 * Conjugate gradients for symmetric positive definite systems.
 * @module
 */
import type { Tensor } from "../../core/tensor.js";
import type { Tree } from "../../core/tree.js";
import type { AnyLinearOperator } from "../operator.js";
import { dot, type Kernel, type KrylovOptions, type KrylovResult, nrm2, residual, runKrylov } from "./common.js";

/**
 * @internal Preconditioned CG on x in place. Stops (fatal) when pᵀAp ≤ 0: the operator is not positive definite
 * on the Krylov space, and no restart can fix that.
 */
export const cgKernel: Kernel = (A, b, x, ctx) => {
  const n = x.length;
  const r = residual(A, b, x);
  if (nrm2(r) <= ctx.tol) return { iterations: 0 };
  const M = ctx.precond;
  let z = M ? M(r) : r;
  const p = z.slice();
  let rz = dot(r, z);
  if (M && !(rz > 0)) return { iterations: 0, fatal: `the preconditioner is not positive definite (rᵀMr = ${rz})` };
  for (let k = 1; k <= ctx.maxIter; k++) {
    const ap = A.apply(p);
    const pap = dot(p, ap);
    if (!(pap > 0))
      return { iterations: k, fatal: `the operator is not positive definite (pᵀAp = ${pap} at iteration ${k})` };
    const alpha = rz / pap;
    let rr = 0;
    for (let i = 0; i < n; i++) {
      x[i]! += alpha * p[i]!;
      const ri = r[i]! - alpha * ap[i]!;
      r[i] = ri;
      rr += ri * ri;
    }
    if (Math.sqrt(rr) <= ctx.tol) return { iterations: k };
    z = M ? M(r) : r;
    const rzNew = M ? dot(r, z) : rr;
    if (M && !(rzNew > 0))
      return { iterations: k, fatal: `the preconditioner is not positive definite (rᵀMr = ${rzNew})` };
    const beta = rzNew / rz;
    rz = rzNew;
    for (let i = 0; i < n; i++) p[i] = z[i]! + beta * p[i]!;
  }
  return { iterations: ctx.maxIter };
};

/**
 * Solves A x = b by (preconditioned) conjugate gradients, for a symmetric positive definite operator. Runs on
 * plain values; use `linearSolve(op, b, { solver: "cg" })` for a differentiable solve. Converged when
 * ‖b − A x‖ ≤ max(rtol·‖b‖, atol) (the true residual is recomputed to certify it).
 *
 * @example
 * ```ts
 * import { linalg, tensor } from "diffopt";
 * const A = linalg.LinearOperator.fromMatrix(tensor([[4, 1], [1, 3]]), { symmetric: true, positiveDefinite: true });
 * const { value, info } = linalg.cg(A, tensor([1, 2]));
 * value.toArray(); // ≈ [0.0909, 0.6364]
 * info.converged;  // true
 * ```
 */
export function cg<T extends Tree = Tensor>(op: AnyLinearOperator, b: T, opts: KrylovOptions = {}): KrylovResult<T> {
  return runKrylov("cg", () => cgKernel, op, b, opts);
}
