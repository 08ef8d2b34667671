/**
 * The QP layers' backward pass reuses the solver's last KKT factorisation.
 *
 * The backward matrix of the active-set conditions (see `condition.ts`), on the solution (x, ν, λ), is
 * [[Qₛ, Aᵀ, G𝒜ᵀ], [A, 0, 0], [G𝒜, 0, 0]] on (x, ν, λ𝒜) and the identity on the inactive multipliers. A solver
 * that ends with a factorisation of that saddle-point matrix — `InteriorPointQP`'s polishing step on a basis of
 * the active rows, `EqualityConstrainedQP`'s direct solve (no inequalities) — hands it to `customRoot` through
 * `backwardFactor`, and the backward pass costs a few triangular solves instead of rebuilding the matrix by
 * n + p + m JVPs and factorising it again. The matrix is symmetric, so the transposed solve is the same solve.
 *
 * The factorisation is handed back only when it is exactly of that matrix: the rows it holds must be the active
 * set the derivative uses. `customRoot` certifies every solve with it by the true residual (after at most three
 * refinement steps, which absorb the regularisation of a nearly singular system).
 *
 * @internal
 * @module
 */
import { Tensor } from "../../core/tensor.js";
import type { Tree } from "../../core/tree.js";
import type { BackwardFactor } from "../../implicit/backward-solver.js";
import { luSolve, type LuFactors } from "../../linalg/dense/kernels.js";
import type { PlainQP, QPSolution } from "./problem.js";

/**
 * @internal The backward factorisation of a standard-form QP from `factors` of [[Qₛ, Cᵀ], [C, 0]] with
 * C = [A; G_rows] (`rows` the inequality rows, in the order they were factorised), or undefined when `rows` is
 * not the active set `active` (0/1 per inequality).
 */
export function kktBackwardFactor(
  p: PlainQP,
  factors: LuFactors,
  rows: readonly number[],
  active: Float64Array,
): BackwardFactor | undefined {
  const activeCount = active.reduce((a, v) => a + (v === 1 ? 1 : 0), 0);
  if (rows.length !== activeCount || rows.some((i) => active[i] !== 1)) return undefined;
  const { n } = p;
  const size = n + p.p + rows.length;
  return {
    name: "kkt-lu",
    solve(rhs: Tree): Tree {
      const r = rhs as unknown as QPSolution;
      const b = new Float64Array(size);
      b.set(r.primal.raw);
      if (r.dualEq) b.set(r.dualEq.raw, n);
      const ineq = r.dualIneq?.raw;
      rows.forEach((i, k) => (b[n + p.p + k] = ineq![i]!));
      const z = luSolve(factors, size, b);
      let dualIneq: Tensor | undefined;
      if (ineq) {
        // inactive multipliers: identity rows
        const out = Float64Array.from(ineq);
        rows.forEach((i, k) => (out[i] = z[n + p.p + k]!));
        dualIneq = new Tensor(out, [p.m]);
      }
      const sol: QPSolution = {
        primal: new Tensor(z.slice(0, n), [n]),
        dualEq: r.dualEq ? new Tensor(z.slice(n, n + p.p), [p.p]) : undefined,
        dualIneq,
      };
      return sol as unknown as Tree;
    },
  };
}
