/**
 * Backward solves that do not rebuild the backward matrix M (∂ₓF for a root, I − ∂ₓT for a fixed point).
 *
 * `customRoot`'s general path materialises M by one JVP of F per column and factorises it, or runs a Krylov
 * method; that costs n JVPs before the first solve. Two cheaper solves apply often:
 * - **A factorisation the solver already has.** Many solvers end with a factorisation of exactly M (a Newton or
 *   KKT solve at the solution: `InteriorPointQP`'s polishing step, `EqualityConstrainedQP`'s direct solve). The
 *   solver hands it back through `ImplicitOptions.backwardFactor`, and the backward pass solves with it.
 * - **A fixed-point iteration on the adjoint.** For a contraction T the adjoint system uᵀ(I − ∂ₓT) = gᵀ is solved by
 *   u ← (∂ₓT)ᵀu + g, one VJP of T per step at the rate of the contraction, warm-started from the layer's last
 *   adjoint; the forward derivative likewise with w ← ∂ₓT·w + rhs.
 *
 * Both are one loop, the preconditioned Richardson iteration w ← w + P⁻¹(rhs − M·w), with P the handed-back
 * factorisation (a few refinement steps: they absorb a regularised or slightly stale factorisation) or P = I (the
 * fixed-point iteration: I − M = ∂ₓT). The residual rhs − M·w is computed with the true operator, so every result
 * is certified: a wrong factorisation cannot return a wrong derivative, it fails loudly; a fixed-point iteration
 * that does not contract fast enough is abandoned for the general path and reported in the diagnostics.
 *
 * Both run at first order only (plain values): a derivative of a derivative takes the general path, whose linear
 * solve is itself differentiable, so higher derivatives stay exact implicit derivatives.
 *
 * @module
 */
import { Tensor } from "../core/tensor.js";
import { ValueError } from "../core/errors.js";
import { add, flatten, flattenLike, sub, zerosLike, type Tree } from "../core/tree.js";
import type { LinearOperator, SolveInfo } from "../linalg/index.js";
import { LinearSolveError } from "../linalg/dense/errors.js";

/**
 * A factorisation of the backward matrix M at a solution, handed back by a solver (see
 * `ImplicitOptions.backwardFactor`): M = ∂ₓF(x*, θ) for `customRoot`, M = I − ∂ₓT(x*, θ) for `customFixedPoint`.
 *
 * @example
 * ```ts
 * import { customRoot, grad, sub, mul, tensor, type Tensor, type BackwardFactor } from "diffopt";
 * // x² = a: M = ∂ₓF = 2x, "factorised" by the solver as its reciprocal
 * const F = (x: Tensor, a: Tensor) => sub(mul(x, x), a);
 * const factor = (x: Tensor): BackwardFactor => ({ name: "scalar", solve: (r) => mul(r as Tensor, 1 / (2 * x.item())) });
 * const sqrtOf = customRoot(F, { backwardFactor: factor })((_init, a: Tensor) => tensor(Math.sqrt(a.item())));
 * grad((a: Tensor) => sqrtOf(undefined, a))(tensor(4)).item(); // ≈ 0.25
 * ```
 */
export interface BackwardFactor {
  /** Reported as the solver in the diagnostics (e.g. "kkt-lu"). */
  readonly name: string;
  /**
   * Solves M·w = rhs (`transpose`: Mᵀ·w = rhs) on plain values; `rhs` and the result are pytrees shaped like x.
   * It may be approximate (a regularised or slightly stale factorisation): up to 3 steps of iterative refinement
   * against the true M follow, and the result must then meet the backward tolerance or the derivative fails.
   */
  solve(rhs: Tree, transpose: boolean): Tree;
}

/**
 * @internal ‖t‖₂ over every leaf of the plain pytree `t`, read from the values (the sum of squares of `tree.norm`,
 * without making tensors per leaf and per step): the residual norms of the first-order backward solves.
 */
export function normOfValues(t: Tree): number {
  let s = 0;
  for (const leaf of flatten(t)[0]) {
    const v = leaf.raw;
    for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  }
  return Math.sqrt(s);
}

/** Refinement steps allowed after a solve with a handed-back factorisation. */
const REFINE_STEPS = 3;
/** Fewest steps the fixed-point iteration is tried with under "auto" (it measures its rate over 3 steps). */
const MIN_STEPS = 8;

/** The outcome of {@link richardson}. */
interface RichardsonResult {
  value: Tree;
  info: Omit<SolveInfo, "phase">;
}

/**
 * Steps still needed to bring the residual from `history[last]` to `tol`, predicted from the residual norms so far
 * (Infinity: never, or not within `budget`). Two estimates, the larger wins:
 * - the constant rate: the geometric mean ρ of the last three ratios ‖rₖ‖/‖rₖ₋₁‖, held from now on;
 * - the rising rate, when the ratios have risen at every step so far, as they do for a symmetric ∂ₓT (‖rₖ‖² =
 *   Σ λᵢ²ᵏcᵢ² is log-convex in k, so the ratios climb towards the spectral radius, and the constant rate is
 *   optimistic). The ratio's distance to 1 is followed as sₖ = 1/(1 − ρₖ), whose increments are extrapolated
 *   geometrically with the quotient of the last two, capped at 1: shrinking increments settle at a rate below 1,
 *   steady ones (sₖ linear in k, ρₖ = 1 − 1/(a + bk): a spectrum reaching 1) never converge.
 * The second sees within four steps what the first sees only once the rate itself is slow: ratios 0.81, 0.82,
 * 0.83, 0.85 (the backward system of a projected-gradient fixed point) keep rising, and a constant rate waits
 * ~20 more steps for them to pass 0.95.
 */
function stepsLeft(history: readonly number[], tol: number, budget: number): number {
  const k = history.length - 1;
  const r = history[k]!;
  if (r <= tol) return 0;
  const mean = (r / history[k - 3]!) ** (1 / 3);
  if (!(mean < 1)) return Infinity;
  const constant = Math.log(tol / r) / Math.log(mean);
  const distance = (j: number) => 1 / (1 - history[j]! / history[j - 1]!);
  for (let j = 2; j <= k; j++) if (!(distance(j) > distance(j - 1))) return constant;
  let s = distance(k);
  let step = s - distance(k - 1);
  const q = Math.min(1, step / (distance(k - 1) - distance(k - 2)));
  let log = Math.log(r / tol);
  let steps = 0;
  while (log > 0) {
    if (steps >= budget) return Infinity;
    step *= q;
    s += step;
    log += Math.log(1 - 1 / s);
    steps++;
  }
  return Math.max(constant, steps);
}

/**
 * w ← w + P⁻¹(rhs − M·w) from `x0` (or 0, whichever has the smaller residual) until ‖rhs − M·w‖ ≤
 * max(rtol·‖rhs‖, atol) or `maxIter` steps. Without a preconditioner the contraction rate is watched from the
 * third step: the loop stops early when the residual norms so far predict that it will not converge within
 * `maxIter` steps ({@link stepsLeft}).
 */
function richardson(
  M: LinearOperator,
  rhs: Tree,
  precond: ((r: Tree) => Tree) | null,
  o: { rtol: number; atol: number; maxIter: number; x0?: Tree; solver: string },
): RichardsonResult {
  const bNorm = normOfValues(rhs);
  const tol = Math.max(o.rtol * bNorm, o.atol);
  let w: Tree = zerosLike(rhs);
  let r: Tree = rhs;
  let rNorm = bNorm;
  if (o.x0 !== undefined) {
    const r0 = sub(rhs, M.matvec(o.x0));
    const n0 = normOfValues(r0);
    if (n0 < bNorm) [w, r, rNorm] = [o.x0, r0, n0];
  }
  const history = [rNorm];
  let iterations = 0;
  while (rNorm > tol && iterations < o.maxIter) {
    w = add(w, precond ? precond(r) : r);
    r = sub(rhs, M.matvec(w));
    rNorm = normOfValues(r);
    iterations++;
    history.push(rNorm);
    if (!Number.isFinite(rNorm)) break;
    if (precond === null && history.length > 3 && rNorm > tol) {
      if (iterations + stepsLeft(history, tol, o.maxIter - iterations) > o.maxIter) break;
    }
  }
  return { value: w, info: { solver: o.solver, iterations, residualNorm: rNorm, converged: rNorm <= tol } };
}

/** @internal The adjoint (and tangent) of the layer's last backward solve, a warm start for the next one. */
export interface WarmStart {
  jvp?: Tree;
  vjp?: Tree;
}

/** @internal What {@link fastBackwardSolve} needs from the backward pass. */
export interface FastSolveContext {
  /** M or Mᵀ, whichever is solved. */
  target: LinearOperator;
  rhs: Tree;
  transpose: boolean;
  /** +1 for a root (M = ∂ₓF), −1 for a fixed point (M = I − ∂ₓT). */
  sign: 1 | -1;
  /** `ImplicitOptions.solve` ("auto" when absent). */
  solve: string;
  rtol: number;
  atol: number;
  maxIter: number | undefined;
  /** The factorisation handed back by the solver for this solution, if any. */
  factor: BackwardFactor | null | undefined;
  warm: WarmStart | undefined;
  /** True when a derivative of a derivative is being taken (traced operands): the general path must run. */
  traced: boolean;
  who: string;
}

/**
 * @internal A backward solve without rebuilding M, when one applies: `{ value, info }` on success; `{ skipped }`
 * when the fixed-point iteration was tried under `"auto"` and abandoned (the caller takes the general path and
 * reports it); null when none applies. A handed-back factorisation that does not solve the system throws
 * `LinearSolveError` (the caller applies the policy); so does an explicit `solve: "fixedPoint"` that does not
 * converge.
 */
export function fastBackwardSolve(
  c: FastSolveContext,
): RichardsonResult | { skipped: Omit<SolveInfo, "phase"> } | null {
  if (c.traced) return null;
  const tolerances = { rtol: c.rtol, atol: c.atol };
  if (c.factor) {
    const factor = c.factor;
    const precond = (r: Tree) => checkedLike(factor.solve(r, c.transpose), r, c.who, factor.name);
    const result = richardson(c.target, c.rhs, precond, {
      ...tolerances,
      maxIter: REFINE_STEPS + 1,
      solver: factor.name,
    });
    if (!result.info.converged) {
      throw new LinearSolveError(
        `the factorisation "${factor.name}" handed back by backwardFactor does not solve the backward system (residual ${result.info.residualNorm.toExponential(3)} after ${REFINE_STEPS} refinement steps, for ‖rhs‖ = ${normOfValues(c.rhs).toExponential(3)}); it must factorise ${c.sign === 1 ? "∂ₓF" : "I − ∂ₓT"} at the solution`,
        result.info.residualNorm,
        result.info.iterations,
      );
    }
    return result;
  }
  const forced = c.solve === "fixedPoint";
  if (!forced && !(c.solve === "auto" && c.sign === -1)) return null;
  const n = flatten(c.rhs)[0].reduce((a, l) => a + l.size, 0);
  // Under "auto" the iteration must beat the general path: n matvecs to materialise M (or a Krylov solve), and
  // it needs a few steps to measure its rate, so it is not tried on tiny systems.
  const maxIter = c.maxIter ?? (forced ? 1000 : Math.min(n, 500));
  if (!forced && maxIter < MIN_STEPS) return null;
  const key = c.transpose ? "vjp" : "jvp";
  const x0 = warmStartLike(c.warm?.[key], c.rhs);
  const result = richardson(c.target, c.rhs, null, {
    ...tolerances,
    maxIter,
    solver: "fixedPoint",
    ...(x0 ? { x0 } : {}),
  });
  if (result.info.converged) {
    if (c.warm) c.warm[key] = result.value;
    return result;
  }
  if (!forced) return { skipped: result.info };
  throw new LinearSolveError(
    `the fixed-point iteration on the backward system did not converge in ${result.info.iterations} steps (residual ${result.info.residualNorm.toExponential(3)}): T is not a contraction at the solution, or contracts slowly; use solve "auto" or a Krylov solver`,
    result.info.residualNorm,
    result.info.iterations,
  );
}

/** The warm start if it has the structure and shapes of `like`, else undefined. */
function warmStartLike(w: Tree | undefined, like: Tree): Tree | undefined {
  if (w === undefined) return undefined;
  const [leaves, def] = flatten(like);
  try {
    flattenLike(w, def, leaves, "warm start");
    return w;
  } catch {
    return undefined;
  }
}

/** A factorisation's result checked to be shaped like its right-hand side and plain (a typed error otherwise). */
function checkedLike(out: Tree, like: Tree, who: string, name: string): Tree {
  const [leaves, def] = flatten(like);
  let outLeaves: Tensor[];
  try {
    outLeaves = flattenLike(out, def, leaves, "backwardFactor");
  } catch (e) {
    throw new ValueError(
      `${who}: backwardFactor "${name}": solve must return a pytree shaped like its right-hand side (${(e as Error).message})`,
    );
  }
  if (outLeaves.some((l) => !(l instanceof Tensor) || l.level > 0)) {
    throw new ValueError(`${who}: backwardFactor "${name}": solve must return plain tensors`);
  }
  return out;
}
