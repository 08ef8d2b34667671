/**
 * Helpers shared by the solver implementations.
 * @internal
 * @module
 */
import { NonScalarOutputError, ValueError } from "../core/errors.js";
import { Tensor } from "../core/tensor.js";
import { add, div, mul, sqrt } from "../core/ops/elementwise.js";
import { hvp, stopGradient, valueAndGrad } from "../core/transforms.js";
import { flatten, norm, vdot, type Tree } from "../core/tree.js";
import type { LineSearchFunction } from "./linesearch.js";
import type { ObjectiveFn } from "./conditions.js";

/** @internal [f(x, ...args), ∇ₓf], naming the solver if f is not scalar; differentiable in x and args. */
export function objectiveValueAndGrad(fun: ObjectiveFn, x: Tree, args: readonly Tree[], who: string): [Tensor, Tree] {
  try {
    return valueAndGrad(fun)(x, ...args) as [Tensor, Tree];
  } catch (e) {
    if (e instanceof NonScalarOutputError)
      throw new NonScalarOutputError(`${who}: fun must return a scalar: ${e.message}`);
    throw e;
  }
}

/** @internal The plain-value function a line search explores: f(·, ...args) with args detached. */
export function lineSearchFunction(fun: ObjectiveFn, args: readonly Tree[], who: string): LineSearchFunction {
  const plainArgs = stopGradient([...args] as Tree) as Tree[];
  return {
    value: (x) => stopGradient(fun(x, ...plainArgs) as Tensor).item(),
    valueAndGrad: (x) => {
      const [v, g] = objectiveValueAndGrad(fun, x, plainArgs, who);
      return [stopGradient(v).item(), g];
    },
  };
}

/** @internal ‖t‖ over all leaves, as a number (no derivative). */
export function normOf(t: Tree): number {
  return norm(stopGradient(t)).item();
}

/** @internal True when no leaf of `t` is traced. */
export function isConcrete(t: Tree): boolean {
  return flatten(t)[0].every((l) => l.level === 0);
}

/** @internal A positive finite number option. */
export function positiveOption(v: number, who: string, name: string): number {
  if (!(v > 0) || !Number.isFinite(v)) throw new ValueError(`${who}: ${name} must be positive and finite, got ${v}`);
  return v;
}

/** @internal An integer option ≥ 1 (its default when undefined). */
export function countOption(v: number | undefined, fallback: number, who: string, name: string): number {
  const n = v ?? fallback;
  if (!Number.isInteger(n) || n < 1) throw new ValueError(`${who}: ${name} must be a positive integer, got ${n}`);
  return n;
}

/** @internal A number option in (0, 1). */
export function unitIntervalOption(v: number, who: string, name: string): number {
  if (!(v > 0 && v < 1)) throw new ValueError(`${who}: ${name} must be in (0, 1), got ${v}`);
  return v;
}

/**
 * @internal The next FISTA / Nesterov momentum sequence value t_{k+1} = (1 + √(1 + 4t_k²)) / 2, with ops (so that
 * it batches; the same roundings as with numbers).
 */
export function nextMomentum(t: Tensor): Tensor {
  return div(add(sqrt(add(mul(mul(t, 4), t), 1)), 1), 2);
}

/**
 * @internal The curvature ⟨v, ∇²f(x) v⟩ / ‖v‖² of f(·, ...args) along v (a Rayleigh quotient of the Hessian, a
 * lower bound of its largest eigenvalue), on plain values; NaN when v = 0.
 */
export function curvatureAlong(fun: ObjectiveFn, x: Tree, v: Tree, args: readonly Tree[]): number {
  const plainArgs = stopGradient([...args] as Tree) as Tree[];
  const xp = stopGradient(x);
  const vp = stopGradient(v);
  const [hv] = hvp((z: Tree) => fun(z, ...plainArgs), [xp], [vp]);
  return stopGradient(vdot(vp, hv as Tree)).item() / normOf(vp) ** 2;
}
