/**
 * The minimisers of a smooth f(params, ...args): each is the one loop of `minimizer.ts` with a descent and a
 * step rule.
 *
 * | solver        | descent                                  | step rule                        |
 * | ------------- | ---------------------------------------- | -------------------------------- |
 * | `LBFGS`       | L-BFGS two-loop operator                 | strong Wolfe (or backtracking, HZ) |
 * | `BFGS`        | dense inverse-Hessian BFGS               | strong Wolfe (or backtracking, HZ) |
 * | `NonlinearCG` | PR+, FR, HS or DY conjugate directions   | Hager–Zhang (or strong Wolfe)    |
 * | `Newton`      | modified dense Newton, or Newton-CG      | backtracking (or strong Wolfe)   |
 * | `TrustRegion` | Steihaug–Toint CG, or dogleg             | classical trust region           |
 *
 * @module
 */
import { ValueError } from "../../core/errors.js";
import { countOption, positiveOption, unitIntervalOption } from "../common.js";
import {
  bfgsDescent,
  lbfgsDescent,
  nonlinearCgDescent,
  type ConjugateGradientMethod,
  type Descent,
} from "./descents.js";
import { MINIMIZER_KEYS, Minimizer, type MinimizerOptions } from "./minimizer.js";
import { doglegDescent, newtonCgDescent, newtonDescent, steihaugDescent } from "./newton-descents.js";
import { lineSearchRule, trustRegionRule, type LineSearchName, type StepRule } from "./steps.js";
import { DENSE_SOLVE_MAX_SIZE } from "../../linalg/solve.js";

/** Options of the line-search minimisers. */
export interface LineSearchMinimizerOptions extends MinimizerOptions {
  /**
   * The line search: "strongWolfe" (default of `LBFGS` and `BFGS`), "backtracking" (Armijo; default of `Newton`)
   * or "hagerZhang" (default of `NonlinearCG`).
   */
  lineSearch?: LineSearchName;
  /** Sufficient-decrease constant c₁ of the line search (default 1e-4; min(0.1, c₂) for "hagerZhang"). */
  c1?: number;
  /** Curvature constant c₂ of the Wolfe conditions (default 0.9; 0.1 for `NonlinearCG`). */
  c2?: number;
  /** Evaluations per line search (default 30). */
  maxLineSearchIter?: number;
}

/** @internal The option names of {@link LineSearchMinimizerOptions}. */
export const LINE_SEARCH_MINIMIZER_KEYS = [
  ...MINIMIZER_KEYS,
  "lineSearch",
  "c1",
  "c2",
  "maxLineSearchIter",
] as const satisfies readonly (keyof LineSearchMinimizerOptions)[];

const LINE_SEARCHES: readonly LineSearchName[] = ["strongWolfe", "backtracking", "hagerZhang"];

/** @internal The line-search rule of a solver's options, validated. */
export function lineSearchOf(
  who: string,
  opts: Pick<LineSearchMinimizerOptions, "lineSearch" | "c1" | "c2" | "maxLineSearchIter">,
  defaults: { lineSearch: LineSearchName; c2: number },
): StepRule<null> {
  const kind = opts.lineSearch ?? defaults.lineSearch;
  if (!LINE_SEARCHES.includes(kind)) {
    throw new ValueError(`${who}: lineSearch must be one of ${LINE_SEARCHES.join(", ")}, got "${String(kind)}"`);
  }
  const c2 = unitIntervalOption(opts.c2 ?? defaults.c2, who, "c2");
  const c1 = unitIntervalOption(opts.c1 ?? (kind === "hagerZhang" ? Math.min(0.1, c2) : 1e-4), who, "c1");
  if (!(c1 < c2) && !(kind === "hagerZhang" && c1 === c2)) {
    throw new ValueError(`${who}: need c1 < c2, got c1 = ${c1}, c2 = ${c2}`);
  }
  const maxIter = countOption(opts.maxLineSearchIter, 30, who, "maxLineSearchIter");
  return lineSearchRule(kind, { c1, c2, maxIter });
}

/** Options of {@link LBFGS}. */
export interface LBFGSOptions extends LineSearchMinimizerOptions {
  /** Number of curvature pairs kept (default 10). */
  historySize?: number;
}

/**
 * L-BFGS: the limited-memory BFGS method (Nocedal & Wright, Algorithm 7.5), for smooth problems of any size.
 * The inverse-Hessian approximation is the two-loop recursion over the last `historySize` curvature pairs,
 * scaled by γ = sᵀy/yᵀy of the newest pair; pairs with sᵀy ≤ ε·yᵀy are skipped, so it stays positive definite.
 * Strong-Wolfe line search by default. `error` is ‖∇f‖; the implicit derivative uses ∇f = 0.
 *
 * @example
 * ```ts
 * import { LBFGS, grad, tensor, sum, square, sub, mul, type Tensor } from "diffopt";
 * // Rosenbrock with a parameter a: the minimiser is (a, a²)
 * const f = (x: Tensor, a: Tensor) => {
 *   const [u, v] = [x.at(0).get(), x.at(1).get()];
 *   return square(sub(a, u)).add(mul(100, square(sub(v, square(u)))));
 * };
 * const solver = new LBFGS({ fun: f, tol: 1e-10 });
 * const { params, state } = solver.run(tensor([-1.2, 1]), tensor(1.5));
 * console.log(state.status, params.toArray()); // converged [≈ 1.5, ≈ 2.25]
 * grad((a) => sum(solver.run(tensor([-1.2, 1]), a).params))(tensor(1.5)).item(); // ≈ 4 (= 1 + 2a)
 * ```
 */
export class LBFGS extends Minimizer {
  /** Number of curvature pairs kept. */
  readonly historySize: number;
  /** @internal */
  protected readonly descent: Descent<unknown>;
  /** @internal */
  protected readonly rule: StepRule<unknown>;

  constructor(opts: LBFGSOptions) {
    super("LBFGS", opts, {
      keys: [...LINE_SEARCH_MINIMIZER_KEYS, "historySize"] satisfies (keyof LBFGSOptions)[],
      functions: ["fun"],
    });
    this.historySize = countOption(opts.historySize, 10, this.name, "historySize");
    this.descent = lbfgsDescent(this.historySize);
    this.rule = lineSearchOf(this.name, opts, { lineSearch: "strongWolfe", c2: 0.9 });
  }
}

/**
 * BFGS with a dense n×n inverse-Hessian approximation (Nocedal & Wright, Algorithm 6.1), for small problems
 * (it costs O(n²) memory and time per iteration); H₀ = (sᵀy/yᵀy) I is set at the first pair. Strong-Wolfe line
 * search by default. `error` is ‖∇f‖; the implicit derivative uses ∇f = 0.
 *
 * @example
 * ```ts
 * import { BFGS, tensor, square, sub, mul, type Tensor } from "diffopt";
 * const f = (x: Tensor) => {
 *   const [u, v] = [x.at(0).get(), x.at(1).get()];
 *   return square(sub(1, u)).add(mul(100, square(sub(v, square(u)))));
 * };
 * const { params } = new BFGS({ fun: f, tol: 1e-10 }).run(tensor([-1.2, 1]));
 * params.toArray(); // ≈ [1, 1]
 * ```
 */
export class BFGS extends Minimizer {
  /** @internal */
  protected readonly descent: Descent<unknown>;
  /** @internal */
  protected readonly rule: StepRule<unknown>;

  constructor(opts: LineSearchMinimizerOptions) {
    super("BFGS", opts, { keys: LINE_SEARCH_MINIMIZER_KEYS, functions: ["fun"] });
    this.descent = bfgsDescent();
    this.rule = lineSearchOf(this.name, opts, { lineSearch: "strongWolfe", c2: 0.9 });
  }
}

/** Options of {@link NonlinearCG}. */
export interface NonlinearCGOptions extends LineSearchMinimizerOptions {
  /** The formula for β (default "polakRibierePlus"). */
  method?: ConjugateGradientMethod;
  /** Restart with −∇f every `restartEvery` directions (default: the number of params). */
  restartEvery?: number;
}

const CG_METHODS: readonly ConjugateGradientMethod[] = [
  "polakRibierePlus",
  "fletcherReeves",
  "hestenesStiefel",
  "daiYuan",
];

/**
 * Nonlinear conjugate gradients p = −∇f + βp_prev (Nocedal & Wright §5.2) with β by Polak–Ribière+ (default),
 * Fletcher–Reeves, Hestenes–Stiefel or Dai–Yuan; restarts every n directions, on loss of orthogonality (Powell)
 * and whenever p is not a descent direction. Memory O(n): for large problems where L-BFGS's pairs are too many.
 * Hager–Zhang line search by default (σ = c₂ = 0.1; its approximate Wolfe conditions keep working when f is
 * flat to rounding, where a strong-Wolfe search stalls); strong Wolfe with c₂ = 0.1 as an option. `error` is ‖∇f‖.
 *
 * @example
 * ```ts
 * import { NonlinearCG, tensor, square, sub, mul, type Tensor } from "diffopt";
 * const f = (x: Tensor) => {
 *   const [u, v] = [x.at(0).get(), x.at(1).get()];
 *   return square(sub(1, u)).add(mul(100, square(sub(v, square(u)))));
 * };
 * const { params } = new NonlinearCG({ fun: f, method: "polakRibierePlus", tol: 1e-9, maxIter: 1000 }).run(tensor([-1.2, 1]));
 * params.toArray(); // ≈ [1, 1]
 * ```
 */
export class NonlinearCG extends Minimizer {
  /** The formula for β. */
  readonly method: ConjugateGradientMethod;
  /** @internal */
  protected readonly descent: Descent<unknown>;
  /** @internal */
  protected readonly rule: StepRule<unknown>;

  constructor(opts: NonlinearCGOptions) {
    super("NonlinearCG", opts, {
      keys: [...LINE_SEARCH_MINIMIZER_KEYS, "method", "restartEvery"] satisfies (keyof NonlinearCGOptions)[],
      functions: ["fun"],
    });
    const method = opts.method ?? "polakRibierePlus";
    if (!CG_METHODS.includes(method)) {
      throw new ValueError(`NonlinearCG: method must be one of ${CG_METHODS.join(", ")}, got "${String(method)}"`);
    }
    this.method = method;
    const every =
      opts.restartEvery === undefined ? undefined : countOption(opts.restartEvery, 1, this.name, "restartEvery");
    this.descent = nonlinearCgDescent(method, every);
    this.rule = lineSearchOf(this.name, opts, { lineSearch: "hagerZhang", c2: 0.1 });
  }
}

/** Options of {@link Newton}. */
export interface NewtonOptions extends LineSearchMinimizerOptions {
  /**
   * "dense": the Hessian by forward-over-reverse (n Hessian-vector products), shifted to be positive definite
   * when it is not, solved by Cholesky; "cg": Newton-CG, truncated CG on Hessian-vector products (matrix-free);
   * "auto" (default): dense when n ≤ 200.
   */
  method?: "auto" | "dense" | "cg";
  /** Newton-CG: CG iterations per direction (default 20·n). */
  maxCgIter?: number;
}

/**
 * Newton's method with a line search (backtracking Armijo by default: the full step is tried first). The
 * dense variant shifts the Hessian by the smallest τI (τ from 0, then doubling from 10⁻³·max|Hᵢᵢ|) that makes
 * it positive definite (Nocedal & Wright, Algorithm 3.3), so every direction descends; Newton-CG stops its CG at
 * negative curvature (Algorithm 7.1) with the forcing term min(½, √‖∇f‖). `error` is ‖∇f‖.
 *
 * @example
 * ```ts
 * import { Newton, tensor, square, sub, mul, type Tensor } from "diffopt";
 * const f = (x: Tensor) => {
 *   const [u, v] = [x.at(0).get(), x.at(1).get()];
 *   return square(sub(1, u)).add(mul(100, square(sub(v, square(u)))));
 * };
 * const { params, state } = new Newton({ fun: f, tol: 1e-10 }).run(tensor([-1.2, 1]));
 * params.toArray(); // ≈ [1, 1]
 * ```
 */
export class Newton extends Minimizer {
  /** "auto", "dense" or "cg". */
  readonly method: "auto" | "dense" | "cg";
  /** @internal */
  protected readonly descent: Descent<unknown>;
  /** @internal */
  protected readonly rule: StepRule<unknown>;

  constructor(opts: NewtonOptions) {
    super("Newton", opts, {
      keys: [...LINE_SEARCH_MINIMIZER_KEYS, "method", "maxCgIter"] satisfies (keyof NewtonOptions)[],
      functions: ["fun"],
    });
    const method = opts.method ?? "auto";
    if (!["auto", "dense", "cg"].includes(method)) {
      throw new ValueError(`Newton: method must be "auto", "dense" or "cg", got "${String(method)}"`);
    }
    this.method = method;
    const dense = newtonDescent();
    const cg = newtonCgDescent(cgIterations(this.name, opts.maxCgIter));
    this.descent =
      method === "dense"
        ? dense
        : method === "cg"
          ? cg
          : { ...dense, direction: (m) => (m.flatGrad.size <= DENSE_SOLVE_MAX_SIZE ? dense : cg).direction(m, null) };
    this.rule = lineSearchOf(this.name, opts, { lineSearch: "backtracking", c2: 0.9 });
  }
}

function cgIterations(who: string, maxCgIter: number | undefined): (n: number) => number {
  const cap = maxCgIter === undefined ? undefined : countOption(maxCgIter, 1, who, "maxCgIter");
  return (n) => cap ?? 20 * n;
}

/** Options of {@link TrustRegion}. */
export interface TrustRegionOptions extends MinimizerOptions {
  /** "steihaug" (default): Steihaug–Toint truncated CG, matrix-free; "dogleg": dense, for small problems. */
  method?: "steihaug" | "dogleg";
  /** Initial radius (default 1). */
  initialRadius?: number;
  /** Largest radius (default 1e4). */
  maxRadius?: number;
  /** Accept a step when actual/predicted decrease > eta (default 0.15), in [0, ¼). */
  eta?: number;
  /** Trial steps per iteration before stalling (default 50). */
  maxTrials?: number;
  /** Steihaug: CG iterations per subproblem (default 20·n). */
  maxCgIter?: number;
}

const TRUST_REGION_KEYS = [
  ...MINIMIZER_KEYS,
  "method",
  "initialRadius",
  "maxRadius",
  "eta",
  "maxTrials",
  "maxCgIter",
] as const satisfies readonly (keyof TrustRegionOptions)[];

/**
 * A trust-region Newton method on the exact Hessian (Nocedal & Wright, Algorithm 4.1): the step minimises the
 * quadratic model within radius Δ, approximately — by Steihaug–Toint truncated CG on Hessian-vector products
 * (default; matrix-free, handles negative curvature by going to the boundary) or by the dogleg path (dense
 * Hessian, shifted to be positive definite). Δ is quartered when the decrease is below a quarter of the
 * prediction and doubled when above three quarters on the boundary. An iteration is one accepted step.
 *
 * @example
 * ```ts
 * import { TrustRegion, tensor, square, sub, mul, type Tensor } from "diffopt";
 * const f = (x: Tensor) => {
 *   const [u, v] = [x.at(0).get(), x.at(1).get()];
 *   return square(sub(1, u)).add(mul(100, square(sub(v, square(u)))));
 * };
 * const { params } = new TrustRegion({ fun: f, method: "dogleg", tol: 1e-10 }).run(tensor([-1.2, 1]));
 * params.toArray(); // ≈ [1, 1]
 * ```
 */
export class TrustRegion extends Minimizer {
  /** "steihaug" or "dogleg". */
  readonly method: "steihaug" | "dogleg";
  /** @internal */
  protected readonly descent: Descent<unknown>;
  /** @internal */
  protected readonly rule: StepRule<unknown>;

  constructor(opts: TrustRegionOptions) {
    super("TrustRegion", opts, { keys: TRUST_REGION_KEYS, functions: ["fun"] });
    const method = opts.method ?? "steihaug";
    if (method !== "steihaug" && method !== "dogleg") {
      throw new ValueError(`TrustRegion: method must be "steihaug" or "dogleg", got "${String(method)}"`);
    }
    this.method = method;
    this.descent = method === "dogleg" ? doglegDescent() : steihaugDescent(cgIterations(this.name, opts.maxCgIter));
    this.rule = trustRegionOf(this.name, opts, "classical");
  }
}

/** @internal The trust-region rule of a solver's options, validated. */
export function trustRegionOf(
  who: string,
  opts: Pick<TrustRegionOptions, "initialRadius" | "maxRadius" | "eta" | "maxTrials">,
  update: "classical" | "nielsen",
) {
  const eta = opts.eta ?? (update === "classical" ? 0.15 : 0);
  if (!(eta >= 0 && eta < 0.25)) throw new ValueError(`${who}: eta must be in [0, 0.25), got ${eta}`);
  const maxTrials = countOption(opts.maxTrials, 50, who, "maxTrials");
  return trustRegionRule({
    update,
    initialSize: positiveOption(opts.initialRadius ?? 1, who, "initialRadius"),
    maxSize: update === "classical" ? positiveOption(opts.maxRadius ?? 1e4, who, "maxRadius") : Infinity,
    eta,
    maxTrials,
  });
}
