/**
 * Broyden's ("good") quasi-Newton method for F(x, ...args) = 0: a dense approximation H of the inverse Jacobian,
 * corrected by a rank-one update after every step, with a backtracking search on ‖F‖ for globalisation.
 * @module
 */
import { ValueError } from "../core/errors.js";
import { Tensor, eye } from "../core/tensor.js";
import { jacfwd, stopGradient } from "../core/transforms.js";
import type { Tree } from "../core/tree.js";
import { matmul, outer } from "../core/ops/matmul.js";
import { dot } from "../core/ops/matmul.js";
import { inv } from "../linalg/dense/lu.js";
import { LinearSolveError } from "../linalg/dense/errors.js";
import { type SolverOptions, type SolverResult, type SolverState } from "./base.js";
import { allFinite } from "../implicit/root.js";
import { countOption, isConcrete, normOf, unitIntervalOption } from "./common.js";
import { RootFinder, raveler, type Raveler, type VectorFieldFn } from "./families.js";

/** Options of {@link Broyden}. */
export interface BroydenOptions extends SolverOptions {
  /** F(x, ...args), a pytree shaped like x, whose root is sought. */
  fun: VectorFieldFn;
  /**
   * The first inverse-Jacobian approximation: `"exact"` (default) inverts the Jacobian of F at `init` (n JVPs
   * and one LU, falling back to the identity when it is singular); `"identity"` starts from H = I (no Jacobian,
   * for F close to the identity or when JVPs of F are expensive).
   */
  initialJacobian?: "exact" | "identity";
  /** Backtracking: factor applied to a rejected step (default 0.5). */
  decreaseFactor?: number;
  /** Backtracking: trial steps per search before the inverse Jacobian is reset (default 20). */
  maxBacktrackingIter?: number;
}

/** The state of {@link Broyden}. */
export interface BroydenState extends SolverState {
  /** F at the current iterate (a pytree shaped like x). */
  residual: Tree;
  /** The inverse-Jacobian approximation H (n × n, n the number of entries of x). */
  invJacobian: Tensor;
  /** The last step size accepted by the search (1: a full quasi-Newton step). */
  stepsize: number;
  /** Why the run stopped, when its status is "stalled". */
  message?: string;
}

/** Sufficient decrease of the search: ‖F(x + tp)‖ ≤ (1 − c·t)‖F(x)‖. */
const DECREASE = 1e-4;

/**
 * Broyden's good method for a root of F(x, ...args) (x any pytree, F shaped like x): the step is p = −H·F(x)
 * with H an approximation of the inverse Jacobian, searched backwards from t = 1 until ‖F‖ decreases
 * sufficiently, then H is corrected by the Sherman–Morrison form of Broyden's rank-one update
 * H ← H + (s − Hy)(sᵀH)/(sᵀHy), with s the step and y the change in F. When no step of the search decreases ‖F‖,
 * H is reset to the inverse of the exact Jacobian and the search repeated; when that fails too (x is near a local
 * minimum of ‖F‖ that is not a root, where the Jacobian is singular), the run stops with status "stalled" and
 * `state.message` says why.
 * `error` is ‖F(x)‖. Dense H: suited to up to a few hundred unknowns. Differentiated through F(x*) = 0.
 *
 * @example
 * ```ts
 * import { Broyden, grad, sub, mul, tensor } from "diffopt";
 * // x² = a, elementwise: x*(a) = √a, with derivative 1 / (2√a)
 * const solver = new Broyden({ fun: (x, a) => sub(mul(x, x), a), tol: 1e-12 });
 * solver.run(tensor([1, 1]), tensor([4, 9])).params.toArray(); // ≈ [2, 3]
 * grad((a) => solver.run(tensor([1, 1]), a).params.sum())(tensor([4, 9])).toArray(); // ≈ [0.25, 0.1666666667]
 * ```
 */
export class Broyden extends RootFinder<BroydenState> {
  readonly initialJacobian: "exact" | "identity";
  readonly decreaseFactor: number;
  readonly maxBacktrackingIter: number;

  constructor(opts: BroydenOptions) {
    super("Broyden", opts?.fun, opts, {
      keys: ["fun", "initialJacobian", "decreaseFactor", "maxBacktrackingIter"] satisfies (keyof BroydenOptions)[],
      functions: ["fun"],
    });
    const ij = opts.initialJacobian ?? "exact";
    if (ij !== "exact" && ij !== "identity")
      throw new ValueError(`${this.name}: initialJacobian must be "exact" or "identity", got ${String(ij)}`);
    this.initialJacobian = ij;
    this.decreaseFactor = unitIntervalOption(opts.decreaseFactor ?? 0.5, this.name, "decreaseFactor");
    this.maxBacktrackingIter = countOption(opts.maxBacktrackingIter, 20, this.name, "maxBacktrackingIter");
  }

  /** The inverse of the exact Jacobian of F at x (the identity when it is singular). */
  private exactInverse(x: Tree, r: Raveler, args: readonly Tree[]): Tensor {
    const J = jacfwd((v: Tensor) => r.ravel(this.fun(r.unravel(v), ...args), "fun(x, ...args)"))(
      r.ravel(x, "x"),
    ) as Tensor;
    try {
      return inv(J);
    } catch (e) {
      if (e instanceof LinearSolveError) return eye(r.size);
      throw e;
    }
  }

  // `any`: each solver narrows the step-by-step methods' params and arguments (see `Solver.init` in base.ts).
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  init(init: any, ...args: any[]): BroydenState {
    const r = raveler(init, this.name);
    const residual = this.fun(init, ...args);
    r.ravel(residual, "fun(x, ...args)");
    // A non-finite F stops the run at iteration 0 (see `Solver`), before any Jacobian of it is inverted.
    const exact = this.initialJacobian === "exact" && allFinite(residual);
    const invJacobian = exact ? this.exactInverse(init, r, args) : eye(r.size);
    return { iterNum: 0, error: normOf(residual), status: "maxIterReached", residual, invJacobian, stepsize: 1 };
  }

  /** Backtracking on plain values from t = 1 along p; the accepted step and F there, or null when none decreases ‖F‖. */
  private search(x: Tensor, p: Tensor, f0: number, r: Raveler, args: readonly Tree[]): [number, Tree] | null {
    const plainArgs = stopGradient([...args] as Tree) as Tree[];
    let t = 1;
    for (let i = 0; i < this.maxBacktrackingIter; i++) {
      const ft = this.fun(r.unravel(x.add(p.mul(t))), ...plainArgs);
      if (normOf(ft) <= (1 - DECREASE * t) * f0) return [t, ft];
      t *= this.decreaseFactor;
    }
    return null;
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  update(params: any, state: BroydenState, ...args: any[]): SolverResult<BroydenState> {
    const r = raveler(params, this.name);
    const x = r.ravel(params, "params");
    const f = r.ravel(state.residual, "fun(x, ...args)");
    let H = state.invJacobian;
    let p = matmul(H, f).neg();
    let found = this.search(stopGradient(x), stopGradient(p), state.error, r, args);
    if (found === null) {
      // H no longer gives a descent direction for ‖F‖: restart from the exact Jacobian (a Newton step).
      H = this.exactInverse(params, r, args);
      p = matmul(H, f).neg();
      found = this.search(stopGradient(x), stopGradient(p), state.error, r, args);
      if (found === null) {
        const message =
          `${this.name}: stalled at iteration ${state.iterNum + 1} with ‖F‖ = ${state.error}: no step along the ` +
          `Newton direction (${this.maxBacktrackingIter} trials down to ${this.decreaseFactor ** (this.maxBacktrackingIter - 1)}) ` +
          `decreases ‖F‖, so x is near a local minimum of ‖F‖ that is not a root (the Jacobian is singular there); ` +
          `start from another point`;
        return { params, state: { ...state, iterNum: state.iterNum + 1, invJacobian: H, status: "stalled", message } };
      }
    }
    const [t] = found;
    const s = p.mul(t);
    const next = r.unravel(x.add(s));
    // The search's plain F is reused unless the iteration is traced (unrolled derivatives).
    const residual = isConcrete(next) && isConcrete(args) ? found[1] : this.fun(next, ...args);
    const y = r.ravel(residual, "fun(x, ...args)").sub(f);
    const Hy = matmul(H, y);
    const sHy = dot(s, Hy);
    // Skip the update when sᵀHy ≈ 0 (it would blow H up); H then stays as it was.
    const sHyValue = stopGradient(sHy).item();
    const scaleOf = normOf(s) * normOf(Hy);
    if (Math.abs(sHyValue) > 1e-12 * scaleOf) H = H.add(outer(s.sub(Hy), matmul(s, H)).div(sHy));
    return {
      params: next,
      state: {
        iterNum: state.iterNum + 1,
        error: normOf(residual),
        status: state.status,
        residual,
        invJacobian: H,
        stepsize: t,
      },
    };
  }
}
