/**
 * What every QP solver shares: the `run(init, problem)` entry point, its implicit derivative through the
 * active-set KKT conditions (see `condition.ts`), the failure policy, and the typed error.
 *
 * `run` hands `customRoot` the problem as a pytree of tensors (operators replaced by their params), so the
 * solution is differentiable with respect to every tensor of the problem and every leaf of an operator's params,
 * in forward and reverse mode and to any order. The solver loop runs on plain values; the backward system is
 * the symmetric KKT matrix of the active set. A solver that ends with a factorisation of exactly that matrix
 * hands it back (`backwardFactor`, see `backward.ts`), and first derivatives are then a few triangular solves;
 * otherwise the backward solve is LU (small) or MINRES (large) on the matrix rebuilt by JVPs.
 *
 * @module
 */
import { BatchingError, DiffoptError, ValueError } from "../../core/errors.js";
import { Tensor as TensorClass, isBatched, type Tensor } from "../../core/tensor.js";
import { flatten, type Tree } from "../../core/tree.js";
import { LinearOperator } from "../../linalg/operator.js";
import { batchedRun } from "../batched-run.js";
import { customRoot, type ImplicitOptions } from "../../implicit/root.js";
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

  /** The active-set KKT residual at `params` (differentiable), `active` the 0/1 indicator of active rows. */
  protected abstract residual(params: X, problem: P, active: Float64Array): Tree;

  /** The active set and degenerate constraints of a point (read on its values) solved to KKT error `accuracy`. */
  protected abstract classify(params: X, problem: P, accuracy: number): Pick<QPState, "active" | "degenerate">;

  /** The active-set KKT conditions at `params`, with the active set read from `params` itself. */
  optimalityFun(params: X, problem: P): Tree {
    const p = this.checked(problem);
    return this.residual(params, p, this.classify(params, p, this.tol).active);
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
   * `{ params, state }`; `params` is differentiable with respect to every tensor of the problem.
   */
  override run(init: Partial<X> | undefined, problem: P): SolverResult<S, X>;
  override run<T>(init: T, ...args: unknown[]): SolverResult<S, RunParams<this, T>>;
  override run(init: Partial<X> | undefined, problem: P): SolverResult<S, X> {
    const batched = this.batchedRun(init, problem);
    if (batched !== undefined) return batched;
    const like = this.checked(problem);
    let last: S | null = null;
    let factor = (): BackwardFactor | undefined => undefined;
    const solve = (x0: Partial<X> | undefined, tree: Record<string, Tree>) => {
      const p = rebuildProblem(tree, like);
      const r = this.loop(this.initParams(x0, p) as Tree, [p as unknown as Tree]);
      const state = (last = { ...r.state, ...this.classify(r.params as X, p, r.state.error) });
      factor = () => this.backwardFactor(r.params as X, p, state);
      return r.params as Tree;
    };
    const F = (x: X, tree: Record<string, Tree>): Tree => this.residual(x, rebuildProblem(tree, like), last!.active);
    // An explicitly chosen backward solver is respected: the factorisation serves the default choice only.
    const reuse = (this.implicitOptions.solve ?? "auto") === "auto";
    const opts = {
      ...this.implicitHints(),
      ...(reuse ? { backwardFactor: () => factor() } : {}),
      ...this.implicitOptions,
    };
    const params = customRoot(F, opts)(solve)(init, problemTree(like as Record<string, QPMatrix | undefined>)) as X;
    const state = last! as S;
    if (state.status !== "converged" && this.throwOnFailure) {
      throw new QPError(
        `${this.name}: the run ended with status "${state.status}" after ${state.iterNum} iterations (error ${state.error.toExponential(3)}): ${FAILURE_HINTS[state.status]}. Pass throwOnFailure: false to get the status instead.`,
        state.status,
      );
    }
    return { params, state };
  }

  /**
   * `run` under `vmap` with batched problem tensors or warm start: each element solved on its own with its own
   * state (`state.batch`), as `Solver.run` does; undefined when nothing is batched. The solve reads the values and
   * the implicit derivative uses each element's own active set, so a batch under a derivative transform
   * (`vmap(grad(f))` around the run) throws a `BatchingError` naming the reordering that works.
   */
  private batchedRun(init: Partial<X> | undefined, problem: P): SolverResult<S, X> | undefined {
    if (problem === null || typeof problem !== "object") return undefined;
    const fields = Object.values(problem) as unknown[];
    // A malformed problem is left to `checked`, which names the bad field.
    if (!fields.every((v) => v === undefined || v instanceof TensorClass || v instanceof LinearOperator)) {
      return undefined;
    }
    const tree = problemTree(problem as Record<string, QPMatrix | undefined>);
    const args: Tree[] = [(init ?? null) as Tree, tree];
    const out = batchedRun(
      this.name,
      (x0, [t]) =>
        this.run(
          (x0 ?? undefined) as Partial<X> | undefined,
          rebuildProblem(t as Record<string, Tree>, problem),
        ) as unknown as { params: Tree; state: S },
      args[0]!,
      [args[1]!],
    );
    if (out !== undefined) return out as unknown as SolverResult<S, X>;
    if (flatten(args)[0].some(isBatched)) {
      throw new BatchingError(
        `${this.name}.run: the problem is batched by a vmap outside a derivative transform (as in vmap(grad(f))), and each element's implicit derivative needs that element's own active set: take the derivative outside vmap instead (grad of the sum of the vmapped values gives every element's gradient, since the elements are independent), or jacrev(vmap(f))`,
      );
    }
    return undefined;
  }
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

  protected residual(params: QPSolution, problem: QPProblem, active: Float64Array): Tree {
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
