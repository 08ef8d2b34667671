/**
 * Certified derivatives: what each implicit derivative reports about itself, the policy on failure, and the
 * error it throws.
 * @module
 */
import { DiffoptError } from "../core/errors.js";
import type { SolveInfo } from "../linalg/index.js";

/**
 * What one implicit-derivative computation (a JVP or a VJP through a root) measured.
 *
 * @example
 * ```ts
 * import { customRoot, grad, sub, mul, tensor } from "diffopt";
 * const seen: string[] = [];
 * const sqrtOf = customRoot((x, a) => sub(mul(x, x), a), {
 *   onDiagnostics: (d) => seen.push(`${d.mode}: residual ${d.forwardResidual}, ${d.linearSolve.solver}`),
 * })((_init, a) => tensor(Math.sqrt(a.item())));
 * grad((a) => sqrtOf(tensor(1), a))(tensor(4));
 * console.log(seen); // ["vjp: residual 0, lu"]
 * ```
 */
export interface ImplicitDiagnostics {
  /** Which rule ran: "jvp" (forward mode) or "vjp" (reverse mode). */
  readonly mode: "jvp" | "vjp";
  /** ‖F(x*, θ)‖ at the solution the solver returned: how far x* is from satisfying the optimality condition. */
  readonly forwardResidual: number;
  /** The backward linear solve: solver used, iterations, residual norm and whether it converged. */
  readonly linearSolve: SolveInfo;
  /** True when the least-squares fallback of the `"lstsq"` policy was used. */
  readonly fallback: boolean;
  /**
   * The batch element (column) this solve was for, when many right-hand sides were solved together: under
   * `vmap`, and in `jacrev` / `jacfwd`, which batch the rows or columns of the Jacobian.
   */
  readonly column?: number;
  /**
   * A solve tried first and given up for `linearSolve` (the fixed-point iteration of a `customFixedPoint` layer
   * that did not contract fast enough): its iterations and residual.
   */
  readonly skipped?: SolveInfo;
}

/** What to do when an implicit derivative cannot be certified. */
export type ImplicitPolicy = "throw" | "warn" | "lstsq";

/**
 * An implicit derivative could not be computed reliably: the solver's output does not satisfy the optimality
 * condition, the backward linear system did not converge or is singular, or the result is not finite.
 * Carries the diagnostics measured so far.
 *
 * @example
 * ```ts
 * import { ImplicitDiffError } from "diffopt";
 * const e = new ImplicitDiffError("customRoot: backward solve did not converge", {});
 * console.log(e instanceof Error, e.name); // true "ImplicitDiffError"
 * ```
 */
export class ImplicitDiffError extends DiffoptError {
  /** The measurements behind the failure. */
  readonly diagnostics: Partial<ImplicitDiagnostics>;
  constructor(message: string, diagnostics: Partial<ImplicitDiagnostics>) {
    super(message);
    this.diagnostics = diagnostics;
  }
}
