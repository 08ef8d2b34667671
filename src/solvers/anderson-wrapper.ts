/**
 * Anderson acceleration of any solver: the solver's `update` from a fresh state is a fixed-point map
 * T(x) = update(x, init(x)).params, and Anderson mixing extrapolates from its last iterates. The wrapped solver
 * keeps its own optimality condition, so the implicit derivative is the same as without acceleration.
 * @module
 */
import { ValueError } from "../core/errors.js";
import { sub } from "../core/tree.js";
import type { ImplicitOptions } from "../implicit/root.js";
import {
  checkSolverOptions,
  Solver,
  type SolverOptionSpec,
  type SolverOptions,
  type SolverResult,
  type SolverState,
} from "./base.js";
import {
  ANDERSON_MIXING_KEYS,
  andersonMix,
  andersonOptions,
  andersonPush,
  type AndersonHistory,
  type AndersonMixingOptions,
} from "./fixed-point.js";
import { raveler } from "./families.js";
import type { Tree } from "../core/tree.js";

/** Options of {@link AndersonWrapper}. */
export interface AndersonWrapperOptions extends SolverOptions, AndersonMixingOptions {
  /** The solver whose updates are accelerated. Its iterates must be allowed anywhere in its domain (see below). */
  solver: Solver;
}

const ANDERSON_WRAPPER_SPEC: SolverOptionSpec = {
  keys: ["solver", ...ANDERSON_MIXING_KEYS] satisfies (keyof AndersonWrapperOptions)[],
};

/** The state of {@link AndersonWrapper}. */
export interface AndersonWrapperState extends SolverState {
  /** The wrapped solver's state at the current iterate (from its `init`). */
  inner: SolverState;
  /** The last `historySize` iterates and residuals update(x) − x (flat vectors). */
  history: AndersonHistory;
}

/**
 * Accelerates any solver by Anderson mixing of its updates (JAXopt's `AndersonWrapper`): T(x) is one update of
 * the wrapped solver from its fresh state at x, and each step combines the last m pairs (xᵢ, T(xᵢ) − xᵢ) as
 * {@link AndersonAcceleration} does. `run(init, ...args)` takes the wrapped solver's arguments; `error` and
 * `value` are the wrapped solver's at the current iterate; the implicit derivative uses the wrapped solver's
 * condition and structure hints. `maxIter` and `tol` default to the wrapped solver's.
 *
 * Each update costs one `init` and one `update` of the wrapped solver (for gradient descent: two gradients).
 * Momentum methods (FISTA, Nesterov) restart from every extrapolated point, so wrap their plain versions.
 * Extrapolated points are affine combinations of iterates: a solver whose iterates must stay in a set
 * (mirror descent on the simplex) rejects them.
 *
 * @example
 * ```ts
 * import { AndersonWrapper, GradientDescent, objective, tensor } from "diffopt";
 * const X = tensor([[1, 0], [0, 10], [1, 1]]);
 * const y = tensor([1, 2, 3]);
 * const gd = new GradientDescent({ fun: objective.ridgeRegression, stepsize: 0.01, tol: 1e-8, maxIter: 5000 });
 * const fast = new AndersonWrapper({ solver: gd, historySize: 5 });
 * const slow = gd.run(tensor([0, 0]), tensor(0.1), [X, y]).state.iterNum;
 * console.log(fast.run(tensor([0, 0]), tensor(0.1), [X, y]).state.iterNum < slow / 10); // true
 * ```
 */
export class AndersonWrapper extends Solver<AndersonWrapperState> {
  readonly solver: Solver;
  readonly historySize: number;
  readonly beta: number;
  readonly ridge: number;

  constructor(opts: AndersonWrapperOptions) {
    checkSolverOptions("AndersonWrapper", opts, ANDERSON_WRAPPER_SPEC);
    const inner: unknown = opts.solver;
    if (!(inner instanceof Solver)) {
      throw new ValueError(
        `AndersonWrapper: options.solver must be a solver (e.g. a GradientDescent), got ${inner === null ? "null" : typeof inner}`,
      );
    }
    super("AndersonWrapper", { maxIter: inner.maxIter, tol: inner.tol, ...opts }, ANDERSON_WRAPPER_SPEC);
    this.solver = inner;
    ({ historySize: this.historySize, beta: this.beta, ridge: this.ridge } = andersonOptions(opts, this.name));
  }

  private wrap(inner: SolverState, history: AndersonHistory, iterNum: number): AndersonWrapperState {
    return {
      iterNum,
      error: inner.error,
      status: "maxIterReached",
      ...(inner.value === undefined ? {} : { value: inner.value }),
      inner,
      history,
    };
  }

  // `any`: each solver narrows the step-by-step methods' params and arguments (see `Solver.init` in base.ts).
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  init(init: any, ...args: any[]): AndersonWrapperState {
    return this.wrap(this.solver.init(init, ...args), { xs: [], residuals: [] }, 0);
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  update(params: any, state: AndersonWrapperState, ...args: any[]): SolverResult<AndersonWrapperState> {
    const r = raveler(params, this.name);
    const tx: Tree = this.solver.update(params, state.inner, ...args).params;
    const history = andersonPush(
      state.history,
      r.ravel(params, "params"),
      r.ravel(sub(tx, params), "the wrapped solver's update"),
      this.historySize,
    );
    const x = r.unravel(andersonMix(history, this.beta, this.ridge));
    return { params: x, state: this.wrap(this.solver.init(x, ...args), history, state.iterNum + 1) };
  }

  /** The wrapped solver's optimality condition. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  optimalityFun(params: any, ...args: any[]): Tree {
    return this.solver.optimalityFun(params, ...args);
  }

  // The wrapped solver's condition and hints are protected members of another instance; element access is
  // TypeScript's sanctioned way to reach them from a wrapper of the same base class.
  protected override implicitCondition(state: AndersonWrapperState): (x: Tree, ...args: Tree[]) => Tree {
    return this.solver["implicitCondition"](state.inner);
  }

  protected implicitHints(): ImplicitOptions {
    return this.solver["implicitHints"]();
  }
}
