/**
 * `InteriorPointQP`: a dense primal–dual interior-point method with Mehrotra's predictor–corrector, the robust
 * default for small and medium QPs (and LPs, Q = 0).
 *
 * ## The iteration
 * With slacks s = h − Gx ≥ 0 and multipliers λ ≥ 0, each iteration takes a Newton step on the perturbed KKT
 * system Qx + c + Aᵀν + Gᵀλ = 0, Ax = b, Gx + s = h, s ⊙ λ = σμ from an infeasible start. Eliminating ds and dλ
 * leaves the (n + p) symmetric system [[Q + GᵀWG, Aᵀ], [A, 0]] with W = diag(λ / s), factorised once per
 * iteration and solved twice: the affine (predictor) direction gives the centering σ = (μ_aff / μ)³, and the
 * corrector adds the second-order term ds_aff ⊙ dλ_aff. Steps keep s and λ positive (fraction to the boundary
 * 0.99).
 *
 * ## Termination
 * error = max(‖r_dual‖∞ / (1 + ‖c‖∞), ‖r_eq‖∞ / (1 + ‖b‖∞), ‖r_ineq‖∞ / (1 + ‖h‖∞), sᵀλ / m). Divergence of the
 * iterates is the IPM's signature of infeasibility; a run stops as soon as the iterate itself is a certificate:
 * - primalInfeasible: (ν, λ) with ‖Aᵀν + Gᵀλ‖∞ ≤ ε·‖(ν, λ)‖∞ and bᵀν + hᵀλ < −ε·‖(ν, λ)‖∞ (Farkas);
 * - dualInfeasible: x with ‖Qx‖∞, ‖Ax‖∞, max(Gx)₊ ≤ ε‖x‖∞·‖data‖ and cᵀx < −ε‖x‖∞·‖c‖ (a ray of unbounded descent);
 * with ε = `infeasibilityTol`, and only once the iterate has grown past 1/ε relative to the data.
 *
 * ## Derivatives
 * Through the active-set KKT conditions (see `condition.ts`): at the solution the IPM's Newton matrix tends
 * to exactly that system (W → ∞ on active rows, → 0 on inactive ones). The polishing step factorises the
 * system itself, on a basis of the active rows; when those rows are the active set of the derivative (the usual
 * case: no degenerate or dependent active rows), first derivatives reuse that factorisation (`backward.ts`).
 * Otherwise (no polishing, a degenerate vertex) the backward pass rebuilds the matrix by JVPs.
 *
 * @module
 */
import { luFactor, luSolve } from "../../linalg/dense/kernels.js";
import { axpy, factorKkt, independentRows, kktResiduals, polishKkt } from "./kkt.js";
import { activeSet } from "./condition.js";
import { StandardQPSolver, solutionOf, warmPart, type QPOptions, type QPState } from "./base.js";
import { dotPlain, normInf, type PlainQP, type QPProblem, type QPSolution } from "./problem.js";
import { positiveOption } from "../common.js";
import { ValueError } from "../../core/errors.js";
import { LinearOperator } from "../../linalg/operator.js";

/** Options of {@link InteriorPointQP}. */
export interface InteriorPointQPOptions extends QPOptions {
  /** Stop when the scaled KKT residuals and the mean complementarity sᵀλ/m are ≤ tol (default 1e-10). */
  tol?: number;
  /** Maximum number of interior-point iterations (default 100). */
  maxIter?: number;
  /** Relative tolerance of the infeasibility certificates (default 1e-8). */
  infeasibilityTol?: number;
  /**
   * Polish (default true): once the error is ≤ √tol, solve the equality-constrained QP of the current active
   * set exactly and stop there when that point's KKT error is ≤ tol (and smaller). An interior point alone stops
   * at complementarity ≈ tol, which leaves errors of order tol/λ_min(Q) in x (and √tol at degenerate
   * vertices); the polished point is exact to rounding when the active set is right.
   */
  polish?: boolean;
  /**
   * The largest `LinearOperator` (rows × columns) that is materialised, by one matvec per column (default
   * 4_000_000: a 2000 × 2000 matrix, 32 MB). The Newton systems are dense factorisations, so operators are made
   * dense; a larger operator in the problem is a `ValueError` naming it: use `OSQP`, which runs on matvecs only.
   */
  maxOperatorEntries?: number;
}

/** @internal The option names of {@link InteriorPointQPOptions} beyond the shared QP options. */
export const INTERIOR_POINT_KEYS = [
  "infeasibilityTol",
  "polish",
  "maxOperatorEntries",
] as const satisfies readonly (keyof InteriorPointQPOptions)[];

/** The state of {@link InteriorPointQP}. */
export interface InteriorPointQPState extends QPState {
  /** The slacks s = h − Gx of the inequalities (s > 0 during the run). */
  slack: Float64Array;
  /** The mean complementarity sᵀλ / m (0 without inequalities). */
  mu: number;
  /** The step length of the last iteration. */
  stepSize: number;
  /**
   * True when the returned point is the polished one: the exact solution on a basis of the active rows (a
   * degenerate vertex keeps the independent rows with the largest multipliers, the others get λ = 0).
   */
  polished: boolean;
}

/** One Newton system at the current point: its factorisation and the scaling W = λ / s. */
interface NewtonSystem {
  lu: ReturnType<typeof luFactor>;
  w: Float64Array;
  size: number;
}

/**
 * A dense primal–dual interior-point QP solver (Mehrotra predictor–corrector) for
 * min ½xᵀQx + cᵀx s.t. Ax = b, Gx ≤ h; LinearOperators are materialised (one matvec per column), up to
 * `maxOperatorEntries` entries each — use `OSQP` for large matrix-free problems. `run(init, problem)` returns
 * `params = { primal, dualEq, dualIneq }`, differentiable with respect to every tensor of the problem through
 * its KKT conditions. Infeasible and unbounded problems end with status "primalInfeasible" / "dualInfeasible"
 * (a `QPError` unless `throwOnFailure: false`).
 *
 * @example
 * ```ts
 * import { InteriorPointQP, grad, tensor } from "diffopt";
 * // min ½‖x‖² − x₀ − x₁  s.t.  x₀ + x₁ ≤ 1: x* = [0.5, 0.5], λ* = 0.5
 * const Q = tensor([[1, 0], [0, 1]]);
 * const c = tensor([-1, -1]);
 * const G = tensor([[1, 1]]);
 * const h = tensor([1]);
 * const { params } = new InteriorPointQP().run(undefined, { Q, c, G, h });
 * params.primal.toArray(); // ≈ [0.5, 0.5]
 * params.dualIneq!.toArray(); // ≈ [0.5]
 * grad((h) => new InteriorPointQP().run(undefined, { Q, c, G, h }).params.primal.sum())(h).toArray(); // ≈ [1]
 * ```
 */
export class InteriorPointQP extends StandardQPSolver<InteriorPointQPState> {
  /** Relative tolerance of the infeasibility certificates. */
  readonly infeasibilityTol: number;
  /** Polish the converged point on its active set. */
  readonly polish: boolean;
  /** The largest operator (rows × columns) that is materialised. */
  readonly maxOperatorEntries: number;

  constructor(opts: InteriorPointQPOptions = {}) {
    super("InteriorPointQP", { maxIter: 100, ...opts }, { tol: 1e-10 }, INTERIOR_POINT_KEYS);
    this.infeasibilityTol = positiveOption(opts.infeasibilityTol ?? 1e-8, this.name, "infeasibilityTol");
    this.polish = opts.polish ?? true;
    this.maxOperatorEntries = positiveOption(opts.maxOperatorEntries ?? 4e6, this.name, "maxOperatorEntries");
  }

  /** Checks the problem, and that its operators are small enough to be materialised. */
  protected override checked(problem: QPProblem): QPProblem {
    super.checked(problem);
    for (const name of ["Q", "A", "G"] as const) {
      const M = problem[name];
      if (!(M instanceof LinearOperator) || M.outSize * M.inSize <= this.maxOperatorEntries) continue;
      throw new ValueError(
        `${this.name}: problem.${name} is a LinearOperator of ${M.outSize} × ${M.inSize} = ${M.outSize * M.inSize} entries, more than maxOperatorEntries = ${this.maxOperatorEntries}: ${this.name} materialises operators (its Newton systems are dense factorisations). Use OSQP for large matrix-free problems (it runs on matvecs only), or raise maxOperatorEntries.`,
      );
    }
    return problem;
  }

  initParams(init: Partial<QPSolution> | undefined, problem: QPProblem): QPSolution {
    const p = this.plain(problem);
    const { x, nu, lam } = startingPoint(p, init);
    return solutionOf(p, x, nu, lam);
  }

  init(params: QPSolution, problem: QPProblem): InteriorPointQPState {
    const p = this.plain(problem);
    const x = params.primal.raw;
    const gx = p.G ? p.G.mv(x) : new Float64Array(0);
    const s = shiftPositive(p.h.map((h, i) => h - gx[i]!));
    const nu = params.dualEq?.raw ?? new Float64Array(0);
    return this.stateAt(p, x, nu, params.dualIneq?.raw ?? new Float64Array(0), s, 0, 0);
  }

  update(params: QPSolution, state: InteriorPointQPState, problem: QPProblem) {
    const p = this.plain(problem);
    const x = Float64Array.from(params.primal.raw);
    const nu = params.dualEq ? Float64Array.from(params.dualEq.raw) : new Float64Array(0);
    const lam = params.dualIneq ? Float64Array.from(params.dualIneq.raw) : new Float64Array(0);
    const s = Float64Array.from(state.slack);
    const r = kktResiduals(p, x, nu, lam, s);
    const sys = newtonSystem(p, lam, s);
    // predictor: the affine-scaling direction (rc = s ⊙ λ)
    const rcAff = s.map((si, i) => si * lam[i]!);
    const aff = direction(p, sys, r, lam, s, rcAff);
    let alpha = 1;
    if (p.m > 0) {
      const alphaAff = Math.min(maxStep(s, aff.ds), maxStep(lam, aff.dlam));
      const mu = dotPlain(s, lam) / p.m;
      let muAff = 0;
      for (let i = 0; i < p.m; i++) muAff += (s[i]! + alphaAff * aff.ds[i]!) * (lam[i]! + alphaAff * aff.dlam[i]!);
      muAff /= p.m;
      const sigma = mu > 0 ? Math.min(1, (muAff / mu) ** 3) : 0;
      // corrector: centering and the second-order term
      const rc = s.map((si, i) => si * lam[i]! + aff.ds[i]! * aff.dlam[i]! - sigma * mu);
      const d = direction(p, sys, r, lam, s, rc);
      alpha = Math.min(1, 0.99 * Math.min(maxStep(s, d.ds), maxStep(lam, d.dlam)));
      axpy(alpha, d.dx, x);
      axpy(alpha, d.dnu, nu);
      axpy(alpha, d.dlam, lam);
      axpy(alpha, d.ds, s);
    } else {
      axpy(1, aff.dx, x);
      axpy(1, aff.dnu, nu);
    }
    const state1 = this.stateAt(p, x, nu, lam, s, state.iterNum + 1, alpha);
    // Polishing is tried from error ≤ √tol: an exact active-set solve ends the run as soon as the active set
    // is identified, instead of the last, slowest interior-point iterations.
    if (this.polish && p.m > 0 && state1.error <= Math.sqrt(this.tol)) {
      const polished = this.polished(p, x, lam, s, state1);
      if (polished !== null) return polished;
    }
    return { params: solutionOf(p, x, nu, lam), state: state1 };
  }

  /** The polished solution on the active set of (λ, s), or null when it is not better. */
  private polished(p: PlainQP, x: Float64Array, lam: Float64Array, s: Float64Array, state: InteriorPointQPState) {
    const { active } = activeSet(lam, s, state.error);
    const { n } = p;
    const G = p.G!.dense();
    // a basis of the active rows: when more are active than independent (a degenerate vertex with a non-unique
    // dual), the rows with the largest multipliers are kept and the others get λ = 0 (then reported degenerate)
    const candidates = [...active.keys()].filter((i) => active[i] === 1).sort((i, j) => lam[j]! - lam[i]!);
    const idx = independentRows(p.A ? p.A.dense() : new Float64Array(0), G, candidates, n);
    const rows = new Float64Array((p.p + idx.length) * n);
    if (p.A) rows.set(p.A.dense());
    idx.forEach((i, k) => rows.set(G.subarray(i * n, i * n + n), (p.p + k) * n));
    const targets = Float64Array.from([...p.b, ...idx.map((i) => p.h[i]!)]);
    const sol = polishKkt(p.Q.dense(), p.c, rows, targets, n);
    if (sol === null) return null;
    const nu = sol.y.slice(0, p.p);
    const lam1 = new Float64Array(p.m);
    idx.forEach((i, k) => (lam1[i] = Math.max(0, sol.y[p.p + k]!)));
    const gx = p.G!.mv(sol.x);
    const s1 = p.h.map((h, i) => Math.max(0, h - gx[i]!));
    const next = this.stateAt(p, sol.x, nu, lam1, s1, state.iterNum, state.stepSize);
    if (!(next.error <= Math.min(state.error, this.tol))) return null;
    const params = solutionOf(p, sol.x, nu, lam1);
    if (sol.factors) this.polishedKkt.set(params, { factors: sol.factors, rows: idx });
    return { params, state: { ...next, polished: true } };
  }

  private stateAt(
    p: PlainQP,
    x: Float64Array,
    nu: Float64Array,
    lam: Float64Array,
    s: Float64Array,
    iterNum: number,
    stepSize: number,
  ): InteriorPointQPState {
    const r = kktResiduals(p, x, nu, lam, s);
    const mu = p.m > 0 ? dotPlain(s, lam) / p.m : 0;
    const error = Math.max(
      normInf(r.rd) / (1 + normInf(p.c)),
      normInf(r.re) / (1 + normInf(p.b)),
      normInf(r.ri) / (1 + normInf(p.h)),
      mu,
    );
    const status = infeasibility(p, x, nu, lam, this.infeasibilityTol) ?? "maxIterReached";
    const value = 0.5 * dotPlain(x, p.Q.mv(x)) + dotPlain(p.c, x);
    const active = new Float64Array(0);
    return { iterNum, error, status, value, slack: s, mu, stepSize, polished: false, degenerate: [], active };
  }
}

/** Largest α ∈ (0, 1] with v + α·dv ≥ 0. */
function maxStep(v: Float64Array, dv: Float64Array): number {
  let a = 1;
  for (let i = 0; i < v.length; i++) if (dv[i]! < 0) a = Math.min(a, -v[i]! / dv[i]!);
  return a;
}

function newtonSystem(p: PlainQP, lam: Float64Array, s: Float64Array): NewtonSystem {
  const w = lam.map((l, i) => l / s[i]!);
  return { lu: factorKkt(p, p.m > 0 ? w : null), w, size: p.n + p.p };
}

/**
 * The Newton direction for the complementarity right-hand side `rc` (s ⊙ λ minus the target): solves the
 * reduced system for (dx, dν), then dλ = W·G·dx + S⁻¹(Λ r_i − rc) and ds = −r_i − G·dx.
 */
function direction(
  p: PlainQP,
  sys: NewtonSystem,
  r: { rd: Float64Array; re: Float64Array; ri: Float64Array },
  lam: Float64Array,
  s: Float64Array,
  rc: Float64Array,
) {
  const { n } = p;
  const t = new Float64Array(p.m);
  for (let i = 0; i < p.m; i++) t[i] = (lam[i]! * r.ri[i]! - rc[i]!) / s[i]!;
  const rhs = new Float64Array(sys.size);
  for (let i = 0; i < n; i++) rhs[i] = -r.rd[i]!;
  if (p.G) axpy(-1, p.G.rmv(t), rhs.subarray(0, n));
  for (let i = 0; i < p.p; i++) rhs[n + i] = -r.re[i]!;
  const sol = luSolve(sys.lu, sys.size, rhs);
  const dx = sol.slice(0, n);
  const dnu = sol.slice(n);
  const gdx = p.G ? p.G.mv(dx) : new Float64Array(0);
  const dlam = gdx.map((g, i) => sys.w[i]! * g + t[i]!);
  const ds = gdx.map((g, i) => -r.ri[i]! - g);
  return { dx, dnu, dlam, ds };
}

/**
 * The starting point: x̂ (and ν̂) solving [[Q + GᵀG, Aᵀ], [A, 0]] [x; ν] = [−c + Gᵀh; b] (a least-squares fit of
 * the constraints, as in CVXOPT), or the warm start's x; then λ = Gx̂ − h shifted to be positive (the slacks
 * s = h − Gx̂ are shifted alike by `init`).
 */
function startingPoint(p: PlainQP, init: Partial<QPSolution> | undefined) {
  let x = warmPart(init, "primal", p.n);
  let nu = warmPart(init, "dualEq", p.p) ?? new Float64Array(p.p);
  if (x === undefined) {
    const f = factorKkt(p, p.m > 0 ? new Float64Array(p.m).fill(1) : null);
    const rhs = new Float64Array(p.n + p.p);
    for (let i = 0; i < p.n; i++) rhs[i] = -p.c[i]!;
    if (p.G) axpy(1, p.G.rmv(p.h), rhs.subarray(0, p.n));
    rhs.set(p.b, p.n);
    const sol = luSolve(f, p.n + p.p, rhs);
    x = sol.slice(0, p.n);
    nu = sol.slice(p.n);
  }
  const gx = p.G ? p.G.mv(x) : new Float64Array(0);
  const warmLam = warmPart(init, "dualIneq", p.m);
  const lam = shiftPositive(warmLam ?? p.h.map((h, i) => gx[i]! - h));
  return { x, nu, lam };
}

/** v if all its entries are > 0, else v + (1 − min v)·1. */
function shiftPositive(v: Float64Array): Float64Array {
  let min = Infinity;
  for (const e of v) min = Math.min(min, e);
  if (min > 0) return v;
  return v.map((e) => e + 1 - min);
}

/** The status certified by the iterate itself (see the module notes), or null. */
function infeasibility(
  p: PlainQP,
  x: Float64Array,
  nu: Float64Array,
  lam: Float64Array,
  eps: number,
): "primalInfeasible" | "dualInfeasible" | null {
  const dataScale = 1 + Math.max(normInf(p.c), normInf(p.b), normInf(p.h));
  const k = Math.max(normInf(nu), normInf(lam));
  if (k * eps > dataScale) {
    const aty = new Float64Array(p.n);
    if (p.A) axpy(1, p.A.rmv(nu), aty);
    if (p.G) axpy(1, p.G.rmv(lam), aty);
    const support = dotPlain(p.b, nu) + dotPlain(p.h, lam);
    if (normInf(aty) <= eps * k * dataScale && support < -eps * k) return "primalInfeasible";
  }
  const kx = normInf(x);
  if (kx * eps > dataScale) {
    const tol = eps * kx * dataScale;
    const ok =
      normInf(p.Q.mv(x)) <= tol &&
      (p.A === null || normInf(p.A.mv(x)) <= tol) &&
      (p.G === null || p.G.mv(x).every((v) => v <= tol)) &&
      dotPlain(p.c, x) < -eps * kx;
    if (ok) return "dualInfeasible";
  }
  return null;
}
