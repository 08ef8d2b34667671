/**
 * What every QP solver shares: the `run(init, problem)` entry point, its implicit derivative through the
 * active-set KKT conditions (see `condition.ts`), the failure policy, and the typed error.
 *
 * `run` hands `customRoot` the problem as a pytree of tensors (operators replaced by their params), so the
 * solution is differentiable with respect to every tensor of the problem and every leaf of an operator's params,
 * in forward and reverse mode and to any order. The solver loop runs on plain values, once per batch element
 * under `vmap`; the backward system is the symmetric KKT matrix of the active set. The condition reads the run's
 * byproduct — the active set, and which solve it came from — as an argument of the layer: a tensor batched like
 * the problem, so that in every nesting of `vmap` with derivatives (`vmap(grad(f))` as well as `grad(vmap(f))`)
 * each element is differentiated on its own active set. A solver that ends with a factorisation of exactly that
 * matrix hands it back (`backwardFactor`, see `backward.ts`; per element under `vmap`), and first derivatives are
 * then a few triangular solves; otherwise the backward solve is LU (small) or MINRES (large) on the matrix rebuilt
 * by JVPs.
 *
 * @module
 */
import { DiffoptError, ValueError } from "../../core/errors.js";
import { Tensor as TensorClass, scalar, type Tensor } from "../../core/tensor.js";
import { stopGradient } from "../../core/transforms.js";
import type { Tree } from "../../core/tree.js";
import { LinearOperator } from "../../linalg/operator.js";
import { batchedRun } from "../batched-run.js";
import { solverRoot, type ImplicitOptions } from "../../implicit/root.js";
import type { BackwardFactor } from "../../implicit/backward-solver.js";
import {
  Solver,
  type RunParams,
  type SolverOptionSpec,
  type SolverOptions,
  type SolverResult,
  type SolverState,
  type SolverStatus,
} from "../base.js";
import {
  checkProblem,
  plainProblem,
  problemTree,
  rebuildProblem,
  type PlainQP,
  type QPMatrix,
  type QPProblem,
  type QPSolution,
} from "./problem.js";
import { activeSet, qpResidual } from "./condition.js";
import { kktBackwardFactor } from "./backward.js";
import { equalityKkt } from "./kkt.js";
import type { LuFactors } from "../../linalg/dense/kernels.js";

/**
 * A QP solver's run did not end with a solution: `status` says why ("primalInfeasible": no point satisfies the
 * constraints; "dualInfeasible": the objective is unbounded below on them; "maxIterReached"; "diverged").
 *
 * @example
 * ```ts
 * import { InteriorPointQP, QPError, tensor } from "diffopt";
 * // x ≤ −1 and x ≥ 1: no feasible point
 * const problem = { Q: tensor([[1]]), c: tensor([0]), G: tensor([[1], [-1]]), h: tensor([-1, -1]) };
 * try { new InteriorPointQP().run(undefined, problem); } catch (e) { console.log((e as QPError).status); } // primalInfeasible
 * ```
 */
export class QPError extends DiffoptError {
  /** How the run ended. */
  readonly status: SolverStatus;
  constructor(message: string, status: SolverStatus) {
    super(message);
    this.status = status;
  }
}

/** Options shared by the QP solvers. */
export interface QPOptions extends Omit<SolverOptions, "implicitDiff"> {
  /**
   * Throw a {@link QPError} naming the status when a run does not converge (infeasible, unbounded, out of
   * iterations, diverged) (default true). With false, `run` returns the last iterate and `state.status`.
   */
  throwOnFailure?: boolean;
}

/** @internal The option names of {@link QPOptions} beyond the shared solver options. */
export const QP_OPTION_KEYS = ["throwOnFailure"] as const satisfies readonly (keyof QPOptions)[];

/** The state of every QP solver. */
export interface QPState extends SolverState {
  /**
   * Indices of the degenerate inequalities at the returned point (multiplier and slack both ≈ 0: strict
   * complementarity fails). Their derivative is one-sided: they are treated as inactive (see the guide).
   */
  degenerate: number[];
  /**
   * The constraints treated as active by the derivative, one entry per inequality row: 1 active, 0 inactive
   * (`BoxOSQP`: +1 upper bound active, −1 lower bound active, 0 neither).
   */
  active: Float64Array;
}

const FAILURE_HINTS: Partial<Record<SolverStatus, string>> = {
  primalInfeasible: "the constraints have no common point (a Farkas certificate was found)",
  dualInfeasible: "the objective is unbounded below on the feasible set (a direction of unbounded descent was found)",
  maxIterReached: "raise maxIter or loosen tol",
  diverged: "the iterates became non-finite; check the problem's scaling",
};

/**
 * Base class of the QP solvers: subclasses implement `init`/`update` on plain values, the residual of
 * their active-set KKT conditions and the classification of the final point.
 */
export abstract class QPSolverBase<S extends QPState, P extends object, X extends object> extends Solver<S> {
  /** Type-level only: `run`'s params are the primal–dual solution X, whatever the warm start's type. */
  declare readonly solutionType?: X;
  /** Throw a `QPError` when a run does not converge. */
  readonly throwOnFailure: boolean;

  /** `keys` are the solver's own option names (the shared QP options are added). */
  protected constructor(
    name: string,
    opts: QPOptions & { implicitDiff?: unknown },
    defaults: { tol: number },
    keys: readonly string[],
  ) {
    if (opts.implicitDiff === false) {
      throw new ValueError(
        `${name}: implicitDiff: false (unrolling) is not supported: the QP solvers iterate on plain values and are differentiated through their KKT conditions`,
      );
    }
    const spec: SolverOptionSpec = { keys: [...QP_OPTION_KEYS, ...keys] };
    super(name, { ...opts, tol: opts.tol ?? defaults.tol, implicitDiff: true }, spec);
    this.throwOnFailure = opts.throwOnFailure ?? true;
  }

  /**
   * The first iterate of a run from the warm start `init` (undefined: the solver's own starting point); `run`
   * starts its loop there, and step-by-step use starts with `init(initParams(init, problem), problem)`.
   */
  abstract initParams(init: Partial<X> | undefined, problem: P): X;

  /** Checks the problem; returns it unchanged (subclasses may normalise it). */
  protected abstract checked(problem: P): P;

  /**
   * The active-set KKT residual at `params` (differentiable), `active` the indicator of the active rows (a tensor
   * with one entry per row, batched under `vmap`; see `QPState.active`).
   */
  protected abstract residual(params: X, problem: P, active: Tensor): Tree;

  /** The active set and degenerate constraints of a point (read on its values) solved to KKT error `accuracy`. */
  protected abstract classify(params: X, problem: P, accuracy: number): Pick<QPState, "active" | "degenerate">;

  /** The active-set KKT conditions at `params`, with the active set read from `params` itself. */
  optimalityFun(params: X, problem: P): Tree {
    const p = this.checked(problem);
    const { active } = this.classify(params, p, this.tol);
    return this.residual(params, p, new TensorClass(active, [active.length]));
  }

  protected implicitHints(): ImplicitOptions {
    return { symmetric: true };
  }

  /**
   * The factors of a polished solution's KKT system [[Qₛ, Cᵀ], [C, 0]] and the constraint `rows` of C, recorded
   * by the solver that polished (`InteriorPointQP`, `OSQP`: C = [A; G_rows]; `BoxOSQP`: C = A_rows) for the
   * backward pass.
   */
  protected readonly polishedKkt = new WeakMap<X, { factors: LuFactors; rows: number[] }>();

  /**
   * A factorisation of the backward matrix at the solution `params` of `problem` (with its final `state`) that
   * the run already has, or undefined (default): the backward pass then rebuilds the matrix.
   */
  protected backwardFactor(_params: X, _problem: P, _state: S): BackwardFactor | undefined {
    return undefined;
  }

  /**
   * Solves the problem from `init` (a warm start shaped like `params`, or undefined) and returns
   * `{ params, state }`; `params` is differentiable with respect to every tensor of the problem. Under `vmap` every
   * batch element is solved on its own (`state.batch`) and differentiated on its own active set, whatever the
   * nesting with derivative transforms (`vmap(grad(f))`, `grad(vmap(f))`, `jacrev(vmap(f))`, …).
   */
  override run(init: Partial<X> | undefined, problem: P): SolverResult<S, X>;
  override run<T>(init: T, ...args: unknown[]): SolverResult<S, RunParams<this, T>>;
  override run(init: Partial<X> | undefined, problem: P): SolverResult<S, X> {
    // A malformed problem is left to `checked`, which names the bad field.
    const like = isProblemTree(problem) ? problem : this.checked(problem);
    const tree = problemTree(like as Record<string, QPMatrix | undefined>);
    // The factorisations of this call's solves, by `Byproduct.run`.
    const factors: (() => BackwardFactor | undefined)[] = [];
    const solveOne = (x0: Tree, t: Record<string, Tree>): { params: Tree; state: S } => {
      const p = this.checked(rebuildProblem(t, like));
      const r = this.loop(this.initParams((x0 ?? undefined) as Partial<X> | undefined, p) as Tree, [p as Tree]);
      const state = { ...r.state, ...this.classify(r.params as X, p, r.state.error) } as S;
      if (state.status !== "converged" && this.throwOnFailure) {
        throw new QPError(
          `${this.name}: the run ended with status "${state.status}" after ${state.iterNum} iterations (error ${state.error.toExponential(3)}): ${FAILURE_HINTS[state.status]}. Pass throwOnFailure: false to get the status instead.`,
          state.status,
        );
      }
      factors.push(() => this.backwardFactor(r.params as X, p, state));
      const by: Byproduct = {
        active: new TensorClass(state.active, [state.active.length]),
        run: scalar(factors.length - 1),
      };
      return { params: { x: r.params as Tree, by } as unknown as Tree, state };
    };
    // The solve reads numbers, so it runs on the values (derivative levels dropped), once per element of every
    // vmap among them: at the top (`vmap(f)`) or under a derivative transform (`vmap(grad(f))`).
    const solveAll = (x0: Tree, [t]: Tree[]): { params: Tree; state: S } =>
      batchedRun(this.name, solveAll, x0, [t]) ?? solveOne(x0, t as Record<string, Tree>);
    const solved = solveAll(stopGradient((init ?? null) as Tree), [stopGradient(tree)]);
    const { x, by } = solved.params as unknown as { x: X; by: Byproduct };
    // The condition reads the byproduct (the active set, one per element) as an argument: under vmap it is a
    // batched tensor like the problem, and each element's derivative uses its own.
    const F = (sol: X, t: Record<string, Tree>, b: Byproduct): Tree =>
      this.residual(sol, rebuildProblem(t, like), b.active);
    // An explicitly chosen backward solver is respected: the factorisation serves the default choice only.
    const reuse = (this.implicitOptions.solve ?? "auto") === "auto";
    const opts: ImplicitOptions = {
      ...this.implicitHints(),
      // asked with one element's plain values: its own solve's factors
      ...(reuse ? { backwardFactor: (_x: X, _t: unknown, b: Byproduct) => factors[b.run.item()]?.() } : {}),
      ...this.implicitOptions,
    };
    // The solve has run: the layer's "solver" hands back its solution, and customRoot attaches the derivative.
    const params = solverRoot(F, opts, "customRoot")((solution: X, ..._problem: unknown[]) => solution)(
      x,
      tree,
      by,
    ) as X;
    return { params, state: solved.state };
  }
}

/**
 * What the implicit condition of a QP run reads besides the problem: the byproduct of the solve, batched like the
 * problem under `vmap` (one entry per element).
 */
interface Byproduct {
  /** The active set of the derivative (`state.active`). */
  active: Tensor;
  /** Which solve of the call it is (the index of its backward factorisation). */
  run: Tensor;
}

/** True when `problem` is an object of tensors and operators (possibly batched or traced), as `problemTree` takes. */
function isProblemTree(problem: unknown): boolean {
  if (problem === null || typeof problem !== "object") return false;
  return Object.values(problem).every(
    (v) => v === undefined || v instanceof TensorClass || v instanceof LinearOperator,
  );
}

/** @internal Plain copies of the parts of a warm start, or undefined. */
export function warmPart(init: object | undefined, key: string, size: number): Float64Array | undefined {
  const t = (init as Record<string, Tensor | undefined> | undefined)?.[key];
  if (t === undefined || t === null) return undefined;
  if (t.size !== size) {
    throw new ValueError(`QP solvers: init.${key} must have ${size} entries (a warm start shaped like params)`);
  }
  return Float64Array.from(t.raw);
}

/**
 * Base of the solvers of the standard form { Q, c, A?, b?, G?, h? } with params
 * { primal, dualEq, dualIneq }: the checks, the plain view (cached per problem object) and the condition.
 */
export abstract class StandardQPSolver<S extends QPState> extends QPSolverBase<S, QPProblem, QPSolution> {
  private readonly plainCache = new WeakMap<QPProblem, PlainQP>();

  protected checked(problem: QPProblem): QPProblem {
    checkProblem(problem, this.name);
    return problem;
  }

  /** @internal The plain view of `problem` (built once per problem object). */
  protected plain(problem: QPProblem): PlainQP {
    let p = this.plainCache.get(problem);
    if (p === undefined) {
      p = plainProblem(problem, checkProblem(problem, this.name));
      this.plainCache.set(problem, p);
    }
    return p;
  }

  /**
   * The backward factorisation of a solution: a polished solution's KKT factors when their rows are the active
   * set; without inequalities, [[Qₛ, Aᵀ], [A, 0]], factorised once per dense problem (by
   * `EqualityConstrainedQP`'s direct solve, or here on first use). Operator problems rebuild M matrix-free.
   */
  protected override backwardFactor(params: QPSolution, problem: QPProblem, state: S): BackwardFactor | undefined {
    const p = this.plain(problem);
    if (p.m > 0) {
      const kkt = this.polishedKkt.get(params);
      return kkt && kktBackwardFactor(p, kkt.factors, kkt.rows, state.active);
    }
    const kkt = p.Q.isDense && (p.A === null || p.A.isDense) ? equalityKkt(p) : null;
    // a regularised factorisation belongs to a singular system, whose derivative must fail, not be refined
    return kkt && !kkt.regularized ? kktBackwardFactor(p, kkt, [], new Float64Array(0)) : undefined;
  }

  protected residual(params: QPSolution, problem: QPProblem, active: Tensor): Tree {
    return qpResidual(params, problem, active) as unknown as Tree;
  }

  protected classify(params: QPSolution, problem: QPProblem, accuracy: number): Pick<QPState, "active" | "degenerate"> {
    const p = this.plain(problem);
    if (p.G === null) return { active: new Float64Array(0), degenerate: [] };
    const gx = p.G.mv(params.primal.raw);
    const slack = p.h.map((h, i) => h - gx[i]!);
    return activeSet(params.dualIneq!.raw, slack, accuracy);
  }
}

/** @internal The params of a standard-form solution from plain vectors. */
export function solutionOf(p: PlainQP, x: Float64Array, nu: Float64Array, lam: Float64Array): QPSolution {
  return {
    primal: new TensorClass(x, [p.n]),
    dualEq: p.A === null ? undefined : new TensorClass(nu, [p.p]),
    dualIneq: p.G === null ? undefined : new TensorClass(lam, [p.m]),
  };
}
