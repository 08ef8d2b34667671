/**
 * `OSQP` and `BoxOSQP`: the operator-splitting QP solver of Stellato et al., "OSQP: an operator splitting solver
 * for quadratic programs" (Math. Prog. Comp. 2020), for the box form  min ½xᵀQx + cᵀx s.t. l ≤ Ax ≤ u.
 *
 * ## The iteration (ADMM on x, z = Ax, with multipliers y)
 *   x̃ = (Q + σI + AᵀRA)⁻¹ (σx − c + Aᵀ(Rz − y))        R = diag(ρ), ρᵢ = 10³ρ̄ on equality rows
 *   z̃ = Ax̃;  x ← αx̃ + (1 − α)x;  ẑ = αz̃ + (1 − α)z   (over-relaxation α ∈ (0, 2))
 *   z ← Π[l, u](ẑ + R⁻¹y);  y ← y + R(ẑ − z)
 * The x-system is factorised once (dense Cholesky) and again only when ρ̄ changes, or solved matrix-free by
 * warm-started CG when Q or A is a LinearOperator.
 *
 * ## ρ adaptation, termination, polishing
 * Every `adaptiveRhoInterval` iterations ρ̄ ← ρ̄·√((‖r_prim‖/max(‖Ax‖, ‖z‖)) / (‖r_dual‖/max(‖Qx‖, ‖Aᵀy‖, ‖c‖)))
 * when that changes it by more than 5×, balancing the two residuals. The error is the larger of the two scaled
 * residuals r_prim = Ax − z and r_dual = Qx + c + Aᵀy. ADMM is accurate to tol only; once converged, polishing
 * solves the equality-constrained QP of the guessed active set (dense LU, or MINRES on the saddle-point operator
 * when Q or A is a LinearOperator) and keeps it when its error is smaller, so the returned point is usually exact
 * to rounding — what implicit differentiation needs.
 *
 * ## Infeasibility (the paper's §3.4)
 * The differences δy, δx of successive iterates converge to certificates:
 * - primalInfeasible: ‖Aᵀδy‖∞ ≤ ε‖δy‖∞ and uᵀ(δy)₊ + lᵀ(δy)₋ < −ε‖δy‖∞;
 * - dualInfeasible: ‖Qδx‖∞ ≤ ε‖δx‖∞, cᵀδx < −ε‖δx‖∞ and Aδx within ±ε‖δx‖∞ of the recession cone of [l, u].
 *
 * @module
 */
import { ValueError } from "../../core/errors.js";
import { Tensor } from "../../core/tensor.js";
import type { Tree } from "../../core/tree.js";
import { LinearOperator } from "../../linalg/operator.js";
import { linearSolve } from "../../linalg/solve.js";
import { choleskyFactor, choleskySolve } from "../../linalg/dense/kernels.js";
import { positiveOption } from "../common.js";
import { QPSolverBase, StandardQPSolver, solutionOf, warmPart, type QPOptions, type QPState } from "./base.js";
import { activeSides, boxResidual } from "./condition.js";
import { axpy, polishKkt } from "./kkt.js";
import { boxKktBackwardFactor } from "./backward.js";
import {
  checkBoxProblem,
  dotPlain,
  normInf,
  plainMatrix,
  type BoxQPProblem,
  type BoxQPSolution,
  type PlainMatrix,
  type PlainQP,
  type QPProblem,
  type QPSolution,
} from "./problem.js";

/** Options of {@link OSQP} and {@link BoxOSQP}. */
export interface OSQPOptions extends QPOptions {
  /** Stop when both scaled residuals are ≤ tol (default 1e-6; polishing then refines the point). */
  tol?: number;
  /** Maximum number of ADMM iterations (default 4000). */
  maxIter?: number;
  /** Initial penalty ρ̄ (default 0.1). */
  rho?: number;
  /** Regularisation σ of the x-update (default 1e-6). */
  sigma?: number;
  /** Over-relaxation α ∈ (0, 2) (default 1.6). */
  alpha?: number;
  /** Iterations between ρ updates (default 25; 0 disables the adaptation). */
  adaptiveRhoInterval?: number;
  /**
   * Polish the converged point on its active set (default true): an exact solve of its equality-constrained QP,
   * by LU on dense problems, by MINRES on operator problems; kept when it lowers the error.
   */
  polish?: boolean;
  /** Tolerance ε of the infeasibility certificates (default 1e-5). */
  infeasibilityTol?: number;
}

const OSQP_KEYS = [
  "rho",
  "sigma",
  "alpha",
  "adaptiveRhoInterval",
  "polish",
  "infeasibilityTol",
] as const satisfies readonly (keyof OSQPOptions)[];

/** The state of {@link OSQP} and {@link BoxOSQP}. */
export interface OSQPState extends QPState {
  /** The projected constraint values z ∈ [l, u]. */
  z: Float64Array;
  /** The current penalty ρ̄. */
  rho: number;
  /** ‖Ax − z‖∞. */
  primalResidual: number;
  /** ‖Qx + c + Aᵀy‖∞. */
  dualResidual: number;
  /** True when the returned point is the polished one. */
  polished: boolean;
  /** @internal Cholesky factor of Q + σI + AᵀRA (dense problems), for the current ρ. */
  factor: Float64Array | null;
}

/** @internal The plain box-form data the ADMM runs on. */
interface BoxData {
  n: number;
  m: number;
  Q: PlainMatrix;
  c: Float64Array;
  C: PlainMatrix;
  l: Float64Array;
  u: Float64Array;
}

/** The ADMM of both classes, on plain box-form data. */
class Admm {
  readonly rho0: number;
  readonly sigma: number;
  readonly alpha: number;
  readonly interval: number;
  readonly polish: boolean;
  readonly eps: number;

  constructor(
    readonly who: string,
    readonly tol: number,
    opts: OSQPOptions,
  ) {
    this.rho0 = positiveOption(opts.rho ?? 0.1, who, "rho");
    this.sigma = positiveOption(opts.sigma ?? 1e-6, who, "sigma");
    this.alpha = opts.alpha ?? 1.6;
    if (!(this.alpha > 0 && this.alpha < 2)) throw new ValueError(`${who}: alpha must be in (0, 2), got ${this.alpha}`);
    this.interval = opts.adaptiveRhoInterval ?? 25;
    if (!Number.isInteger(this.interval) || this.interval < 0) {
      throw new ValueError(`${who}: adaptiveRhoInterval must be a non-negative integer, got ${this.interval}`);
    }
    this.polish = opts.polish ?? true;
    this.eps = positiveOption(opts.infeasibilityTol ?? 1e-5, who, "infeasibilityTol");
  }

  private rhoVector(d: BoxData, rho: number): Float64Array {
    return d.l.map((l, i) => {
      const u = d.u[i]!;
      if (l === u) return 1e3 * rho;
      return l === -Infinity && u === Infinity ? 1e-6 : rho;
    });
  }

  /** The Cholesky factor of Q + σI + AᵀRA (dense data), or null (matrix-free). */
  private factor(d: BoxData, rho: number): Float64Array | null {
    if (!(d.Q.isDense && d.C.isDense)) return null;
    const { n, m } = d;
    const r = this.rhoVector(d, rho);
    const P = d.Q.dense().slice();
    const C = d.C.dense();
    for (let k = 0; k < m; k++) {
      const rk = r[k]!;
      const row = k * n;
      for (let i = 0; i < n; i++) {
        const a = rk * C[row + i]!;
        if (a === 0) continue;
        for (let j = 0; j < n; j++) P[i * n + j] += a * C[row + j]!;
      }
    }
    for (let i = 0; i < n; i++) P[i * n + i] += this.sigma;
    const L = choleskyFactor(P, n);
    if (L === null) {
      throw new ValueError(
        `${this.who}: Q + σI + AᵀRA is not positive definite: Q must be positive semidefinite (a convex QP)`,
      );
    }
    return L;
  }

  private solveX(d: BoxData, st: OSQPState, rhs: Float64Array, x0: Float64Array): Float64Array {
    if (st.factor !== null) return choleskySolve(st.factor, d.n, rhs);
    const r = this.rhoVector(d, st.rho);
    const mv = (_: null, v: Tensor) => {
      const out = d.Q.mv(v.raw);
      const cv = d.C.mv(v.raw).map((e, i) => e * r[i]!);
      axpy(1, d.C.rmv(cv), out);
      axpy(this.sigma, v.raw, out);
      return new Tensor(out, [d.n]);
    };
    const example = new Tensor(new Float64Array(d.n), [d.n]);
    const op = LinearOperator.fromFunction(mv, null, example, { tags: { positiveDefinite: true } });
    const b = new Tensor(rhs, [d.n]);
    return linearSolve(op, b, { solver: "cg", x0: new Tensor(x0, [d.n]), rtol: 1e-10, maxIter: 10 * d.n + 100 }).value
      .raw;
  }

  init(d: BoxData, x: Float64Array, y: Float64Array): OSQPState {
    const z = clipTo(d.C.mv(x), d.l, d.u);
    const st: OSQPState = {
      iterNum: 0,
      error: Infinity,
      status: "maxIterReached",
      z,
      rho: this.rho0,
      primalResidual: Infinity,
      dualResidual: Infinity,
      polished: false,
      factor: null,
      degenerate: [],
      active: new Float64Array(0),
    };
    return { ...st, ...this.measure(d, x, y, z), factor: this.factor(d, this.rho0) };
  }

  /** The residuals, the error and the objective at (x, y, z). */
  private measure(d: BoxData, x: Float64Array, y: Float64Array, z: Float64Array) {
    const ax = d.C.mv(x);
    const qx = d.Q.mv(x);
    const aty = d.C.rmv(y);
    const rp = ax.map((v, i) => v - z[i]!);
    const rd = qx.map((v, i) => v + d.c[i]! + aty[i]!);
    const primalResidual = normInf(rp);
    const dualResidual = normInf(rd);
    const primalScale = Math.max(normInf(ax), normInf(z));
    const dualScale = Math.max(normInf(qx), normInf(aty), normInf(d.c));
    const error = Math.max(primalResidual / (1 + primalScale), dualResidual / (1 + dualScale));
    const value = 0.5 * dotPlain(x, qx) + dotPlain(d.c, x);
    return { primalResidual, dualResidual, error, value, primalScale, dualScale };
  }

  step(d: BoxData, x: Float64Array, y: Float64Array, st: OSQPState) {
    const { alpha } = this;
    const r = this.rhoVector(d, st.rho);
    const rhs = x.map((v, i) => this.sigma * v - d.c[i]!);
    axpy(1, d.C.rmv(st.z.map((zi, i) => r[i]! * zi - y[i]!)), rhs);
    const xt = this.solveX(d, st, rhs, x);
    const zt = d.C.mv(xt);
    const x1 = xt.map((v, i) => alpha * v + (1 - alpha) * x[i]!);
    const zh = zt.map((v, i) => alpha * v + (1 - alpha) * st.z[i]!);
    const z1 = clipTo(
      zh.map((v, i) => v + y[i]! / r[i]!),
      d.l,
      d.u,
    );
    const y1 = y.map((v, i) => v + r[i]! * (zh[i]! - z1[i]!));
    const m = this.measure(d, x1, y1, z1);
    const iterNum = st.iterNum + 1;
    let next: OSQPState = { ...st, ...m, z: z1, iterNum, status: "maxIterReached" };
    if (m.error <= this.tol) {
      if (this.polish) {
        const p = this.polished(d, x1, y1, z1, next);
        if (p !== null) return p;
      }
      return { x: x1, y: y1, state: next };
    }
    const certificate = this.certificate(
      d,
      x1.map((v, i) => v - x[i]!),
      y1.map((v, i) => v - y[i]!),
    );
    if (certificate !== null) next = { ...next, status: certificate };
    else if (this.interval > 0 && iterNum % this.interval === 0) next = this.adaptRho(d, next, m);
    return { x: x1, y: y1, state: next };
  }

  private adaptRho(d: BoxData, st: OSQPState, m: ReturnType<Admm["measure"]>): OSQPState {
    const ratio = m.primalResidual / Math.max(m.primalScale, 1e-30) / (m.dualResidual / Math.max(m.dualScale, 1e-30));
    const rho = Math.min(1e6, Math.max(1e-6, st.rho * Math.sqrt(ratio)));
    if (!Number.isFinite(rho) || (rho < 5 * st.rho && rho > st.rho / 5)) return st;
    return { ...st, rho, factor: this.factor(d, rho) };
  }

  /** Exact solution on the active set guessed from (y, z), when it is better. */
  private polished(d: BoxData, x: Float64Array, y: Float64Array, z: Float64Array, st: OSQPState) {
    const idx: number[] = [];
    const targets: number[] = [];
    for (let i = 0; i < d.m; i++) {
      if (z[i]! - d.l[i]! < -y[i]!) targets.push(d.l[i]!);
      else if (d.u[i]! - z[i]! < y[i]!) targets.push(d.u[i]!);
      else continue;
      idx.push(i);
    }
    const t = Float64Array.from(targets);
    const sol = d.Q.isDense && d.C.isDense ? polishDense(d, idx, t) : polishMatrixFree(d, idx, t, x, y);
    if (sol === null) return null;
    const y1 = new Float64Array(d.m);
    idx.forEach((i, k) => (y1[i] = sol.y[k]!));
    const z1 = clipTo(d.C.mv(sol.x), d.l, d.u);
    const m = this.measure(d, sol.x, y1, z1);
    // the multipliers must have the sign of their bound (y ≥ 0 on u, ≤ 0 on l), else the active set was wrong
    const signsOk = idx.every((i, k) => d.l[i] === d.u[i] || (targets[k] === d.u[i] ? y1[i]! >= 0 : y1[i]! <= 0));
    if (!signsOk || !(m.error <= st.error)) return null;
    return { x: sol.x, y: y1, state: { ...st, ...m, z: z1, polished: true }, kkt: { factors: sol.factors, rows: idx } };
  }

  private certificate(d: BoxData, dx: Float64Array, dy: Float64Array): "primalInfeasible" | "dualInfeasible" | null {
    const { eps } = this;
    const ny = normInf(dy);
    if (ny > 0) {
      let support = 0;
      let ok = normInf(d.C.rmv(dy)) <= eps * ny;
      for (let i = 0; ok && i < d.m; i++) {
        const v = dy[i]!;
        const bound = v > 0 ? d.u[i]! : d.l[i]!;
        if (Number.isFinite(bound)) support += bound * v;
        else if (Math.abs(v) > eps * ny) ok = false;
      }
      if (ok && support < -eps * ny) return "primalInfeasible";
    }
    const nx = normInf(dx);
    if (nx > 0 && normInf(d.Q.mv(dx)) <= eps * nx && dotPlain(d.c, dx) < -eps * nx) {
      const adx = d.C.mv(dx);
      const tol = eps * nx;
      const ok = adx.every((v, i) => (d.u[i] === Infinity || v <= tol) && (d.l[i] === -Infinity || v >= -tol));
      if (ok) return "dualInfeasible";
    }
    return null;
  }
}

/** Polishing on dense data: [[Q, C𝒜ᵀ], [C𝒜, 0]] factorised by LU (the factors then serve the backward pass). */
function polishDense(d: BoxData, idx: readonly number[], targets: Float64Array) {
  const { n } = d;
  const C = d.C.dense();
  const rows = new Float64Array(idx.length * n);
  idx.forEach((i, k) => rows.set(C.subarray(i * n, i * n + n), k * n));
  return polishKkt(d.Q.dense(), d.c, rows, targets, n);
}

/**
 * Polishing on operator data: the same saddle-point system [[Q, C𝒜ᵀ], [C𝒜, 0]](x, y𝒜) = (−c, t𝒜), solved
 * matrix-free by MINRES (symmetric indefinite) from the ADMM point, to a relative residual of 1e-12. There are no
 * factors to hand to the backward pass; an inaccurate solve is caught by the caller's error and sign checks.
 */
function polishMatrixFree(d: BoxData, idx: readonly number[], targets: Float64Array, x: Float64Array, y: Float64Array) {
  const { n, m } = d;
  const k = idx.length;
  const mv = (_: null, v: Tensor) => {
    const out = new Float64Array(n + k);
    const vx = v.raw.subarray(0, n);
    const full = new Float64Array(m);
    idx.forEach((i, j) => (full[i] = v.raw[n + j]!));
    out.set(d.Q.mv(vx));
    axpy(1, d.C.rmv(full), out);
    const cx = d.C.mv(vx);
    idx.forEach((i, j) => (out[n + j] = cx[i]!));
    return new Tensor(out, [n + k]);
  };
  const example = new Tensor(new Float64Array(n + k), [n + k]);
  const op = LinearOperator.fromFunction(mv, null, example, { tags: { symmetric: true } });
  const rhs = new Float64Array(n + k);
  d.c.forEach((ci, i) => (rhs[i] = -ci));
  rhs.set(targets, n);
  const x0 = new Float64Array(n + k);
  x0.set(x);
  idx.forEach((i, j) => (x0[n + j] = y[i]!));
  const { value } = linearSolve(op, new Tensor(rhs, [n + k]), {
    solver: "minres",
    rtol: 1e-12,
    x0: new Tensor(x0, [n + k]),
    throwOnFailure: false,
  });
  const z = value.raw;
  if (!z.every(Number.isFinite)) return null;
  return { x: z.slice(0, n), y: z.slice(n), factors: null };
}

function clipTo(v: Float64Array, l: Float64Array, u: Float64Array): Float64Array {
  return v.map((e, i) => Math.min(u[i]!, Math.max(l[i]!, e)));
}

/** The rows [A; G] of a standard-form problem as one plain matrix. */
function stacked(p: PlainQP): PlainMatrix {
  const parts = [p.A, p.G].filter((M): M is PlainMatrix => M !== null);
  const rows = p.p + p.m;
  return {
    rows,
    cols: p.n,
    isDense: parts.every((M) => M.isDense),
    mv(v) {
      const out = new Float64Array(rows);
      let o = 0;
      for (const M of parts) {
        out.set(M.mv(v), o);
        o += M.rows;
      }
      return out;
    },
    rmv(u) {
      const out = new Float64Array(p.n);
      let o = 0;
      for (const M of parts) {
        axpy(1, M.rmv(u.subarray(o, o + M.rows)), out);
        o += M.rows;
      }
      return out;
    },
    dense() {
      const out = new Float64Array(rows * p.n);
      let o = 0;
      for (const M of parts) {
        out.set(M.dense(), o * p.n);
        o += M.rows;
      }
      return out;
    },
  };
}

/**
 * OSQP (ADMM with ρ adaptation, over-relaxation and polishing) for the standard form
 * min ½xᵀQx + cᵀx s.t. Ax = b, Gx ≤ h, solved as the box form [b; −∞] ≤ [A; G]x ≤ [b; h]; matrix-free (CG)
 * when Q, A or G is a LinearOperator. Cheap iterations to moderate accuracy, made exact by polishing;
 * infeasible and unbounded problems end with "primalInfeasible" / "dualInfeasible". `params` is
 * `{ primal, dualEq, dualIneq }`, differentiable with respect to every tensor of the problem.
 *
 * @example
 * ```ts
 * import { OSQP, tensor } from "diffopt";
 * // min ½‖x‖² − x₀ − x₁  s.t.  x₀ + x₁ ≤ 1
 * const problem = { Q: tensor([[1, 0], [0, 1]]), c: tensor([-1, -1]), G: tensor([[1, 1]]), h: tensor([1]) };
 * const { params, state } = new OSQP().run(undefined, problem);
 * params.primal.toArray(); // ≈ [0.5, 0.5]
 * state.polished; // true
 * ```
 */
export class OSQP extends StandardQPSolver<OSQPState> {
  private readonly admm: Admm;
  private readonly boxCache = new WeakMap<PlainQP, BoxData>();

  constructor(opts: OSQPOptions = {}) {
    super("OSQP", { maxIter: 4000, ...opts }, { tol: 1e-6 }, OSQP_KEYS);
    this.admm = new Admm(this.name, this.tol, opts);
  }

  private box(problem: QPProblem): BoxData {
    const p = this.plain(problem);
    let d = this.boxCache.get(p);
    if (d === undefined) {
      const inf = new Float64Array(p.m).fill(-Infinity);
      d = {
        n: p.n,
        m: p.p + p.m,
        Q: p.Q,
        c: p.c,
        C: stacked(p),
        l: Float64Array.from([...p.b, ...inf]),
        u: Float64Array.from([...p.b, ...p.h]),
      };
      this.boxCache.set(p, d);
    }
    return d;
  }

  initParams(init: Partial<QPSolution> | undefined, problem: QPProblem): QPSolution {
    const p = this.plain(problem);
    const x = warmPart(init, "primal", p.n) ?? new Float64Array(p.n);
    const nu = warmPart(init, "dualEq", p.p) ?? new Float64Array(p.p);
    const lam = warmPart(init, "dualIneq", p.m) ?? new Float64Array(p.m);
    return solutionOf(p, x, nu, lam);
  }

  init(params: QPSolution, problem: QPProblem): OSQPState {
    return this.admm.init(this.box(problem), params.primal.raw, this.joint(params));
  }

  update(params: QPSolution, state: OSQPState, problem: QPProblem) {
    const p = this.plain(problem);
    const step = this.admm.step(this.box(problem), params.primal.raw, this.joint(params), state);
    const { x, y, state: next } = step;
    // multipliers of the one-sided rows are ≥ 0 up to rounding of the projection
    const lam = y.slice(p.p).map((v) => Math.max(0, v));
    const solution = solutionOf(p, x, y.slice(0, p.p), lam);
    // the polishing factors serve the backward pass when they hold every equality row, first (C = [A; G])
    const kkt = "kkt" in step ? step.kkt : null;
    if (kkt?.factors && kkt.rows.length >= p.p && kkt.rows.slice(0, p.p).every((r, i) => r === i)) {
      this.polishedKkt.set(solution, { factors: kkt.factors, rows: kkt.rows.slice(p.p).map((r) => r - p.p) });
    }
    return { params: solution, state: next };
  }

  private joint(params: QPSolution): Float64Array {
    const none = new Float64Array(0);
    return Float64Array.from([...(params.dualEq?.raw ?? none), ...(params.dualIneq?.raw ?? none)]);
  }
}

/**
 * OSQP for the box form min ½xᵀQx + cᵀx s.t. l ≤ Ax ≤ u (JAXopt's `BoxOSQP`): entries of l, u may be ±Infinity,
 * and rows with lᵢ = uᵢ are equalities. `params` is `{ primal, dual }` with the signed multipliers y (yᵢ > 0 on an
 * active upper bound, < 0 on an active lower bound); differentiable with respect to Q, c, A, l and u.
 *
 * @example
 * ```ts
 * import { BoxOSQP, jacrev, tensor, eye, type Tensor } from "diffopt";
 * // min ½‖x‖² + cᵀx s.t. −1 ≤ x ≤ 1: x* = clip(−c, −1, 1)
 * const solve = (c: Tensor) =>
 *   new BoxOSQP().run(undefined, { Q: eye(2), c, A: eye(2), l: tensor([-1, -1]), u: tensor([1, 1]) }).params.primal;
 * solve(tensor([3, -0.5])).toArray(); // ≈ [-1, 0.5]
 * jacrev(solve)(tensor([3, -0.5])).toArray(); // ≈ [[0, 0], [0, -1]]
 * ```
 */
export class BoxOSQP extends QPSolverBase<OSQPState, BoxQPProblem, BoxQPSolution> {
  private readonly admm: Admm;
  private readonly cache = new WeakMap<BoxQPProblem, BoxData>();

  constructor(opts: OSQPOptions = {}) {
    super("BoxOSQP", { maxIter: 4000, ...opts }, { tol: 1e-6 }, OSQP_KEYS);
    this.admm = new Admm(this.name, this.tol, opts);
  }

  protected checked(problem: BoxQPProblem): BoxQPProblem {
    checkBoxProblem(problem, this.name);
    return problem;
  }

  private data(problem: BoxQPProblem): BoxData {
    let d = this.cache.get(problem);
    if (d === undefined) {
      const { n, m } = checkBoxProblem(problem, this.name);
      d = {
        n,
        m,
        Q: plainMatrix(problem.Q, n, n, true),
        c: problem.c.raw,
        C: plainMatrix(problem.A, m, n),
        l: problem.l.raw,
        u: problem.u.raw,
      };
      this.cache.set(problem, d);
    }
    return d;
  }

  initParams(init: Partial<BoxQPSolution> | undefined, problem: BoxQPProblem): BoxQPSolution {
    const d = this.data(problem);
    const x = warmPart(init, "primal", d.n) ?? new Float64Array(d.n);
    const y = warmPart(init, "dual", d.m) ?? new Float64Array(d.m);
    return { primal: new Tensor(x, [d.n]), dual: new Tensor(y, [d.m]) };
  }

  init(params: BoxQPSolution, problem: BoxQPProblem): OSQPState {
    return this.admm.init(this.data(problem), params.primal.raw, params.dual.raw);
  }

  update(params: BoxQPSolution, state: OSQPState, problem: BoxQPProblem) {
    const d = this.data(problem);
    const step = this.admm.step(d, params.primal.raw, params.dual.raw, state);
    const solution = { primal: new Tensor(step.x, [d.n]), dual: new Tensor(step.y, [d.m]) };
    // the polishing factors serve the backward pass: [[Qₛ, A_rowsᵀ], [A_rows, 0]] whatever the sides of the rows
    const kkt = "kkt" in step ? step.kkt : null;
    if (kkt?.factors) this.polishedKkt.set(solution, { factors: kkt.factors, rows: kkt.rows });
    return { params: solution, state: step.state };
  }

  /** The polishing factorisation, when its rows are the active rows of the derivative. */
  protected override backwardFactor(params: BoxQPSolution, problem: BoxQPProblem, state: OSQPState) {
    const kkt = this.polishedKkt.get(params);
    return kkt && boxKktBackwardFactor(this.data(problem).n, kkt.factors, kkt.rows, state.active);
  }

  protected residual(params: BoxQPSolution, problem: BoxQPProblem, active: Tensor): Tree {
    return boxResidual(params, problem, active) as unknown as Tree;
  }

  protected classify(
    params: BoxQPSolution,
    problem: BoxQPProblem,
    accuracy: number,
  ): Pick<QPState, "active" | "degenerate"> {
    const d = this.data(problem);
    return activeSides(params.dual.raw, d.C.mv(params.primal.raw), d.l, d.u, accuracy);
  }
}
