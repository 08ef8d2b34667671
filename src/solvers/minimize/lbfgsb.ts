/**
 * `LBFGSB`: L-BFGS on a box lower ≤ x ≤ upper, the box family of the descent loop, differentiable with respect to
 * the bounds as well as the other arguments.
 *
 * ## The algorithm: projected L-BFGS with a two-metric direction
 * This is not the generalised-Cauchy-point algorithm of Byrd, Lu, Nocedal & Zhu; it is the projected quasi-Newton
 * method of Bertsekas (two-metric projection) with L-BFGS as the metric, which needs no subspace minimisation and
 * reuses the L-BFGS descent and the loop unchanged:
 * - the ε-active set A holds the coordinates within ε = min(10⁻³, ‖x − P(x − ∇f)‖) of a bound towards which the
 *   gradient pushes; the others are free (F);
 * - the direction is p_F = −[H(∇f ⊙ 1_F)]_F on the free coordinates (H the L-BFGS inverse Hessian) and
 *   p_A = −γ∇f_A on the active ones (a scaled gradient step, which the projection stops at the bound), so that
 *   ⟨∇f, p⟩ < 0 whenever x is not stationary;
 * - the step is a backtracking search along the projection arc x(t) = P(x + t p), accepted when
 *   f(x(t)) ≤ f(x) + c₁⟨∇f, x(t) − x⟩.
 * Near a solution with strictly complementary bounds, A is the true active set and the iteration is L-BFGS on the
 * free variables (superlinear in practice).
 *
 * ## The condition
 * The solution is the fixed point x = P(x − ∇f(x, ...args); lower, upper) of the projected gradient step, whose
 * residual x − P(x − ∇f) is the condition differentiated implicitly; P is a clip, differentiable in x and in the
 * bounds (with respect to a bound where it is active). `error` is ‖x − P(x − ∇f)‖.
 *
 * @module
 */
import { ShapeError, TreeMismatchError, ValueError } from "../../core/errors.js";
import { broadcastShapes, fmt } from "../../core/shape.js";
import { Tensor } from "../../core/tensor.js";
import { elementNote, forEachElement } from "../../core/element-values.js";
import { stopGradient } from "../../core/transforms.js";
import { flatten, map, sub, unflatten, vdot, type Tree } from "../../core/tree.js";
import { maximum, minimum, mul, sub as subOp } from "../../core/ops/elementwise.js";
import type { ImplicitOptions } from "../../implicit/root.js";
import { normOf, objectiveValueAndGrad, unitIntervalOption } from "../common.js";
import type { ObjectiveFn } from "../conditions.js";
import { decideBelow, gradientSlack } from "../linesearch.js";
import { lbfgsDescent, lbfgsInverseHessian, type Descent, type LbfgsMemory } from "./descents.js";
import { DescentMinimizer, MINIMIZER_KEYS, type MinimizerOptions, type MinimizerState } from "./minimizer.js";
import type { StepRule } from "./steps.js";
import { ravel, unravel } from "./model.js";
import { countOption } from "../common.js";
import type { RunParams, SolverResult } from "../base.js";

/** The bounds of {@link LBFGSB}: [lower, upper], each a pytree like params (or one number / tensor for all leaves). */
export type Bounds = readonly [Tree, Tree];

/** The bound leaves matching the leaves of x (a single leaf applies to every leaf of x). */
function boundLeaves(bound: Tree, xLeaves: readonly Tensor[], which: string): Tensor[] {
  const leaves = flatten(bound)[0];
  const out = leaves.length === 1 && xLeaves.length > 1 ? xLeaves.map(() => leaves[0]!) : leaves;
  if (out.length !== xLeaves.length) {
    throw new TreeMismatchError(
      `LBFGSB: the ${which} bound has ${leaves.length} leaves but params have ${xLeaves.length}; give one bound per leaf of params, or one for all`,
    );
  }
  out.forEach((b, i) => {
    const x = xLeaves[i]!;
    let ok: boolean;
    try {
      const shape = broadcastShapes(b.shape, x.shape, "LBFGSB");
      ok = shape.length === x.ndim && shape.every((d, k) => d === x.shape[k]);
    } catch {
      ok = false;
    }
    if (!ok) {
      throw new ShapeError(
        `LBFGSB: the ${which} bound of leaf ${i} has shape ${fmt(b.shape)}, which does not broadcast to the params shape ${fmt(x.shape)}`,
      );
    }
  });
  return out;
}

/** P(x) = clip(x, lower, upper) leafwise, differentiable in x and the bounds. */
function project(x: Tree, bounds: Bounds): Tree {
  const [xl, def] = flatten(x);
  const lo = boundLeaves(bounds[0], xl, "lower");
  const hi = boundLeaves(bounds[1], xl, "upper");
  return unflatten(
    def,
    xl.map((l, i) => minimum(maximum(l, lo[i]!), hi[i]!)),
  );
}

function checkBounds(bounds: unknown, init: Tree): Bounds {
  if (!Array.isArray(bounds) || bounds.length !== 2) {
    throw new ValueError("LBFGSB.run: bounds must be [lower, upper] (pytrees like params; ±Infinity allowed)");
  }
  const xl = flatten(init)[0];
  const lo = boundLeaves(bounds[0] as Tree, xl, "lower");
  const hi = boundLeaves(bounds[1] as Tree, xl, "upper");
  lo.forEach((l, i) =>
    // per batch element under vmap (the values of a batched bound are the whole batch's)
    forEachElement(subOp(hi[i]!, l), (d, element) => {
      for (let j = 0; j < d.length; j++) {
        if (!(d[j]! >= 0)) {
          throw new ValueError(
            `LBFGSB.run: lower > upper (or a NaN bound) in leaf ${i} of the bounds at flat index ${j}${elementNote(element)}; need lower ≤ upper`,
          );
        }
      }
    }),
  );
  return bounds as unknown as Bounds;
}

/** The state of {@link LBFGSB}. */
export type LBFGSBState = MinimizerState;

/** Options of {@link LBFGSB}. */
export interface LBFGSBOptions extends MinimizerOptions {
  /** Number of curvature pairs kept (default 10). */
  historySize?: number;
  /** Sufficient-decrease constant of the projected backtracking search (default 1e-4). */
  c1?: number;
  /** Evaluations per search (default 30). */
  maxLineSearchIter?: number;
}

/** The two-metric direction: L-BFGS on the free coordinates, a scaled gradient on the ε-active ones. */
function twoMetricDescent(historySize: number): Descent<LbfgsMemory> {
  const inner = lbfgsDescent(historySize);
  return {
    init: inner.init,
    reset: inner.reset,
    update: inner.update,
    direction: (model, mem) => {
      const bounds = model.args[0] as Bounds;
      const x = stopGradient(model.x);
      const g = stopGradient(model.grad);
      const eps = Math.min(1e-3, normOf(sub(x, project(sub(x, g), bounds))));
      const [xl, def] = flatten(x);
      const gl = flatten(g)[0];
      const lo = boundLeaves(bounds[0], xl, "lower").map((b) => stopGradient(b));
      const hi = boundLeaves(bounds[1], xl, "upper").map((b) => stopGradient(b));
      const masks = xl.map((l, i) => {
        const m = new Float64Array(l.size);
        const lower = lo[i]!.size === 1 ? null : lo[i]!.raw;
        const upper = hi[i]!.size === 1 ? null : hi[i]!.raw;
        for (let j = 0; j < l.size; j++) {
          const lb = lower === null ? lo[i]!.raw[0]! : lower[j]!;
          const ub = upper === null ? hi[i]!.raw[0]! : upper[j]!;
          const gj = gl[i]!.raw[j]!;
          const active = (l.raw[j]! - lb <= eps && gj > 0) || (ub - l.raw[j]! <= eps && gj < 0);
          m[j] = active ? 0 : 1;
        }
        return new Tensor(m, l.shape);
      });
      const free = unflatten(def, masks);
      const fixed = map((m) => subOp(1, m), free);
      const gFree = map((a, m) => mul(a, m!), model.grad, free);
      const gFixed = map((a, m) => mul(a, m!), model.grad, fixed);
      if (mem.s.length === 0) {
        const first = Math.min(1, 1 / Math.max(normOf(g), Number.MIN_VALUE));
        return { kind: "line", p: map((a) => a.neg(), model.grad), initialStep: first };
      }
      const H = lbfgsInverseHessian(mem, model.flatGrad.size);
      const hg = unravel(H.matvec<Tensor>(ravel(gFree)), model.grad);
      const gamma = mem.gamma!;
      const p = map((h, m, a) => mul(h, m!).add(mul(a!, gamma)).neg(), hg, free, gFixed);
      return { kind: "line", p };
    },
  };
}

/** Backtracking along the projection arc P(x + t p), with the Armijo test on ⟨∇f, x(t) − x⟩. */
function projectedBacktracking(c1: number, maxIter: number): StepRule<null> {
  return {
    init: () => null,
    search: ({ f, model, direction }) => {
      if (direction.kind !== "line") throw new Error("internal error: a line search needs a line direction");
      const bounds = model.args[0] as Bounds;
      const plainBounds = stopGradient(bounds as unknown as Tree) as unknown as Bounds;
      const x0 = stopGradient(model.x);
      const g0 = stopGradient(model.grad);
      const p = stopGradient(direction.p);
      let t = direction.initialStep ?? 1;
      for (let i = 0; i < maxIter; i++) {
        const xt = project(
          map((a, b) => a.add(mul(b!, t)), x0, p),
          plainBounds,
        );
        const d = sub(xt, x0);
        const decrease = vdot(g0, d).raw[0]!;
        if (decrease < 0) {
          const v = f.value(xt);
          let ok = decideBelow(v, model.value + c1 * decrease, model.value);
          let found: [number, Tree] | null = null;
          if (ok === null) {
            found = f.valueAndGrad(xt);
            ok = (decrease + vdot(found[1], d).raw[0]!) / 2 <= c1 * decrease + gradientSlack(g0, found[1], d);
          }
          if (ok) {
            const [value, grad] = found ?? f.valueAndGrad(xt);
            const step = sub(
              project(
                map((a, b) => a.add(mul(b!, t)), model.x, direction.p),
                bounds,
              ),
              model.x,
            );
            return { ok: true, step, size: t, slope: decrease, x: xt, value, grad, numEvals: i + 2, state: null };
          }
        }
        t *= 0.5;
      }
      return {
        ok: false,
        message: `the projected backtracking search found no decrease of f along the projection arc in ${maxIter} trials`,
        numEvals: maxIter,
        state: null,
      };
    },
  };
}

/**
 * L-BFGS for min f(x, ...args) subject to lower ≤ x ≤ upper (bounds may be ±Infinity), by a projected,
 * two-metric L-BFGS method (see the module notes for the algorithm and why it is not Byrd et al.'s). Call
 * `run(init, [lower, upper], ...args)`; `init` is projected onto the box first. The solution is differentiable
 * with respect to the bounds and to `args`, implicitly through the projected-gradient fixed point (its backward
 * system is not symmetric: LU when small, GMRES otherwise). `error` is ‖x − P(x − ∇f)‖.
 *
 * @example
 * ```ts
 * import { LBFGSB, grad, tensor, sum, square, sub, type Bounds, type Tensor } from "diffopt";
 * const f = (x: Tensor, c: Tensor) => sum(square(sub(x, c)));
 * const solver = new LBFGSB({ fun: f, tol: 1e-10 });
 * const bounds: Bounds = [tensor([0, 0]), tensor([1, Infinity])];
 * solver.run(tensor([0.5, 0.5]), bounds, tensor([2, -1])).params.toArray(); // [1, 0]
 * // the solution moves with the active upper bound of x₀, not with c₀
 * grad((u) => sum(solver.run(tensor([0.5, 0.5]), [tensor([0, 0]), u], tensor([2, -1])).params))(
 *   tensor([1, Infinity]),
 * ).toArray(); // [1, 0]
 * ```
 */
export class LBFGSB extends DescentMinimizer {
  /** The objective f(params, ...args). */
  readonly fun: ObjectiveFn;
  /** Number of curvature pairs kept. */
  readonly historySize: number;
  protected readonly objective: ObjectiveFn;
  /** @internal */
  protected readonly descent: Descent<unknown>;
  /** @internal */
  protected readonly rule: StepRule<unknown>;

  constructor(opts: LBFGSBOptions) {
    super("LBFGSB", opts, {
      keys: [...MINIMIZER_KEYS, "historySize", "c1", "maxLineSearchIter"] satisfies (keyof LBFGSBOptions)[],
      functions: ["fun"],
    });
    this.fun = opts.fun;
    this.objective = (x, _bounds, ...args) => opts.fun(x, ...args);
    this.historySize = countOption(opts.historySize, 10, this.name, "historySize");
    const maxIter = countOption(opts.maxLineSearchIter, 30, this.name, "maxLineSearchIter");
    this.descent = twoMetricDescent(this.historySize);
    this.rule = projectedBacktracking(unitIntervalOption(opts.c1 ?? 1e-4, this.name, "c1"), maxIter);
  }

  /** Solves from `init` (projected onto the box) within `bounds = [lower, upper]`. */
  override run<P>(init: P, bounds: Bounds, ...args: unknown[]): SolverResult<MinimizerState, RunParams<this, P>> {
    checkBounds(bounds, init as Tree);
    return super.run(
      project(stopGradient(init as Tree), stopGradient(bounds as unknown as Tree) as unknown as Bounds),
      bounds,
      ...args,
    ) as unknown as SolverResult<MinimizerState, RunParams<this, P>>;
  }

  protected override errorOf(x: Tree, g: Tree, args: readonly Tree[]): number {
    return normOf(sub(x, project(sub(x, g), args[0] as unknown as Bounds)));
  }

  /** The projected-gradient residual x − P(x − ∇f(x, ...args); lower, upper), zero at a solution. */
  // `any`: each solver narrows the step-by-step methods' params and arguments (see `Solver.init` in base.ts).
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  optimalityFun(params: any, bounds: Bounds, ...args: any[]): Tree {
    const g = objectiveValueAndGrad(this.fun, params, args, this.name)[1];
    return sub(params, project(sub(params, g), bounds));
  }

  protected implicitHints(): ImplicitOptions {
    return {};
  }
}
