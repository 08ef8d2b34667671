/**
 * `EqualityConstrainedQP`: min ½xᵀQx + cᵀx s.t. Ax = b, solved in one step from its KKT system
 * [[Q, Aᵀ], [A, 0]] [x; ν] = [−c; b]: a dense LU factorisation when Q and A are tensors, MINRES (the system is
 * symmetric indefinite) when either is a LinearOperator. Each further `update` is a step of iterative
 * refinement (a solve with the residual), so `run` stops after the direct solve unless it misses `tol`.
 *
 * @module
 */
import { ValueError } from "../../core/errors.js";
import { Tensor } from "../../core/tensor.js";
import { LinearOperator } from "../../linalg/operator.js";
import { linearSolve } from "../../linalg/solve.js";
import { luSolve } from "../../linalg/dense/kernels.js";
import { StandardQPSolver, solutionOf, type QPOptions, type QPState } from "./base.js";
import { axpy, equalityKkt, kktResiduals } from "./kkt.js";
import { dotPlain, normInf, type PlainQP, type QPProblem, type QPSolution } from "./problem.js";

/** Options of {@link EqualityConstrainedQP}. */
export interface EqualityConstrainedQPOptions extends QPOptions {
  /** Stop when the scaled KKT residual is ≤ tol (default 1e-10). */
  tol?: number;
  /** Maximum number of refinement steps after the direct solve (default 5). */
  maxIter?: number;
  /**
   * Linear solver of the KKT system: "direct" (dense LU) or "minres" (matrix-free). Default: "direct" when Q and
   * A are tensors, "minres" when either is a LinearOperator.
   */
  solve?: "direct" | "minres";
}

/**
 * The exact solution of an equality-constrained QP, min ½xᵀQx + cᵀx s.t. Ax = b, with its multipliers ν,
 * differentiable with respect to Q, c, A and b (and operators' params). Needs Q positive definite on the null
 * space of A and A of full row rank; rejects inequalities (use `InteriorPointQP` or `OSQP`).
 *
 * @example
 * ```ts
 * import { EqualityConstrainedQP, grad, dot, tensor, type Tensor } from "diffopt";
 * // min ½‖x‖² s.t. x₀ + x₁ = 1: x* = [0.5, 0.5], ν* = −0.5
 * const problem = { Q: tensor([[1, 0], [0, 1]]), c: tensor([0, 0]), A: tensor([[1, 1]]), b: tensor([1]) };
 * const { params } = new EqualityConstrainedQP().run(undefined, problem);
 * params.primal.toArray(); // ≈ [0.5, 0.5]
 * params.dualEq!.toArray(); // ≈ [-0.5]
 * // x* = [b + c₁ − c₀, b + c₀ − c₁] / 2: the gradient of x₀* − x₁* in c
 * const gap = (c: Tensor) => {
 *   const x = new EqualityConstrainedQP().run(undefined, { ...problem, c }).params.primal;
 *   return dot(x, tensor([1, -1]));
 * };
 * grad(gap)(problem.c).toArray(); // ≈ [-1, 1]
 * ```
 */
export class EqualityConstrainedQP extends StandardQPSolver<QPState> {
  /** The KKT solver requested ("direct" / "minres"), or undefined for the default by problem type. */
  readonly solve: "direct" | "minres" | undefined;

  constructor(opts: EqualityConstrainedQPOptions = {}) {
    super("EqualityConstrainedQP", { maxIter: 5, ...opts }, { tol: 1e-10 }, [
      "solve",
    ] satisfies (keyof EqualityConstrainedQPOptions)[]);
    if (opts.solve !== undefined && opts.solve !== "direct" && opts.solve !== "minres") {
      throw new ValueError(`EqualityConstrainedQP: solve must be "direct" or "minres", got ${String(opts.solve)}`);
    }
    this.solve = opts.solve;
  }

  protected override checked(problem: QPProblem): QPProblem {
    super.checked(problem);
    if (problem.G !== undefined) {
      throw new ValueError(
        "EqualityConstrainedQP: problem.G is given, but this solver handles equality constraints only; use InteriorPointQP or OSQP for inequalities",
      );
    }
    return problem;
  }

  initParams(_init: unknown, problem: QPProblem): QPSolution {
    const p = this.plain(problem);
    const rhs = new Float64Array(p.n + p.p);
    for (let i = 0; i < p.n; i++) rhs[i] = -p.c[i]!;
    rhs.set(p.b, p.n);
    const sol = this.kktSolve(p, rhs);
    return solutionOf(p, sol.slice(0, p.n), sol.slice(p.n), new Float64Array(0));
  }

  init(params: QPSolution, problem: QPProblem): QPState {
    return this.stateAt(this.plain(problem), params, 0);
  }

  update(params: QPSolution, state: QPState, problem: QPProblem) {
    const p = this.plain(problem);
    const { rd, re } = residualsOf(p, params);
    const rhs = new Float64Array(p.n + p.p);
    for (let i = 0; i < p.n; i++) rhs[i] = -rd[i]!;
    for (let i = 0; i < p.p; i++) rhs[p.n + i] = -re[i]!;
    const d = this.kktSolve(p, rhs);
    const x = Float64Array.from(params.primal.raw);
    const nu = params.dualEq ? Float64Array.from(params.dualEq.raw) : new Float64Array(0);
    axpy(1, d.subarray(0, p.n), x);
    axpy(1, d.subarray(p.n), nu);
    const next = solutionOf(p, x, nu, new Float64Array(0));
    return { params: next, state: this.stateAt(p, next, state.iterNum + 1) };
  }

  private stateAt(p: PlainQP, params: QPSolution, iterNum: number): QPState {
    const { rd, re } = residualsOf(p, params);
    const error = Math.max(normInf(rd) / (1 + normInf(p.c)), normInf(re) / (1 + normInf(p.b)));
    const x = params.primal.raw;
    const value = 0.5 * dotPlain(x, p.Q.mv(x)) + dotPlain(p.c, x);
    return { iterNum, error, status: "maxIterReached", value, degenerate: [], active: new Float64Array(0) };
  }

  /** Solves [[Q, Aᵀ], [A, 0]] z = rhs, densely or by MINRES. */
  private kktSolve(p: PlainQP, rhs: Float64Array): Float64Array {
    const matrixFree = this.solve ?? (p.Q.isDense && (p.A === null || p.A.isDense) ? "direct" : "minres");
    if (matrixFree === "direct") return luSolve(equalityKkt(p), p.n + p.p, rhs);
    const mv = (_: null, v: { x: Tensor; nu: Tensor }) => {
      const top = p.Q.mv(v.x.raw);
      if (p.A) axpy(1, p.A.rmv(v.nu.raw), top);
      return { x: new Tensor(top, [p.n]), nu: new Tensor(p.A ? p.A.mv(v.x.raw) : new Float64Array(0), [p.p]) };
    };
    const example = { x: new Tensor(new Float64Array(p.n), [p.n]), nu: new Tensor(new Float64Array(p.p), [p.p]) };
    const op = LinearOperator.fromFunction(mv, null, example, { rmatvec: mv, tags: { symmetric: true } });
    const b = { x: new Tensor(rhs.slice(0, p.n), [p.n]), nu: new Tensor(rhs.slice(p.n), [p.p]) };
    const { value } = linearSolve(op, b, { solver: "minres", rtol: 1e-12, maxIter: 20 * (p.n + p.p) + 100 });
    const out = new Float64Array(p.n + p.p);
    out.set(value.x.raw);
    out.set(value.nu.raw, p.n);
    return out;
  }
}

/** r_d = Qx + c + Aᵀν and r_e = Ax − b on plain values. */
function residualsOf(p: PlainQP, params: QPSolution) {
  const none = new Float64Array(0);
  return kktResiduals(p, params.primal.raw, params.dualEq?.raw ?? none, none, none);
}
