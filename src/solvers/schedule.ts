/**
 * Step-size schedules: a step size given as a function of the iteration number, as in JAXopt and Optax, for the
 * first-order solvers with a fixed step (gradient descent, proximal and projected gradient, mirror descent).
 * The schedule only changes how the solution is reached: the implicit derivative uses the solver's fixed-point
 * condition with the last step taken, and any positive step gives the same root.
 * @module
 */
import { ValueError } from "../core/errors.js";
import { positiveOption } from "./common.js";

/** A step size as a function of the iteration number k = 0, 1, 2, … (the update that produces iterate k + 1). */
export type StepsizeSchedule = (iterNum: number) => number;

/** @internal A fixed step or a schedule, checked: a schedule's values are checked when it is called. */
export interface Stepsize {
  /** The fixed step, or undefined for a schedule. */
  fixed: number | undefined;
  /** The step of update k (positive and finite, or a `ValueError` naming the solver). */
  at(iterNum: number): number;
}

/** @internal Reads a `stepsize` option that may be a number or a {@link StepsizeSchedule}. */
export function stepsizeOption(v: number | StepsizeSchedule, who: string): Stepsize {
  if (typeof v === "function") {
    return {
      fixed: undefined,
      at(k) {
        const eta = v(k);
        if (typeof eta !== "number" || !(eta > 0) || !Number.isFinite(eta))
          throw new ValueError(
            `${who}: the stepsize schedule must return a positive finite number, got ${String(eta)} at iteration ${k}`,
          );
        return eta;
      },
    };
  }
  const eta = positiveOption(v, who, "stepsize");
  return { fixed: eta, at: () => eta };
}
