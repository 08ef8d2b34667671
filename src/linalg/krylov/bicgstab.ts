/**
 * BiCGSTAB (van der Vorst) for general square systems.
 * @module
 */
import type { Tensor } from "../../core/tensor.js";
import type { Tree } from "../../core/tree.js";
import type { AnyLinearOperator } from "../operator.js";
import { dot, type Kernel, type KrylovOptions, type KrylovResult, nrm2, residual, runKrylov } from "./common.js";

/**
 * @internal Right-preconditioned BiCGSTAB on x in place. On a breakdown (ρ = r̂ᵀr, r̂ᵀv or ω vanishing) it
 * returns, and the driver restarts it from the current x with a fresh shadow residual.
 */
export const bicgstabKernel: Kernel = (A, b, x, ctx) => {
  const n = x.length;
  const M = ctx.precond;
  const r = residual(A, b, x);
  if (nrm2(r) <= ctx.tol) return { iterations: 0 };
  const shadow = r.slice();
  const p = new Float64Array(n);
  const v = new Float64Array(n);
  const s = new Float64Array(n);
  let rho = 1;
  let alpha = 1;
  let omega = 1;
  const tiny = 1e-300;
  for (let k = 1; k <= ctx.maxIter; k++) {
    const rhoNew = dot(shadow, r);
    if (Math.abs(rhoNew) < tiny) return { iterations: k - 1 };
    const beta = (rhoNew / rho) * (alpha / omega);
    rho = rhoNew;
    for (let i = 0; i < n; i++) p[i] = r[i]! + beta * (p[i]! - omega * v[i]!);
    const ph = M ? M(p) : p;
    v.set(A.apply(ph));
    const sv = dot(shadow, v);
    if (Math.abs(sv) < tiny) return { iterations: k - 1 };
    alpha = rho / sv;
    for (let i = 0; i < n; i++) s[i] = r[i]! - alpha * v[i]!;
    if (nrm2(s) <= ctx.tol) {
      for (let i = 0; i < n; i++) x[i]! += alpha * ph[i]!;
      return { iterations: k };
    }
    const sh = M ? M(s) : s;
    const t = A.apply(sh);
    const tt = dot(t, t);
    omega = tt > 0 ? dot(t, s) / tt : 0;
    let rr = 0;
    for (let i = 0; i < n; i++) {
      x[i]! += alpha * ph[i]! + omega * sh[i]!;
      const ri = s[i]! - omega * t[i]!;
      r[i] = ri;
      rr += ri * ri;
    }
    if (Math.sqrt(rr) <= ctx.tol) return { iterations: k };
    if (omega === 0) return { iterations: k };
  }
  return { iterations: ctx.maxIter };
};

/**
 * Solves A x = b by BiCGSTAB (right-preconditioned), for a general square operator: short recurrences, two
 * matvecs per iteration, no stored basis. Runs on plain values; use `linearSolve(op, b, { solver: "bicgstab" })`
 * for a differentiable solve. Converged when ‖b − A x‖ ≤ max(rtol·‖b‖, atol).
 *
 * @example
 * ```ts
 * import { linalg, tensor } from "diffopt";
 * const A = linalg.LinearOperator.fromMatrix(tensor([[3, 1], [-1, 2]]));
 * linalg.bicgstab(A, tensor([4, 1])).value.toArray(); // ≈ [1, 1]
 * ```
 */
export function bicgstab<T extends Tree = Tensor>(
  op: AnyLinearOperator,
  b: T,
  opts: KrylovOptions = {},
): KrylovResult<T> {
  return runKrylov("bicgstab", () => bicgstabKernel, op, b, opts);
}
