/**
 * The problem families of root finding and fixed points, each owning its optimality condition once (as
 * Optimistix's rewrites do): a root finder of F(x, ...args) is differentiated through F = 0, a fixed-point
 * solver of T(x, ...args) through T(x) − x = 0. A new solver of either family inherits a correct implicit
 * derivative instead of restating its condition.
 *
 * Also the flat-vector view of a pytree that quasi-Newton and Anderson updates work in.
 * @internal
 * @module
 */
import { ShapeError } from "../core/errors.js";
import { Tensor } from "../core/tensor.js";
import { flatten, flattenLike, sub, unflatten, type Tree } from "../core/tree.js";
import { concatenate, split } from "../core/ops/join.js";
import { reshape } from "../core/ops/shape.js";
import type { ImplicitOptions } from "../implicit/root.js";
import { Solver, type SolverOptionSpec, type SolverOptions, type SolverState } from "./base.js";

/** A function F(x, ...args) (a root problem) or T(x, ...args) (a fixed-point problem): a pytree shaped like x. */
// `any` in user callbacks: users annotate their own parameter types, and a `(x: Tensor) => …` is not assignable to a `(x: Tree) => …`.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type VectorFieldFn = (x: any, ...args: any[]) => Tree;

/**
 * @internal The flat-vector view of pytrees shaped like `like`: `ravel` concatenates the leaves (differentiably),
 * `unravel` cuts a vector back into the structure. `who` names the solver when a value has another structure.
 */
export interface Raveler {
  /** Number of entries. */
  size: number;
  ravel(t: Tree, what: string): Tensor;
  unravel(v: Tensor): Tree;
}

/** @internal The {@link Raveler} of pytrees with the structure and shapes of `like`. */
export function raveler(like: Tree, who: string): Raveler {
  const [leaves, def] = flatten(like);
  const shapes = leaves.map((l) => l.shape);
  const sizes = leaves.map((l) => l.size);
  const size = sizes.reduce((a, b) => a + b, 0);
  const cuts: number[] = [];
  let acc = 0;
  for (const s of sizes.slice(0, -1)) cuts.push((acc += s));
  return {
    size,
    ravel(t, what) {
      const ls = flattenLike(t, def, leaves, `${who}: ${what} must have the structure and shapes of x`);
      if (ls.length === 0) throw new ShapeError(`${who}: x has no entries`);
      return ls.length === 1 ? reshape(ls[0]!, [size]) : concatenate(ls.map((l) => reshape(l, [l.size])));
    },
    unravel(v) {
      if (leaves.length === 1) return unflatten(def, [reshape(v, shapes[0]!)]);
      return unflatten(
        def,
        split(v, cuts).map((p, i) => reshape(p, shapes[i]!)),
      );
    },
  };
}

/**
 * Root finders of F(x, ...args) = 0 (F a pytree shaped like x). The family's condition is F itself; its
 * backward operator ∂ₓF has no structure to assume.
 */
export abstract class RootFinder<S extends SolverState = SolverState> extends Solver<S> {
  /** The function F(x, ...args) whose root is sought. */
  readonly fun: VectorFieldFn;

  protected constructor(name: string, fun: VectorFieldFn, opts: SolverOptions, spec?: SolverOptionSpec) {
    super(name, opts, spec);
    this.fun = fun;
  }

  /** F(params, ...args): zero at a root. */
  // `any`: each solver narrows the step-by-step methods' params and arguments (see `Solver.init` in base.ts).
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  optimalityFun(params: any, ...args: any[]): Tree {
    return this.fun(params, ...args);
  }

  protected implicitHints(): ImplicitOptions {
    return {};
  }
}

/**
 * Fixed-point solvers of x = T(x, ...args) (T a pytree shaped like x). The family's condition is T(x) − x;
 * its backward operator is ∂ₓT − I.
 */
export abstract class FixedPointSolver<S extends SolverState = SolverState> extends Solver<S> {
  /** The map T(x, ...args) whose fixed point is sought. */
  readonly fixedPointFun: VectorFieldFn;

  protected constructor(name: string, fixedPointFun: VectorFieldFn, opts: SolverOptions, spec?: SolverOptionSpec) {
    super(name, opts, spec);
    this.fixedPointFun = fixedPointFun;
  }

  /** T(params, ...args) − params: zero at a fixed point. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  optimalityFun(params: any, ...args: any[]): Tree {
    return sub(this.fixedPointFun(params, ...args), params);
  }

  protected implicitHints(): ImplicitOptions {
    return {};
  }
}
