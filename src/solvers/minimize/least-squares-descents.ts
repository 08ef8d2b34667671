/**
 * Least-squares descents, for f = ½‖r(x)‖² with Jacobian J: Gauss–Newton (JᵀJ p = −Jᵀr, for a line search) and
 * the damped, Levenberg–Marquardt step (JᵀJ + λI) s = −Jᵀr indexed by the size 1/λ (for a trust-region rule),
 * optionally with Transtrum and Sethna's geodesic acceleration. The normal equations are solved with Cholesky
 * when n ≤ 200 and with CG on JᵀJ + λI otherwise (see `normalOperator` in `model.ts`).
 *
 * @internal
 * @module
 */
import { Tensor } from "../../core/tensor.js";
import { stopGradient } from "../../core/transforms.js";
import { LinearSolveError } from "../../linalg/dense/errors.js";
import { linearSolve, resolveSolver } from "../../linalg/solve.js";
import { unravel, type LocalModel, type ResidualModel } from "./model.js";
import type { Descent, RegionStep } from "./descents.js";

function residualModel(model: LocalModel, who: string): ResidualModel {
  if (model.lsq === undefined) throw new Error(`${who}: internal error, a least-squares descent needs residuals`);
  return model.lsq;
}

/**
 * (JᵀJ + λI) s = b, or the message of a failed solve (singular to working precision). Matrix-free CG is
 * inexact, with the forcing term min(0.1, √‖b‖) of inexact Newton methods: any CG iterate from zero is a
 * descent direction, and the tolerance tightens as the gradient vanishes.
 */
function normalSolve(lsq: ResidualModel, lambda: number, b: Tensor): Tensor | string {
  const op = lsq.normalOperator(lambda);
  try {
    if (resolveSolver(op) !== "cg") return linearSolve(op, b).value;
    const rtol = Math.min(0.1, Math.sqrt(b.square().sum().sqrt().raw[0]!));
    return linearSolve(op, b, { rtol, throwOnFailure: false }).value;
  } catch (e) {
    if (e instanceof LinearSolveError) return e.message;
    throw e;
  }
}

/** @internal Gauss–Newton: p = −(JᵀJ)⁻¹Jᵀr, for a line search. */
export function gaussNewtonDescent(): Descent<null> {
  return {
    init: () => null,
    direction: (model) => {
      const p = normalSolve(residualModel(model, "GaussNewton"), 0, model.flatGrad.neg());
      if (typeof p === "string") {
        return `the Gauss–Newton system JᵀJ p = −Jᵀr could not be solved (${p}): the Jacobian of the residuals is rank deficient or ill-conditioned; use LevenbergMarquardt`;
      }
      return { kind: "line", p: unravel(p, model.grad) };
    },
    update: () => null,
  };
}

/** @internal Options of {@link dampedDescent}. */
export interface DampedOptions {
  /** Initial damping λ₀ = τ·max diag(JᵀJ) (Nielsen). */
  tau: number;
  /** Geodesic acceleration: on, with the acceptance ratio α (2‖a‖/‖v‖ ≤ α). */
  geodesic: { alpha: number } | null;
}

/**
 * @internal The damped step s(Δ): (JᵀJ + λI) v = −Jᵀr with λ = 1/Δ; with geodesic acceleration, s = v + a/2 where
 * (JᵀJ + λI) a = −Jᵀ r''[v, v], rejected (NaN prediction) when 2‖a‖/‖v‖ > α. The predicted decrease is that of
 * the Gauss–Newton model, −⟨Jᵀr, s⟩ − ½‖Js‖².
 */
export function dampedDescent(opts: DampedOptions): Descent<null> {
  return {
    init: () => null,
    direction: (model) => {
      const lsq = residualModel(model, "LevenbergMarquardt");
      const g = model.flatGrad;
      const gp = stopGradient(g);
      const scaleJ = lsq.normalScale();
      return {
        kind: "region",
        initialSize: 1 / (opts.tau * (scaleJ > 0 ? scaleJ : 1)),
        step: (size): RegionStep => {
          const lambda = 1 / size;
          const v = normalSolve(lsq, lambda, g.neg());
          if (typeof v === "string") return { step: model.grad, boundary: false, predicted: NaN };
          let s = v;
          if (opts.geodesic !== null) {
            const a = normalSolve(lsq, lambda, lsq.jacobian().rmatvec<Tensor>(lsq.secondDirectional(v)).neg());
            if (typeof a === "string") return { step: model.grad, boundary: false, predicted: NaN };
            const ratio = (2 * a.square().sum().sqrt().raw[0]!) / v.square().sum().sqrt().raw[0]!;
            if (!(ratio <= opts.geodesic.alpha)) return { step: model.grad, boundary: false, predicted: NaN };
            s = v.add(a.mul(0.5));
          }
          const sp = stopGradient(s);
          const Js = stopGradient(lsq.jacobian().matvec<Tensor>(sp));
          const predicted = -gp.dot(sp).raw[0]! - 0.5 * Js.square().sum().raw[0]!;
          return { step: unravel(s, model.grad), boundary: true, predicted };
        },
      };
    },
    update: () => null,
  };
}
