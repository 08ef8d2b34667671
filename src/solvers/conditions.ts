/**
 * The fixed points the solvers iterate, as standalone functions T(x, ...args): a solution satisfies
 * x* = T(x*, ...args). Pass them to `customFixedPoint` to differentiate a solution implicitly, whichever solver
 * produced it (solve with block coordinate descent, differentiate with the mirror-descent fixed point…).
 * The derivative of x*(θ) does not depend on the step size used in T; the step only affects the conditioning
 * of the backward linear system (1/L, with L the Lipschitz constant of the gradient, is a good choice).
 *
 * Every map is written with differentiable ops, so the implicit derivative can itself be differentiated.
 * @module
 */
import { ShapeError, ValueError } from "../core/errors.js";
import { fmt } from "../core/shape.js";
import { Tensor, asTensor, type TensorLike } from "../core/tensor.js";
import { grad, stopGradient } from "../core/transforms.js";
import { sub, scale, type Tree } from "../core/tree.js";
import { add as addOp, div, exp, log, maximum, mul, sub as subOp } from "../core/ops/elementwise.js";
import { max, sum } from "../core/ops/reduce.js";
import { padAxis, sliceAxis } from "../core/ops/join.js";
import { reshape } from "../core/ops/shape.js";

/** A smooth objective f(params, ...args) returning a scalar tensor. */
// `any` in user callbacks: users annotate their own parameter types, and a `(x: Tensor) => …` is not assignable to a `(x: Tree) => …`.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ObjectiveFn = (params: any, ...args: any[]) => Tensor;

/** A proximal operator prox_{scaling·g}(x, hyperparams), as `prox.lasso(x, l1reg, scaling)`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ProxFn = (x: any, hyperparams: any, scaling: number) => Tree;

/** A projection onto a set C(hyperparams), as `projection.simplex(x, value)`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ProjectionFn = (x: any, hyperparams: any) => Tree;

function checkStepsize(stepsize: number, fn: string): number {
  if (!(stepsize > 0) || !Number.isFinite(stepsize))
    throw new ValueError(`${fn}: stepsize must be positive and finite, got ${stepsize}`);
  return stepsize;
}

/** x − η∇f(x, ...args), leafwise over the params pytree. */
function gradientStep(fun: ObjectiveFn, stepsize: number, x: Tree, args: readonly Tree[]): Tree {
  return sub(x, scale(stepsize, grad(fun)(x, ...args) as Tree));
}

/**
 * The gradient-descent fixed point T(x, ...args) = x − η∇ₓf(x, ...args). Its backward operator I − ∂ₓT = η∇²f
 * is symmetric (positive definite for a strongly convex f).
 *
 * @example
 * ```ts
 * import { gradientStepFixedPoint, customFixedPoint, grad, sum, square, sub, tensor, type Tensor } from "diffopt";
 * const f = (x: Tensor, theta: Tensor) => sum(square(sub(x, theta))).mul(0.5);
 * const T = gradientStepFixedPoint(f, 1);
 * const argmin = customFixedPoint(T, { positiveDefinite: true })((_x0, theta) => theta);
 * grad((theta) => sum(argmin(tensor([0, 0]), theta)))(tensor([1, 2])).toArray(); // [1, 1]
 * ```
 */
export function gradientStepFixedPoint(fun: ObjectiveFn, stepsize = 1): (x: Tree, ...args: Tree[]) => Tree {
  const eta = checkStepsize(stepsize, "gradientStepFixedPoint");
  return (x, ...args) => gradientStep(fun, eta, x, args);
}

/**
 * The proximal-gradient fixed point T(x, hyperparamsProx, ...args) = prox(x − η∇ₓf(x, ...args), hyperparamsProx, η)
 * for min f(x, ...args) + g(x, hyperparamsProx) (argument order of `ProximalGradient.run`).
 *
 * @example
 * ```ts
 * import { proxGradFixedPoint, prox, sum, square, sub, tensor, type Tensor } from "diffopt";
 * const f = (x: Tensor, y: Tensor) => sum(square(sub(x, y))).mul(0.5);
 * const T = proxGradFixedPoint(f, prox.lasso, 1);
 * (T(tensor([1, 0]), tensor(0.5), tensor([1.5, 0.2])) as Tensor).toArray(); // the lasso solution [1, 0] is fixed
 * ```
 */
export function proxGradFixedPoint(
  fun: ObjectiveFn,
  prox: ProxFn,
  stepsize = 1,
): (x: Tree, hyperparamsProx: Tree, ...args: Tree[]) => Tree {
  const eta = checkStepsize(stepsize, "proxGradFixedPoint");
  return (x, hyperparamsProx, ...args) => prox(gradientStep(fun, eta, x, args), hyperparamsProx, eta);
}

/**
 * The projected-gradient fixed point T(x, hyperparamsProj, ...args) = proj(x − η∇ₓf(x, ...args), hyperparamsProj)
 * for min f(x, ...args) over C(hyperparamsProj) (argument order of `ProjectedGradient.run`; a null
 * `hyperparamsProj` is passed to the projection as undefined, i.e. its default).
 *
 * @example
 * ```ts
 * import { projectedGradientFixedPoint, projection, sum, square, sub, tensor, type Tensor } from "diffopt";
 * const f = (x: Tensor, y: Tensor) => sum(square(sub(x, y))).mul(0.5);
 * const T = projectedGradientFixedPoint(f, projection.simplex, 1);
 * (T(tensor([1, 0]), tensor(1), tensor([2, 0])) as Tensor).toArray(); // [1, 0]: the projection of y is fixed
 * ```
 */
export function projectedGradientFixedPoint(
  fun: ObjectiveFn,
  projection: ProjectionFn,
  stepsize = 1,
): (x: Tree, hyperparamsProj: Tree, ...args: Tree[]) => Tree {
  const eta = checkStepsize(stepsize, "projectedGradientFixedPoint");
  return (x, hyperparamsProj, ...args) => projection(gradientStep(fun, eta, x, args), hyperparamsProj ?? undefined);
}

/**
 * @internal The KL mirror step on the rows (last axis) of `x` on the simplex: softmax(log x − η g) computed
 * in the multiplicative form x ∘ exp(−η g − m) / Σ (m the row max of log x − η g, held fixed), which is exact,
 * cannot overflow, and stays differentiable where coordinates of x are zero.
 */
export function klMirrorStep(x: Tensor, g: Tensor, stepsize: number): Tensor {
  const scaled = mul(g, -stepsize);
  const xs = stopGradient(x);
  const logits = addOp(log(maximum(xs, Number.MIN_VALUE)), stopGradient(scaled));
  const m = max(logits, { axis: -1, keepdims: true });
  // exp(−ηg_i − m) ≤ 1/x_i, so it can only overflow where x_i < e⁻⁷⁰⁰: cap it so that 0 · factor stays 0.
  const factor = exp(capExponent(subOp(scaled, m)));
  const w = mul(x, factor);
  return div(w, sum(w, { axis: -1, keepdims: true }));
}

/** Caps the values of exponents at 700 (e^700 is finite), keeping derivative 1. */
function capExponent(z: Tensor): Tensor {
  return subOp(z, maximum(subOp(stopGradient(z), 700), 0));
}

/** @internal Checks that `x` is a tensor of rows on the simplex (non-negative, summing to 1 within 1e-6). */
export function checkSimplexRows(x: Tensor, who: string, arg: string): void {
  if (x.ndim === 0)
    throw new ShapeError(`${who}: ${arg} must have at least one axis (rows on the simplex), got a scalar`);
  const k = x.shape[x.ndim - 1]!;
  const d = x.raw;
  for (let r = 0; r < d.length / k; r++) {
    let s = 0;
    for (let j = r * k; j < (r + 1) * k; j++) {
      if (!(d[j]! >= 0))
        throw new ValueError(
          `${who}: ${arg} has a negative or NaN entry ${d[j]} at flat index ${j}; rows must lie on the simplex`,
        );
      s += d[j]!;
    }
    if (Math.abs(s - 1) > 1e-6)
      throw new ValueError(`${who}: row ${r} of ${arg} sums to ${s}, not 1; rows must lie on the simplex`);
  }
}

/**
 * The mirror-descent fixed point with the KL geometry on simplices: every row (last axis) of x lies on the
 * probability simplex and T(x, ...args) = softmax(log x − η∇ₓf(x, ...args)) row-wise, computed in a stable
 * multiplicative form (exact, no overflow, differentiable at zero coordinates).
 *
 * @example
 * ```ts
 * import { mirrorDescentFixedPoint, sum, mul, tensor, type Tensor } from "diffopt";
 * const f = (x: Tensor, c: Tensor) => sum(mul(x, c)); // linear: the minimiser puts all mass on the smallest cost
 * const T = mirrorDescentFixedPoint(f, 1);
 * T(tensor([1, 0]), tensor([0, 1])).toArray(); // [1, 0]
 * ```
 */
export function mirrorDescentFixedPoint(fun: ObjectiveFn, stepsize = 1): (x: TensorLike, ...args: Tree[]) => Tensor {
  const eta = checkStepsize(stepsize, "mirrorDescentFixedPoint");
  return (x, ...args) => {
    const xt = asTensor(x);
    return klMirrorStep(xt, grad(fun)(xt, ...args) as Tensor, eta);
  };
}

/** A proximal operator of one block (a row of the params matrix), as `prox.lasso(row, l1reg, scaling)`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type BlockProxFn = (block: Tensor, hyperparams: any, scaling: number) => Tensor;

/** @internal Per-block step sizes as an array of length `m`. */
export function blockStepsizes(stepsizes: number | readonly number[], m: number, who: string): number[] {
  const s = typeof stepsizes === "number" ? new Array<number>(m).fill(stepsizes) : [...stepsizes];
  if (s.length !== m) throw new ShapeError(`${who}: expected ${m} block step sizes (one per row), got ${s.length}`);
  s.forEach((v) => checkStepsize(v, who));
  return s;
}

/** @internal Row j of `x` (shape x.shape[1:]). */
export function rowOf(x: Tensor, j: number): Tensor {
  return reshape(sliceAxis(x, 0, j, j + 1), x.shape.slice(1));
}

/** @internal `x` with row j replaced by `row`. */
export function withRow(x: Tensor, j: number, row: Tensor): Tensor {
  const delta = subOp(row, rowOf(x, j));
  return addOp(x, padAxis(reshape(delta, [1, ...x.shape.slice(1)]), 0, j, x.shape[0]!));
}

/**
 * The block proximal-gradient fixed point of block coordinate descent, blocks being the rows (axis 0) of the
 * params tensor: T(x, hyperparamsProx, ...args)_j = blockProx(x_j − η_j[∇ₓf(x, ...args)]_j, hyperparamsProx, η_j),
 * with one step size per row (or one for all).
 *
 * @example
 * ```ts
 * import { blockProxGradFixedPoint, projection, sum, square, sub, tensor, type Tensor } from "diffopt";
 * const f = (x: Tensor, y: Tensor) => sum(square(sub(x, y))).mul(0.5);
 * const T = blockProxGradFixedPoint(f, (row) => projection.simplex(row), [1, 1]);
 * T(tensor([[1, 0], [0.5, 0.5]]), null, tensor([[2, 0], [0.3, 0.3]])).toArray(); // [[1, 0], [0.5, 0.5]]
 * ```
 */
export function blockProxGradFixedPoint(
  fun: ObjectiveFn,
  blockProx: BlockProxFn,
  stepsizes: number | readonly number[] = 1,
): (x: TensorLike, hyperparamsProx: Tree, ...args: Tree[]) => Tensor {
  return (x, hyperparamsProx, ...args) => {
    const xt = asTensor(x);
    if (xt.ndim === 0)
      throw new ShapeError(`blockProxGradFixedPoint: x must have a block axis 0, got shape ${fmt(xt.shape)}`);
    const m = xt.shape[0]!;
    const etas = blockStepsizes(stepsizes, m, "blockProxGradFixedPoint");
    const g = grad(fun)(xt, ...args) as Tensor;
    let out = xt;
    for (let j = 0; j < m; j++) {
      const step = subOp(rowOf(xt, j), mul(rowOf(g, j), etas[j]!));
      out = withRow(out, j, blockProx(step, hyperparamsProx, etas[j]!));
    }
    return out;
  };
}
