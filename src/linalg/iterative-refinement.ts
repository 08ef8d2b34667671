/**
 * Iterative refinement: solve A x = b to full accuracy with an inner solver that is only approximate (a loose
 * Krylov tolerance, a few iterations) or solves a nearby, better-conditioned system (A + ρI), by correcting
 * with the exact residual: x ← x + solve_inner(r), r = b − A x. Each step multiplies the error by the inner
 * solver's relative error ‖I − M⁻¹A‖, so a cheap inner solve reaches a tight tolerance in a few steps (JAXopt's
 * `solve_iterative_refinement`; the ridge variant is the proximal-point method on the quadratic).
 *
 * Derivatives follow `linearSolve`'s implicit rules (tangent dx = A⁻¹(db − dA·x); cotangent u = A⁻ᵀx̄,
 * b̄ = u, θ̄ = −(∂θ A x)ᵀu), with the solves inside the rules made by iterative refinement again, so derivatives
 * of any order are exact and never unroll the loop.
 * @module
 */
import { customCall, type CustomRule } from "../core/custom.js";
import { ValueError } from "../core/errors.js";
import { Tensor, zerosLike } from "../core/tensor.js";
import { jvp, vjp } from "../core/transforms.js";
import {
  add,
  flatten,
  flattenLike,
  norm,
  scale,
  sub,
  unflatten,
  zerosLike as zerosTree,
  type Tree,
} from "../core/tree.js";
import { LinearSolveError } from "./dense/errors.js";
import { LinearOperator, requireOperator, ridge as ridgeOperator, type AnyLinearOperator } from "./operator.js";
import { linearSolve, type LinearSolveOptions, type LinearSolveResult, type SolveInfo } from "./solve.js";

/** Options of {@link iterativeRefinement}. */
export interface IterativeRefinementOptions {
  /** Options of the inner solve of each correction (default: `linearSolve`'s "auto" with rtol 1e-4). */
  inner?: Omit<LinearSolveOptions, "x0" | "onInfo" | "throwOnFailure">;
  /** The inner solver solves (A + ρI) d = r instead of A d = r (default 0); ρ > 0 regularises an ill-conditioned A. */
  ridge?: number;
  /** Converged when ‖b − A x‖ ≤ max(rtol·‖b‖, atol) (default rtol 1e-12). */
  rtol?: number;
  /** Absolute tolerance (default 0). */
  atol?: number;
  /** Maximum number of corrections (default 50). */
  maxIter?: number;
  /** Throw a `LinearSolveError` when the tolerance is not reached (default true). */
  throwOnFailure?: boolean;
  /** Called for every solve, including those made inside derivative rules (`phase` tells which). */
  onInfo?: (info: SolveInfo) => void;
}

function nonNegative(v: number, name: string): number {
  if (!(v >= 0) || !Number.isFinite(v))
    throw new ValueError(`iterativeRefinement: ${name} must be non-negative and finite, got ${v}`);
  return v;
}

/** The refinement loop on plain values: x and how it went. */
function refine(
  op: LinearOperator,
  b: Tree,
  opts: IterativeRefinementOptions,
): { x: Tree; info: Omit<SolveInfo, "phase"> } {
  const rtol = nonNegative(opts.rtol ?? 1e-12, "rtol");
  const atol = nonNegative(opts.atol ?? 0, "atol");
  const rho = nonNegative(opts.ridge ?? 0, "ridge");
  const maxIter = opts.maxIter ?? 50;
  if (!Number.isInteger(maxIter) || maxIter < 1)
    throw new ValueError(`iterativeRefinement: maxIter must be a positive integer, got ${maxIter}`);
  const inner = rho > 0 ? ridgeOperator(op, rho) : op;
  const innerOpts: LinearSolveOptions = { rtol: 1e-4, ...opts.inner, throwOnFailure: false };
  const bound = Math.max(rtol * norm(b).raw[0]!, atol);
  let x: Tree = zerosTree(op.inExample);
  let r: Tree = b;
  let rn = norm(r).raw[0]!;
  let k = 0;
  while (rn > bound && k < maxIter) {
    x = add(x, linearSolve(inner, r, innerOpts).value);
    r = sub(b, op.matvec(x));
    rn = norm(r).raw[0]!;
    k++;
    if (!Number.isFinite(rn)) break;
  }
  return {
    x,
    info: {
      solver: `iterativeRefinement(${innerOpts.solver ?? "auto"})`,
      iterations: k,
      residualNorm: rn,
      converged: rn <= bound,
    },
  };
}

function solveAt(
  op: AnyLinearOperator,
  b: Tree,
  opts: IterativeRefinementOptions,
  phase: SolveInfo["phase"],
): LinearSolveResult {
  const who = "iterativeRefinement";
  requireOperator(op, who);
  if (op.inSize !== op.outSize)
    throw new ValueError(`${who}: the operator must be square, but it maps ${op.inSize} values to ${op.outSize}`);
  const [outLeaves, outDef] = flatten(op.outExample);
  const bLeaves = flattenLike(b, outDef, outLeaves, `${who}: b vs the operator's output space`);
  const [pLeaves, pDef] = flatten(op.params);
  const np = pLeaves.length;
  const inDef = flatten(op.inExample)[1];
  const paramsOf = (xs: readonly Tensor[]): Tree => unflatten(pDef, xs.slice(0, np));
  const rhsOf = (xs: readonly Tensor[]): Tree => unflatten(outDef, xs.slice(np));
  const fill = (ts: readonly (Tensor | null)[], like: readonly Tensor[]) => ts.map((t, i) => t ?? zerosLike(like[i]!));
  let info: SolveInfo | null = null;
  const rule: CustomRule<null> = {
    name: who,
    primal(args) {
      const { x, info: i } = refine(op.withParams(paramsOf(args)), rhsOf(args), opts);
      info = { ...i, phase };
      opts.onInfo?.(info);
      if (!i.converged && (opts.throwOnFailure ?? true))
        throw new LinearSolveError(
          `${who} (${phase}): ‖b − A x‖ = ${i.residualNorm.toExponential(3)} after ${i.iterations} corrections; raise maxIter, tighten the inner solve, or use a ridge`,
          i.residualNorm,
          i.iterations,
        );
      return { outs: flatten(x)[0], res: null };
    },
    residuals() {
      return null;
    },
    jvp(primals, tangents, outs) {
      const p = paramsOf(primals);
      const x = unflatten(inDef, outs);
      let rhs: Tree = unflatten(outDef, fill(tangents.slice(np), primals.slice(np)));
      const tp = tangents.slice(0, np);
      if (tp.some((t) => t !== null))
        rhs = sub(rhs, jvp<Tree>((q: Tree) => op.mv(q, x), [p], [unflatten(pDef, fill(tp, primals))])[1]);
      return flatten(solveAt(op.withParams(p), rhs, opts, "tangent").value)[0];
    },
    vjp(primals, outs, cts, _res, needs) {
      const p = paramsOf(primals);
      const x = unflatten(inDef, outs);
      const u = solveAt(op.withParams(p).transpose(), unflatten(inDef, fill(cts, outs)), opts, "cotangent").value;
      const pbar = needs.slice(0, np).some(Boolean)
        ? flatten(vjp<Tree>((q: Tree) => op.mv(q, x), p)[1](scale(-1, u))[0])[0]
        : null;
      const ubar = flatten(u)[0];
      return [
        ...pLeaves.map((_, i) => (needs[i] && pbar ? pbar[i]! : null)),
        ...bLeaves.map((_, i) => (needs[np + i] ? ubar[i]! : null)),
      ];
    },
  };
  const outs = customCall(rule, [...pLeaves, ...bLeaves]);
  return {
    value: unflatten(inDef, outs),
    info: info ?? { solver: who, iterations: 0, residualNorm: NaN, converged: true, phase },
  };
}

/**
 * Solves A x = b (A a square {@link LinearOperator}, b a pytree shaped like its output) by iterative refinement
 * around an approximate inner solve (see the module notes): x ← x + inner⁻¹(b − A x) until
 * ‖b − A x‖ ≤ max(rtol·‖b‖, atol). `inner` configures the inner `linearSolve` (solver, its own loose tolerance,
 * preconditioner); `ridge` ρ > 0 makes it solve (A + ρI) d = r, which converges for any positive semidefinite A
 * with rate ρ/(λ + ρ) per eigenvalue λ. Differentiable in b and the operator's params, to any order.
 *
 * @example
 * ```ts
 * import { linalg, tensor, grad, sum, type Tensor } from "diffopt";
 * const A = tensor([[4, 1], [1, 3]]);
 * const op = (M: Tensor) => linalg.LinearOperator.fromMatrix(M, { symmetric: true, positiveDefinite: true });
 * // each correction solves (A + I) d = r exactly: the error shrinks by 1/(1 + λ) per step
 * const opts = { ridge: 1, inner: { solver: "cholesky" } } as const;
 * const { value, info } = linalg.iterativeRefinement(op(A), tensor([1, 2]), opts);
 * value.toArray(); // ≈ [0.0909090909, 0.6363636364]
 * info.iterations; // 23
 * grad((M) => sum(linalg.iterativeRefinement(op(M), tensor([1, 2]), opts).value))(A).toArray(); // ≈ [[-0.0165289256, -0.1157024793], [-0.0247933884, -0.173553719]]
 * ```
 */
export function iterativeRefinement<T extends Tree = Tensor>(
  op: AnyLinearOperator,
  b: T,
  opts: IterativeRefinementOptions = {},
): LinearSolveResult<T> {
  return solveAt(op, b, opts, "solve") as LinearSolveResult<T>;
}
