/**
 * `linearProgram`: min cᵀx s.t. Ax = b, Gx ≤ h, as the QP with Q = 0 solved by `InteriorPointQP` (whose polishing
 * step lands exactly on the optimal vertex), differentiable through the same active-set KKT conditions.
 *
 * ## Where the derivative exists
 * x*(θ) is differentiable where the LP has a unique, nondegenerate optimal vertex: exactly n linearly
 * independent constraints are active there, each with a positive multiplier, and the active-set KKT matrix is
 * nonsingular. Then ∂x* / ∂c = 0 (the vertex does not move under small cost changes) and x* moves with b, h, A, G
 * as the solution of the active rows.
 *
 * ## What is returned elsewhere
 * - A degenerate vertex (more than n constraints tight; the dual solution is then typically not unique): the
 *   interior point reaches the vertex with the analytic centre of the optimal dual face, and polishing keeps a
 *   basis of the tight rows — the linearly independent ones with the largest multipliers — and returns the
 *   basic dual solution of that basis (as a simplex method would). Tight rows outside the basis get λ = 0 and are
 *   listed in `state.degenerate`; they are treated as inactive, so the derivative is the one-sided derivative
 *   of the LP without them (exact for perturbations that loosen them, e.g. ∂x* / ∂hᵢ = 0). When no such basis has
 *   nonnegative multipliers the unpolished point is returned, its active rows do not determine x, and the
 *   derivative throws an `ImplicitDiffError` (pass `implicit: { policy: "lstsq" }` for the minimum-norm
 *   least-squares derivative instead).
 * - A non-unique optimum (an optimal face, e.g. c orthogonal to an edge): the interior point converges to the
 *   analytic centre of the face (not a vertex); the active rows do not determine x, so the derivative throws
 *   likewise (or is the least-squares one with policy "lstsq").
 * The optimal value cᵀx* is differentiable wherever the dual solution is unique, with the envelope-theorem
 * gradients ∂v/∂c = x*, ∂v/∂b = −ν, ∂v/∂h = −λ, ∂v/∂A = νx*ᵀ, ∂v/∂G = λx*ᵀ.
 *
 * @module
 */
import { ValueError } from "../../core/errors.js";
import { checkOptions } from "../../core/options.js";
import { Tensor, zeros } from "../../core/tensor.js";
import { SOLVER_OPTION_KEYS } from "../base.js";
import { QP_OPTION_KEYS } from "./base.js";
import {
  INTERIOR_POINT_KEYS,
  InteriorPointQP,
  type InteriorPointQPOptions,
  type InteriorPointQPState,
} from "./interior-point.js";
import type { QPMatrix, QPSolution } from "./problem.js";

/** The constraints of {@link linearProgram}: Ax = b and Gx ≤ h (either pair may be omitted). */
export interface LPConstraints {
  A?: QPMatrix;
  b?: Tensor;
  G?: QPMatrix;
  h?: Tensor;
}

/**
 * Solves the linear program min cᵀx s.t. Ax = b, Gx ≤ h with `InteriorPointQP` (options passed through; `init`
 * a warm start) and returns `{ params: { primal, dualEq, dualIneq }, state }`, differentiable with respect to c,
 * A, b, G and h at a unique nondegenerate vertex (see the module notes for degenerate vertices and optimal
 * faces). An unbounded LP ends with status "dualInfeasible", an infeasible one with "primalInfeasible" (a
 * `QPError` unless `throwOnFailure: false`).
 *
 * @example
 * ```ts
 * import { linearProgram, grad, tensor, type Tensor } from "diffopt";
 * // max x₀ + 2x₁ s.t. x₀ + x₁ ≤ 4, x₀ ≤ 3, x ≥ 0: the vertex [0, 4], value −8 for the min of −x₀ − 2x₁
 * const G = tensor([[1, 1], [1, 0], [-1, 0], [0, -1]]);
 * const h = tensor([4, 3, 0, 0]);
 * const c = tensor([-1, -2]);
 * const { params } = linearProgram(c, { G, h });
 * params.primal.toArray(); // ≈ [0, 4]
 * // the sensitivity of the optimal value to the right-hand sides: −λ
 * const value = (h: Tensor) => linearProgram(c, { G, h }).params.primal.mul(c).sum();
 * grad(value)(h).toArray(); // ≈ [-2, 0, -1, 0]
 * ```
 */
export function linearProgram(
  c: Tensor,
  constraints: LPConstraints = {},
  opts: InteriorPointQPOptions & { init?: Partial<QPSolution> } = {},
): { params: QPSolution; state: InteriorPointQPState } {
  if (!(c instanceof Tensor) || c.ndim !== 1) {
    throw new ValueError(
      `linearProgram: c must be a vector (a 1-D tensor), got ${c instanceof Tensor ? `shape [${c.shape.join(", ")}]` : typeof c}`,
    );
  }
  if (constraints === null || typeof constraints !== "object") {
    throw new ValueError(`linearProgram: constraints must be an object { A?, b?, G?, h? }, got ${String(constraints)}`);
  }
  checkOptions("linearProgram", constraints, ["A", "b", "G", "h"] satisfies (keyof LPConstraints)[], "constraints");
  checkOptions("linearProgram", opts, [...SOLVER_OPTION_KEYS, ...QP_OPTION_KEYS, ...INTERIOR_POINT_KEYS, "init"]);
  const n = c.size;
  const { init, ...solverOpts } = opts;
  const solver = new InteriorPointQP(solverOpts);
  return solver.run(init, { Q: zeros([n, n]), c, ...constraints });
}
