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
 * @module
 */
import { DifferentiationError, NonFiniteError, ValueError } from "../core/errors.js";
import { stopGradient } from "../core/transforms.js";
import { flatten, type Tree } from "../core/tree.js";
import { customRoot, type ImplicitOptions } from "../implicit/root.js";

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
}

/** The result of `update` and `run`. */
export interface SolverResult<S extends SolverState = SolverState> {
  params: any;
  state: S;
}

/** Options shared by every solver. */
export interface SolverOptions {
  /** Maximum number of updates (default 500). */
  maxIter?: number;
  /** Stop when the solver's error is ≤ tol (default 1e-6). */
  tol?: number;
  /** Print the error and value after every update (default false). */
  verbose?: boolean;
  /** Called with the (plain or traced) params and the state after every update. */
  callback?: (params: any, state: SolverState) => void;
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

function positiveInteger(v: number, who: string, name: string): number {
  if (!Number.isInteger(v) || v < 0) throw new ValueError(`${who}: ${name} must be a non-negative integer, got ${v}`);
  return v;
}

/** @internal True when every leaf of `t` is finite. */
export function allFinite(t: Tree): boolean {
  for (const l of flatten(t)[0]) for (let i = 0; i < l.raw.length; i++) if (!Number.isFinite(l.raw[i]!)) return false;
  return true;
}

/**
 * Base class of the solvers. A subclass implements `init`, `update`, `optimalityFun` and the structure hints of
 * its condition (`implicitHints`); `run`, the stopping rule and the implicit wiring live here. Every solver
 * can be driven step by step with `init` and `update`, or run to convergence with `run`.
 *
 * @example
 * ```ts
 * import { GradientDescent, objective, tensor } from "diffopt";
 * const data = [tensor([[1, 0], [0, 2]]), tensor([1, 2])];
 * const solver = new GradientDescent({ fun: objective.ridgeRegression, stepsize: 0.5 });
 * let params = tensor([0, 0]);
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
  readonly callback: ((params: any, state: SolverState) => void) | undefined;
  /** Differentiate `run` implicitly (true) or through the unrolled iterations (false). */
  readonly implicitDiff: boolean;
  /** Throw a `NonFiniteError` on a non-finite iterate (true) or stop with status "diverged" (false). */
  readonly throwOnDiverge: boolean;
  /** Options of the implicit backward solve (solver, tolerances, policy, diagnostics). */
  readonly implicitOptions: ImplicitOptions;

  protected constructor(name: string, opts: SolverOptions) {
    this.name = name;
    this.maxIter = positiveInteger(opts.maxIter ?? 500, name, "maxIter");
    const tol = opts.tol ?? 1e-6;
    if (!(tol >= 0)) throw new ValueError(`${name}: tol must be non-negative, got ${tol}`);
    this.tol = tol;
    this.verbose = opts.verbose ?? false;
    this.callback = opts.callback;
    this.implicitDiff = opts.implicitDiff ?? true;
    this.throwOnDiverge = opts.throwOnDiverge ?? true;
    this.implicitOptions = opts.implicit ?? {};
  }

  /** The initial state at `init`. */
  abstract init(init: any, ...args: any[]): S;

  /** One update from `params` with `state`. */
  abstract update(params: any, state: S, ...args: any[]): SolverResult<S>;

  /** The optimality condition F(params, ...args), zero at a solution (a pytree shaped like params). */
  abstract optimalityFun(params: any, ...args: any[]): Tree;

  /**
   * The condition `run` differentiates implicitly, given the final state of the plain-value loop (so that it
   * may use, e.g., the last step size found by a line search). Defaults to `optimalityFun`.
   */
  protected implicitCondition(_state: S): (x: any, ...args: any[]) => Tree {
    return (x, ...args) => this.optimalityFun(x, ...args);
  }

  /** Structure hints of the backward linear system (symmetric…) for the implicit derivative. */
  protected abstract implicitHints(): ImplicitOptions;

  /**
   * Runs updates from `init` until the error is ≤ `tol`, `maxIter` updates, or divergence. Differentiable with
   * respect to `args` (implicitly by default, by unrolling with `implicitDiff: false`); `init` gets no
   * derivative in implicit mode.
   */
  run(init: any, ...args: any[]): SolverResult<S> {
    if (!this.implicitDiff) return this.loop(init, args);
    if (flatten(args as Tree)[0].every((l) => l.level === 0)) return this.plainRun(init, args);
    let last: S | null = null;
    const solve = (x0: any, ...a: any[]) => {
      const r = this.loop(x0, a);
      last = r.state;
      return r.params;
    };
    // F is first called after the solve, so the final state is known by then.
    const F = (x: any, ...a: any[]): Tree => this.implicitCondition(last!)(x, ...a);
    const params = customRoot(F, { ...this.implicitHints(), ...this.implicitOptions })(solve)(init, ...args);
    return { params, state: last! };
  }

  /**
   * `run` when no argument is traced: nothing to differentiate, so the loop runs without the implicit wiring
   * (which would evaluate the condition once more). A solution that comes out traced all the same depends on a
   * differentiated value the objective closes over, whose derivative the implicit rule would not see: that is
   * the error `customRoot` reports, reported here too.
   */
  private plainRun(init: any, args: readonly any[]): SolverResult<S> {
    const r = this.loop(stopGradient(init as Tree), args);
    if (flatten(r.params as Tree)[0].some((l) => l.level > 0)) {
      throw new DifferentiationError(
        `${this.name}: the solution depends on a value being differentiated that the objective closes over; pass it as an argument of run (after init) so that the implicit derivative sees it`,
      );
    }
    return r;
  }

  /** The update loop on whatever values it is given (plain in implicit mode, traced when unrolling). */
  protected loop(init: any, args: readonly any[]): SolverResult<S> {
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

  private checkStatus(params: any, state: S): S {
    const finite =
      Number.isFinite(state.error) && (state.value === undefined || Number.isFinite(state.value)) && allFinite(params);
    let status: SolverStatus;
    if (state.status === "primalInfeasible" || state.status === "dualInfeasible") status = state.status;
    else if (!finite) {
      if (this.throwOnDiverge) {
        throw new NonFiniteError(
          `${this.name}: diverged at iteration ${state.iterNum} (error ${state.error}${state.value === undefined ? "" : `, value ${state.value}`}, iterate ${allFinite(params) ? "finite" : "not finite"}); try a smaller step size or check the objective`,
        );
      }
      status = "diverged";
    } else if (state.error <= this.tol) status = "converged";
    else if (state.status === "stalled") status = "stalled";
    else status = "maxIterReached";
    return { ...state, status };
  }
}
