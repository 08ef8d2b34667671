/**
 * The optimality condition every QP solver is differentiated through: the KKT conditions written on the active
 * set that the solver found.
 *
 * ## Why the active-set form rather than λ ⊙ (Gx − h) = 0
 * The KKT conditions of  min ½xᵀQx + cᵀx  s.t.  Ax = b, Gx ≤ h  are stationarity Qx + c + Aᵀν + Gᵀλ = 0, primal
 * feasibility and complementarity λ ⊙ (Gx − h) = 0 (`kktOptimality` writes exactly these). Their Jacobian has
 * the rows [λᵢGᵢ, 0, (Gx − h)ᵢ] for the complementarity of constraint i, which
 * - is not symmetric (so the backward solve needs LU/GMRES), and
 * - is a zero row when strict complementarity fails (λᵢ = 0 on an active constraint): the implicit function
 *   theorem does not apply and a solve returns NaN or garbage.
 * Near a solution, dividing each complementarity row by λᵢ (active) or by (Gx − h)ᵢ (inactive) gives the
 * equivalent conditions used here, with the active set 𝒜 read from the solver's output (the byproduct a
 * condition may read, as in ImplicitDifferentiation.jl's `conditions(x, y, z)`), passed in as a 0/1 tensor so that
 * under `vmap` each element selects its own rows:
 *
 *   stationarity  Qₛx + c + Aᵀν + Gᵀ(m ⊙ λ) = 0        (Qₛ = (Q + Qᵀ)/2, m the 0/1 indicator of 𝒜)
 *   equalities    Ax − b = 0
 *   inequalities  m ⊙ (Gx − h) + (1 − m) ⊙ λ = 0
 *
 * Where strict complementarity holds this has the same root and the same derivative as the full conditions.
 * Its Jacobian is the symmetric (indefinite) matrix [[Qₛ, Aᵀ, G𝒜ᵀ, 0], [A, 0, 0, 0], [G𝒜, 0, 0, 0], [0, 0, 0, I]],
 * so the backward pass runs LU on small problems and MINRES (symmetric) on large or matrix-free ones, and the
 * inactive multipliers decouple (their derivative is 0).
 *
 * At a degenerate constraint (λᵢ and the slack both ≈ 0) the map θ ↦ x*(θ) has only one-sided derivatives; the
 * solvers classify such a constraint as inactive, which gives the derivative of the problem without it — the
 * one-sided derivative for perturbations that loosen the constraint — finite, never NaN, and reported in
 * `state.degenerate`.
 *
 * @internal
 * @module
 */
import type { Tensor } from "../../core/tensor.js";
import { abs, add, greater, less, sub, where } from "../../core/ops/elementwise.js";
import {
  apply,
  applySym,
  applyT,
  type BoxQPProblem,
  type BoxQPSolution,
  type QPMatrix,
  type QPProblem,
  type QPSolution,
} from "./problem.js";

/**
 * @internal Residual of constraint rows on an active set: Cx − target on the active rows, y on the others, with
 * `mask` the 0/1 indicator of the active rows (null: all rows active, as equality rows are). The mask is a tensor
 * so that under `vmap` each element selects with its own active set.
 */
export function activeRows(Cx: Tensor, target: Tensor, y: Tensor, mask: Tensor | null): Tensor {
  const r = sub(Cx, target);
  return mask === null ? r : where(mask, r, y);
}

/** @internal Mᵀ(m ⊙ y): the constraint term of stationarity for the active rows. */
export function activeTerm(M: QPMatrix, y: Tensor, mask: Tensor | null): Tensor {
  return applyT(M, mask === null ? y : where(mask, y, 0));
}

/**
 * @internal The active-set KKT residual of a standard-form QP at `sol`, a pytree shaped like the solution, with
 * `active` the 0/1 indicator of the active inequalities (a tensor of m entries).
 */
export function qpResidual(sol: QPSolution, problem: QPProblem, active: Tensor): QPSolution {
  const { Q, c, A, b, G, h } = problem;
  const x = sol.primal;
  let stat = add(applySym(Q, x), c);
  let dualEq: Tensor | undefined;
  let dualIneq: Tensor | undefined;
  if (A !== undefined) {
    stat = add(stat, applyT(A, sol.dualEq!));
    dualEq = sub(apply(A, x), b!);
  }
  if (G !== undefined) {
    stat = add(stat, activeTerm(G, sol.dualIneq!, active));
    dualIneq = activeRows(apply(G, x), h!, sol.dualIneq!, active);
  }
  return { primal: stat, dualEq, dualIneq };
}

/**
 * @internal The 0/1 active indicator and the degenerate constraints of a solution, from the multipliers λ ≥ 0
 * and the slacks s = h − Gx ≥ 0 of a point solved to KKT error `accuracy`: constraint i is active when
 * λᵢ > sᵢ (the classification that leaves the smaller of the two in the residual), except that it is degenerate,
 * and then inactive, when both are ≤ δ = √accuracy·max(1, ‖λ‖∞, ‖s‖∞).
 */
export function activeSet(
  lam: Float64Array,
  slack: Float64Array,
  accuracy: number,
): { active: Float64Array; degenerate: number[] } {
  const delta = threshold(lam, slack, accuracy);
  const active = new Float64Array(lam.length);
  const degenerate: number[] = [];
  for (let i = 0; i < lam.length; i++) {
    const l = lam[i]!;
    const s = Math.abs(slack[i]!);
    if (l <= delta && s <= delta) degenerate.push(i);
    else if (l > s) active[i] = 1;
  }
  return { active, degenerate };
}

/** δ = √accuracy·max(1, ‖a‖∞, ‖b‖∞). */
function threshold(a: Float64Array, b: Float64Array, accuracy: number): number {
  let scale = 1;
  for (let i = 0; i < a.length; i++) scale = Math.max(scale, Math.abs(a[i]!), Math.abs(b[i]!));
  return Math.sqrt(Math.max(accuracy, Number.EPSILON)) * scale;
}

/**
 * @internal The active-set KKT residual of a box-form QP (l ≤ Ax ≤ u) at `sol`, with `side` (a tensor of m entries)
 * = +1 where the upper bound is active, −1 where the lower one is, 0 elsewhere: stationarity Qₛx + c + Aᵀ(|side| ⊙ y)
 * and the rows Ax − bound where |side| = 1, y elsewhere.
 */
export function boxResidual(sol: BoxQPSolution, problem: BoxQPProblem, side: Tensor): BoxQPSolution {
  const { Q, c, A, l, u } = problem;
  const x = sol.primal;
  const active = abs(side);
  // the bound of each active row (an inactive row's may be infinite: `where` never multiplies it)
  const target = where(greater(side, 0), u, where(less(side, 0), l, 0));
  return {
    primal: add(add(applySym(Q, x), c), activeTerm(A, sol.dual, active)),
    dual: activeRows(apply(A, x), target, sol.dual, active),
  };
}

/**
 * @internal The active sides of a box-form solution (+1 upper, −1 lower, 0 inactive) and its degenerate rows,
 * from the signed multipliers y and Ax, as in {@link activeSet}: row i is active on the side of the sign of yᵢ
 * when |yᵢ| exceeds the gap between Ax and that bound; always active when l = u (an equality row; upper when
 * yᵢ ≥ 0); degenerate (inactive) when |yᵢ| and the gap to the nearest bound are both ≤ δ.
 */
export function activeSides(
  y: Float64Array,
  ax: Float64Array,
  l: Float64Array,
  u: Float64Array,
  accuracy: number,
): { active: Float64Array; degenerate: number[] } {
  const gaps = ax.map((v, i) => Math.min(Math.abs(u[i]! - v), Math.abs(v - l[i]!)));
  const delta = threshold(
    y,
    gaps.map((g) => (Number.isFinite(g) ? g : 0)),
    accuracy,
  );
  const active = new Float64Array(y.length);
  const degenerate: number[] = [];
  for (let i = 0; i < y.length; i++) {
    const yi = y[i]!;
    const gap = yi >= 0 ? Math.abs(u[i]! - ax[i]!) : Math.abs(ax[i]! - l[i]!);
    if (l[i] === u[i]) active[i] = yi < 0 ? -1 : 1;
    else if (Math.abs(yi) <= delta && gaps[i]! <= delta) degenerate.push(i);
    else if (Math.abs(yi) > gap) active[i] = yi > 0 ? 1 : -1;
  }
  return { active, degenerate };
}
