/**
 * The shape shared by every solver (as in JAXopt): options as fields, `init` / `update` for step-by-step use,
 * `run` for the whole loop, and `optimalityFun` (the condition F(x*, ...args) = 0 of a solution).
 *
 * `run` is differentiable with respect to every argument after `init`:
 * - `implicitDiff: true` (default): the loop runs on plain values and the solution is differentiated by the
 *   implicit function theorem on the solver's condition (through `customRoot`), at the cost of one linear
 *   solve, whatever the number of iterations;
 * - `implicitDiff: false`: the iterations run on the traced values, so autodiff differentiates the unrolled
 *   loop (the baseline). Step sizes chosen by line searches are constants of that derivative.
 *
 * Options are checked when the solver is constructed: a subclass passes the names of its own options (and those
 * that must be functions, such as `fun`) to this constructor as a {@link SolverOptionSpec}, so that a misspelled
 * option (`maxiter`) or a missing `fun` throws a `ValueError` listing the valid ones instead of being ignored:
 *
 * ```
 * const MY_KEYS = ["fun", "stepsize"] as const satisfies readonly (keyof MySolverOptions)[];
 * constructor(opts: MySolverOptions) {
 *   super("MySolver", opts, { keys: MY_KEYS, functions: ["fun"] });
 * }
 * ```
 *
 * @module
 */
import { DifferentiationError, NonFiniteError, ValueError } from "../core/errors.js";
import { checkFunction, checkOptions } from "../core/options.js";
import { stopGradient, type TensorTree } from "../core/transforms.js";
import { flatten, type Tree } from "../core/tree.js";
import { describeValue } from "../core/tensor.js";
import { allFinite, checkImplicitOptions, solverRoot, type ImplicitOptions } from "../implicit/root.js";
import {
  batchedRun,
  batchedUpdates,
  closedOverMessage,
  differentiated,
  type BatchStates,
  type TensorUpdate,
} from "./batched-run.js";

/**
 * How a run ended: "converged", "maxIterReached", "diverged" (a non-finite iterate), "stalled" (the solver cannot
 * make progress: a line search or trust region failed, no descent direction; its state says why), or, for problems
 * with constraints, "primalInfeasible" / "dualInfeasible" (no feasible point / unbounded below, each backed by a
 * certificate; set by the solver's `update`, and final).
 */
export type SolverStatus =
  "converged" | "maxIterReached" | "diverged" | "stalled" | "primalInfeasible" | "dualInfeasible";

/** The state every solver keeps (solvers add their own fields). */
export interface SolverState {
  /** Number of updates taken. */
  iterNum: number;
  /** The solver's error measure at the current iterate (see each solver); the run stops when it is ≤ `tol`. */
  error: number;
  /**
   * "converged" (error ≤ tol), "maxIterReached", "diverged" (a non-finite iterate, value or error), or "stalled"
   * (set by `update` when no progress is possible).
   */
  status: SolverStatus;
  /** The objective value at the current iterate, when the solver computes it. */
  value?: number;
  /**
   * Set by `run` under `vmap`: every batch element's state. The other fields are then those of the worst element
   * (the first that did not converge, else the one with the largest error).
   */
  batch?: BatchStates;
}

/**
 * The result of `update` and `run`: the iterate and the state. `run(init, …)` returns params of the type of `init`
 * (with tensor leaves, see `TensorTree`): a `Tensor` for a tensor `init`, `{ w: Tensor; b: Tensor }` for such a
 * pytree.
 */
export interface SolverResult<S extends SolverState = SolverState, P = Tree> {
  /** The iterate: the solution after `run`. */
  params: P;
  /** The solver's state at `params`. */
  state: S;
}

/**
 * The type of `run(init, …).params`: init's structure with a tensor at every leaf, unless the solver declares a
 * fixed solution type (a QP solver's `{ primal, dualEq, dualIneq }`) through a `solutionType` field.
 */
export type RunParams<This, P> = This extends { readonly solutionType?: infer X }
  ? unknown extends X
    ? TensorTree<P>
    : X
  : TensorTree<P>;

/** Options shared by every solver. */
export interface SolverOptions {
  /** Maximum number of updates (default 500). */
  maxIter?: number;
  /** Stop when the solver's error is ≤ tol (default 1e-6). */
  tol?: number;
  /** Print the error and value after every update (default false). */
  verbose?: boolean;
  /** Called with the (plain or traced) params and the state after every update. */
  callback?: (params: Tree, state: SolverState) => void;
  /** Differentiate `run` implicitly (default true) or by unrolling its iterations (false). */
  implicitDiff?: boolean;
  /**
   * Throw a `NonFiniteError` when an iterate, value or error becomes NaN or infinite (default true). With
   * false, `run` stops and returns the last iterate with status "diverged".
   */
  throwOnDiverge?: boolean;
  /** Options of the implicit backward pass (linear solver, tolerances, failure policy); see `customRoot`. */
  implicit?: ImplicitOptions;
}

/** The options every solver accepts, checked by the {@link Solver} constructor. */
export const SOLVER_OPTION_KEYS = [
  "maxIter",
  "tol",
  "verbose",
  "callback",
  "implicitDiff",
  "throwOnDiverge",
  "implicit",
] as const satisfies readonly (keyof SolverOptions)[];

/**
 * How a solver declares its own options to the {@link Solver} constructor, which checks them: `keys` are the
 * option names it adds to {@link SolverOptions} (tie them to the options interface with
 * `satisfies readonly (keyof MyOptions)[]`), `functions` those that must be given as functions (`fun`).
 */
export interface SolverOptionSpec {
  /** The solver's own option names (the shared options of {@link SolverOptions} are added). */
  readonly keys: readonly string[];
  /** Options that are required and must be functions (e.g. `["fun"]`). */
  readonly functions?: readonly string[];
}

function positiveInteger(v: number, who: string, name: string): number {
  if (!Number.isInteger(v) || v < 0) {
    throw new ValueError(`${who}: ${name} must be a non-negative integer, got ${describeValue(v)}`);
  }
  return v;
}

function booleanOption(v: unknown, fallback: boolean, who: string, name: string): boolean {
  if (v === undefined) return fallback;
  if (typeof v !== "boolean") throw new ValueError(`${who}: ${name} must be true or false, got ${String(v)}`);
  return v;
}

/**
 * @internal Checks a solver's options: a plain object with only the shared and the solver's own keys, its
 * required functions present, and the shared options well-typed. Throws a `ValueError` naming the solver.
 */
export function checkSolverOptions(who: string, opts: unknown, spec: SolverOptionSpec | undefined): void {
  if (opts === undefined || opts === null || typeof opts !== "object") {
    const needs = spec?.functions?.length ? ` with at least ${spec.functions.map((f) => `\`${f}\``).join(", ")}` : "";
    throw new ValueError(`${who}: the options must be an object${needs}, got ${opts === null ? "null" : typeof opts}`);
  }
  if (spec !== undefined) checkOptions(who, opts, [...spec.keys, ...SOLVER_OPTION_KEYS]);
  const o = opts as Record<string, unknown>;
  for (const f of spec?.functions ?? []) checkFunction(o[f], who, `options.${f}`);
  if (o.callback !== undefined) checkFunction(o.callback, who, "options.callback");
  checkImplicitOptions(who, o.implicit as ImplicitOptions | undefined, "options.implicit");
}

/**
 * Base class of the solvers. A subclass implements `init`, `update`, `optimalityFun` and the structure hints of
 * its condition (`implicitHints`); `run`, the stopping rule and the implicit wiring live here. Every solver
 * can be driven step by step with `init` and `update`, or run to convergence with `run`.
 *
 * @example
 * ```ts
 * import { GradientDescent, objective, tensor, type Tree } from "diffopt";
 * const data = [tensor([[1, 0], [0, 2]]), tensor([1, 2])];
 * const solver = new GradientDescent({ fun: objective.ridgeRegression, stepsize: 0.5 });
 * let params: Tree = tensor([0, 0]);
 * let state = solver.init(params, tensor(0.1), data);
 * for (let k = 0; k < 10; k++) ({ params, state } = solver.update(params, state, tensor(0.1), data));
 * console.log(state.iterNum, state.error); // 10, the gradient norm
 * ```
 */
export abstract class Solver<S extends SolverState = SolverState> {
  /** The solver's name, used in messages. */
  readonly name: string;
  /** Largest number of updates `run` takes. */
  readonly maxIter: number;
  /** `run` stops when the error measure is ≤ tol. */
  readonly tol: number;
  /** Print one line per iteration. */
  readonly verbose: boolean;
  /** Called after every update with the iterate and the state. */
  readonly callback: ((params: Tree, state: SolverState) => void) | undefined;
  /** Differentiate `run` implicitly (true) or through the unrolled iterations (false). */
  readonly implicitDiff: boolean;
  /** Throw a `NonFiniteError` on a non-finite iterate (true) or stop with status "diverged" (false). */
  readonly throwOnDiverge: boolean;
  /** Options of the implicit backward solve (solver, tolerances, policy, diagnostics). */
  readonly implicitOptions: ImplicitOptions;

  /**
   * `spec` declares the solver's own options so that unknown ones are rejected; without it only the shared
   * options are checked (a solver should always pass it).
   */
  protected constructor(name: string, opts: SolverOptions, spec?: SolverOptionSpec) {
    checkSolverOptions(name, opts, spec);
    this.name = name;
    this.maxIter = positiveInteger(opts.maxIter ?? 500, name, "maxIter");
    const tol = opts.tol ?? 1e-6;
    if (!(typeof tol === "number" && tol >= 0)) {
      throw new ValueError(`${name}: tol must be a non-negative number, got ${describeValue(tol)}`);
    }
    this.tol = tol;
    this.verbose = booleanOption(opts.verbose, false, name, "verbose");
    this.callback = opts.callback;
    this.implicitDiff = booleanOption(opts.implicitDiff, true, name, "implicitDiff");
    this.throwOnDiverge = booleanOption(opts.throwOnDiverge, true, name, "throwOnDiverge");
    this.implicitOptions = opts.implicit ?? {};
  }

  // The step-by-step methods take `any`: each solver narrows them to its own params and arguments (a QP solver's
  // solution and problem, a scalar for Bisection), which TypeScript could not accept as overrides of `Tree`.

  /** The initial state at `init`. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  abstract init(init: any, ...args: any[]): S;

  /** One update from `params` with `state`. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  abstract update(params: any, state: S, ...args: any[]): SolverResult<S, any>;

  /** The optimality condition F(params, ...args), zero at a solution (a pytree shaped like params). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  abstract optimalityFun(params: any, ...args: any[]): Tree;

  /**
   * The condition `run` differentiates implicitly, given the final state of the plain-value loop (so that it
   * may use, e.g., the last step size found by a line search). Defaults to `optimalityFun`.
   */
  protected implicitCondition(_state: S): (x: Tree, ...args: Tree[]) => Tree {
    return (x, ...args) => this.optimalityFun(x, ...args);
  }

  /** Structure hints of the backward linear system (symmetric…) for the implicit derivative. */
  protected abstract implicitHints(): ImplicitOptions;

  /**
   * @internal The update written with ops only, which `run` under `vmap` batches across elements (see
   * `batched-run.ts`); undefined (the default) when the update reads numbers, e.g. in a line search.
   */
  protected tensorUpdate(): TensorUpdate<S> | undefined {
    return undefined;
  }

  /**
   * Runs updates from `init` until the error is ≤ `tol`, `maxIter` updates, or divergence. Differentiable with
   * respect to `args` (implicitly by default, by unrolling with `implicitDiff: false`); `init` gets no
   * derivative in implicit mode. Under `vmap` every batch element is solved on its own (see `state.batch`).
   */
  run<P>(init: P, ...args: unknown[]): SolverResult<S, RunParams<this, P>> {
    const arithmetic = this.batchedArithmetic(init as Tree, args as Tree[]);
    if (arithmetic !== undefined) return arithmetic as unknown as SolverResult<S, RunParams<this, P>>;
    const batched = batchedRun(this.name, (x0, a) => this.run(x0, ...a), init as Tree, args as Tree[]);
    if (batched !== undefined) return batched as unknown as SolverResult<S, RunParams<this, P>>;
    if (!this.implicitDiff) return this.loop(init as Tree, args as Tree[]) as SolverResult<S, RunParams<this, P>>;
    if (flatten(args as Tree)[0].every((l) => l.level === 0)) {
      return this.plainRun(init as Tree, args as Tree[]) as SolverResult<S, RunParams<this, P>>;
    }
    let last: S | null = null;
    const solve = (x0: Tree, ...a: Tree[]) => {
      const r = this.loop(x0, a);
      last = r.state;
      return r.params;
    };
    // F is first called after the solve, so the final state is known by then.
    const F = (x: Tree, ...a: Tree[]): Tree => this.implicitCondition(last!)(x, ...a);
    const layer = solverRoot(F, { ...this.implicitHints(), ...this.implicitOptions }, "customRoot")(solve);
    return { params: layer(init as Tree, ...(args as Tree[])) as RunParams<this, P>, state: last! };
  }

  /**
   * `run` under `vmap` by batched updates (one update vmapped over the elements per iteration) when the update is
   * arithmetic, the derivative implicit and nothing is called per iteration; undefined otherwise (see
   * `batched-run.ts`). The batched solution gets each element's implicit derivative through `customRoot`, whose
   * solver is then the identity on the precomputed (plain) solution.
   */
  private batchedArithmetic(init: Tree, args: Tree[]): SolverResult<S> | undefined {
    if (!this.implicitDiff || this.verbose || this.callback !== undefined) return undefined;
    const update = this.tensorUpdate();
    if (update === undefined) return undefined;
    const rules = {
      maxIter: this.maxIter,
      init: (x0: Tree, a: Tree[]) => this.checkStatus(x0, this.init(x0, ...a)),
      status: (state: SolverState, paramsFinite: boolean) => this.statusOf(state, paramsFinite),
    };
    const r = batchedUpdates(this.name, update, rules, init, args);
    if (r === undefined || !differentiated(args)) return r;
    // Every element may stop at its own step size: any positive one gives the same root and derivative.
    const F = this.implicitCondition(r.state);
    const layer = solverRoot(
      F,
      { ...this.implicitHints(), ...this.implicitOptions },
      "customRoot",
    )((x: Tree, ..._args: Tree[]) => x);
    return { params: layer(r.params, ...args), state: r.state };
  }

  /**
   * `run` when no argument is traced: nothing to differentiate, so the loop runs without the implicit wiring
   * (which would evaluate the condition once more). A solution that comes out traced all the same depends on a
   * differentiated value the objective closes over, whose derivative the implicit rule would not see: that is
   * the error `customRoot` reports, reported here too.
   */
  private plainRun(init: Tree, args: readonly Tree[]): SolverResult<S> {
    const r = this.loop(stopGradient(init), args);
    if (flatten(r.params as Tree)[0].some((l) => l.level > 0)) {
      throw new DifferentiationError(closedOverMessage(this.name));
    }
    return r;
  }

  /** The update loop on whatever values it is given (plain in implicit mode, traced when unrolling). */
  protected loop(init: Tree, args: readonly Tree[]): SolverResult<S> {
    let params = init;
    let state = this.init(init, ...args);
    state = this.checkStatus(params, state);
    while (state.status === "maxIterReached" && state.iterNum < this.maxIter) {
      ({ params, state } = this.update(params, state, ...args));
      state = this.checkStatus(params, state);
      if (this.verbose) {
        const v = state.value === undefined ? "" : `, value ${state.value}`;
        console.log(`${this.name}: iteration ${state.iterNum}, error ${state.error}${v}`);
      }
      this.callback?.(params, state);
    }
    return { params, state };
  }

  private checkStatus(params: Tree, state: S): S {
    return { ...state, status: this.statusOf(state, allFinite(params)) };
  }

  /** The status of `state` after an update, its iterate finite or not (throws on divergence if asked to). */
  private statusOf(state: SolverState, paramsFinite: boolean): SolverStatus {
    const finite =
      Number.isFinite(state.error) && (state.value === undefined || Number.isFinite(state.value)) && paramsFinite;
    if (state.status === "primalInfeasible" || state.status === "dualInfeasible") return state.status;
    if (!finite) {
      if (this.throwOnDiverge) {
        throw new NonFiniteError(
          `${this.name}: diverged at iteration ${state.iterNum} (error ${state.error}${state.value === undefined ? "" : `, value ${state.value}`}, iterate ${paramsFinite ? "finite" : "not finite"}); try a smaller step size or check the objective`,
        );
      }
      return "diverged";
    }
    if (state.error <= this.tol) return "converged";
    if (state.status === "stalled") return "stalled";
    return "maxIterReached";
  }
}
