/**
 * Step rules: the half of a minimiser that says how far to go along what a descent proposes. A line search
 * (strong Wolfe, backtracking Armijo, or Hager–Zhang) scales a direction p; a trust region tries the descent's
 * step for a size Δ (a radius, or 1/λ for a damped step), compares the actual decrease with the model's, and
 * adapts Δ — classically (Nocedal & Wright, Algorithm 4.1) or by Nielsen's damping update.
 *
 * Rules search on plain values (the step they return is built from the descent's values, so it is traced when
 * the run is unrolled: the chosen size is then a constant of the derivative).
 *
 * @internal
 * @module
 */
import { add, norm, scale, vdot, type Tree } from "../../core/tree.js";
import { stopGradient } from "../../core/transforms.js";
import {
  backtrackingLineSearch,
  decideBelow,
  hagerZhangLineSearch,
  wolfeLineSearch,
  type LineSearchFunction,
} from "../linesearch.js";
import type { LocalModel } from "./model.js";
import type { Direction } from "./descents.js";

/** The line searches a line-search minimiser can use. */
export type LineSearchName = "strongWolfe" | "backtracking" | "hagerZhang";

/** @internal What a step rule found: an accepted step, or why there is none. */
export type StepOutcome<R> =
  | {
      ok: true;
      /** The step (traced when the model is), the size that produced it, ⟨∇f, p⟩ for a line search. */
      step: Tree;
      size: number;
      slope: number;
      /** The new point, f and ∇f there, on plain values. */
      x: Tree;
      value: number;
      grad: Tree;
      numEvals: number;
      state: R;
    }
  | { ok: false; message: string; numEvals: number; state: R };

/** @internal What a rule is given: the plain objective along the search, the model, the direction, its state. */
export interface SearchContext<R> {
  f: LineSearchFunction;
  model: LocalModel;
  direction: Direction;
  state: R;
}

/** @internal A step rule with state R. */
export interface StepRule<R = unknown> {
  init(): R;
  search(ctx: SearchContext<R>): StepOutcome<R>;
}

/** @internal Options of {@link lineSearchRule}. */
export interface LineSearchRuleOptions {
  c1: number;
  c2: number;
  maxIter: number;
}

/**
 * @internal A line search along a descent's direction. A search that ends without its conditions but with a
 * decrease of f (or, when f changes by less than its rounding error, of ‖∇f‖) is accepted: its point is still
 * better. One without progress fails.
 */
export function lineSearchRule(kind: LineSearchName, opts: LineSearchRuleOptions): StepRule<null> {
  return {
    init: () => null,
    search: ({ f, model, direction }) => {
      if (direction.kind !== "line") throw new Error("internal error: a line search needs a line direction");
      const p = stopGradient(direction.p);
      const x0 = stopGradient(model.x);
      const g0 = stopGradient(model.grad);
      const slope = vdot(g0, p).raw[0]!;
      if (!(slope < 0)) {
        return {
          ok: false,
          message: `no descent direction: ⟨∇f, p⟩ = ${slope} is not negative`,
          numEvals: 0,
          state: null,
        };
      }
      const o = { initialStepsize: direction.initialStep ?? 1, c1: opts.c1, maxIter: opts.maxIter };
      const r =
        kind === "backtracking"
          ? backtrackingLineSearch(f, x0, model.value, g0, p, o)
          : kind === "hagerZhang"
            ? hagerZhangLineSearch(f, x0, model.value, g0, p, { ...o, c2: opts.c2 })
            : wolfeLineSearch(f, x0, model.value, g0, p, { ...o, c2: opts.c2 });
      // Within the rounding error of f, a smaller gradient is the only measurable progress.
      const progress =
        r.value < model.value ||
        (decideBelow(r.value, model.value, model.value) === null && norm(r.grad).raw[0]! < norm(g0).raw[0]!);
      if (!r.succeeded && !progress) {
        return {
          ok: false,
          message: `the ${kind} line search found no decrease of f along the direction in ${r.numEvals} evaluations (last step ${r.stepsize}); the objective may be non-smooth or the tolerance below its rounding error`,
          numEvals: r.numEvals,
          state: null,
        };
      }
      return {
        ok: true,
        step: scale(r.stepsize, direction.p),
        size: r.stepsize,
        slope,
        x: r.params,
        value: r.value,
        grad: r.grad,
        numEvals: r.numEvals,
        state: null,
      };
    },
  };
}

/** @internal The state of a trust region: the current size (null: not chosen yet) and Nielsen's factor ν. */
export interface RegionState {
  size: number | null;
  nu: number;
}

/** @internal Options of {@link trustRegionRule}. */
export interface TrustRegionRuleOptions {
  /** "classical": radius ×¼ when ρ < ¼, ×2 when ρ > ¾ on the boundary; "nielsen": λ = 1/size by Nielsen's rule. */
  update: "classical" | "nielsen";
  /** First size when the descent does not propose one. */
  initialSize: number;
  /** Largest size. */
  maxSize: number;
  /** Accept a step when ρ = actual/predicted decrease exceeds eta. */
  eta: number;
  /** Trial steps per iteration before the rule gives up. */
  maxTrials: number;
}

/** @internal A trust region (or damping) rule around a descent's family of steps. */
export function trustRegionRule(opts: TrustRegionRuleOptions): StepRule<RegionState> {
  return {
    init: () => ({ size: null, nu: 2 }),
    search: ({ f, model, direction, state }) => {
      if (direction.kind !== "region") throw new Error("internal error: a trust region needs a region direction");
      let size = state.size ?? direction.initialSize ?? opts.initialSize;
      let nu = state.nu;
      const x0 = stopGradient(model.x);
      const xNorm = norm(x0).raw[0]!;
      let numEvals = 0;
      for (let trial = 0; trial < opts.maxTrials; trial++) {
        const { step, predicted, boundary } = direction.step(size);
        const sp = stopGradient(step);
        const xt = add(x0, sp);
        let rho = -Infinity;
        let found: [number, Tree] | null = null;
        if (predicted > 0) {
          const v = f.value(xt);
          numEvals++;
          const below = decideBelow(v, model.value, model.value);
          rho = (model.value - v) / predicted;
          // A decrease within the rounding error of f cannot be compared with the model's: as for line searches,
          // a smaller gradient (with f unchanged to rounding) is then the measurable progress.
          if (below === null && predicted <= 16 * Number.EPSILON * Math.abs(model.value)) {
            found = f.valueAndGrad(xt);
            numEvals++;
            rho = norm(found[1]).raw[0]! < norm(stopGradient(model.grad)).raw[0]! ? 1 : -Infinity;
          }
        }
        const accepted = rho > opts.eta;
        const stepNorm = norm(sp).raw[0]!;
        if (opts.update === "classical") {
          if (rho < 0.25) size = 0.25 * Math.min(size, stepNorm > 0 ? stepNorm : size);
          else if (rho > 0.75 && boundary) size = Math.min(2 * size, opts.maxSize);
        } else if (accepted) {
          size /= Math.max(1 / 3, 1 - (2 * rho - 1) ** 3);
          nu = 2;
        } else {
          size /= nu;
          nu *= 2;
        }
        if (accepted) {
          if (found === null) numEvals++;
          const [value, grad] = found ?? f.valueAndGrad(xt);
          return {
            ok: true,
            step,
            size: stepNorm,
            slope: NaN,
            x: xt,
            value,
            grad,
            numEvals,
            state: { size, nu },
          };
        }
        if (!(size > Number.EPSILON * Math.max(1, xNorm) * 1e-2)) {
          return {
            ok: false,
            message: `the trust region collapsed (size ${size}) without an acceptable step: the model disagrees with f even for tiny steps; check the gradient or loosen tol`,
            numEvals,
            state: { size, nu },
          };
        }
      }
      return {
        ok: false,
        message: `no acceptable trust-region step in ${opts.maxTrials} trials (size now ${size})`,
        numEvals,
        state: { size, nu },
      };
    },
  };
}
