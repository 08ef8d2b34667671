/**
 * What a descent sees of the problem at the current iterate: the value, the gradient, and the second-order
 * information a descent may ask for (Hessian-vector products, the Hessian as a linear operator, and for least
 * squares the Jacobian of the residuals). Everything is built lazily, so a quasi-Newton descent pays for one
 * gradient per iteration and nothing more.
 *
 * Second-order descents work on flat vectors (the pytree of params raveled leaf by leaf): a dense Hessian or
 * a Gauss–Newton matrix is an n×n matrix whatever the structure of the params. `ravel`/`unravel` are written
 * with differentiable ops, so that an unrolled run (`implicitDiff: false`) differentiates through them.
 *
 * @internal
 * @module
 */
import { Tensor, eye } from "../../core/tensor.js";
import { hvp, jvp, stopGradient, vjp } from "../../core/transforms.js";
import { flatten, unflatten, type Tree } from "../../core/tree.js";
import { concatenate, split } from "../../core/ops/join.js";
import { reshape } from "../../core/ops/shape.js";
import { mul } from "../../core/ops/elementwise.js";
import { LinearOperator, type AnyLinearOperator } from "../../linalg/operator.js";
import { DENSE_SOLVE_MAX_SIZE } from "../../linalg/solve.js";
import type { ObjectiveFn } from "../conditions.js";

/** @internal The params pytree as one vector [n] (differentiable). */
export function ravel(t: Tree): Tensor {
  const leaves = flatten(t)[0];
  if (leaves.length === 1) return reshape(leaves[0]!, [leaves[0]!.size]);
  return concatenate(leaves.map((l) => reshape(l, [l.size])));
}

/** @internal The vector `v` [n] as a pytree shaped like `like` (differentiable). */
export function unravel<T extends Tree>(v: Tensor, like: T): T {
  const [leaves, def] = flatten(like);
  if (leaves.length === 1) return unflatten<T>(def, [reshape(v, leaves[0]!.shape)]);
  const sizes: number[] = [];
  let acc = 0;
  for (const l of leaves.slice(0, -1)) sizes.push((acc += l.size));
  const parts = split(v, sizes);
  return unflatten<T>(
    def,
    parts.map((p, i) => reshape(p, leaves[i]!.shape)),
  );
}

/** The residual function r(params, ...args) of a least-squares problem: a pytree of residuals. */
// `any` in user callbacks: users annotate their own parameter types, and a `(x: Tensor) => …` is not assignable to a `(x: Tree) => …`.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ResidualFn = (params: any, ...args: any[]) => Tree;

/** @internal The least-squares part of a model: residuals and their Jacobian. */
export interface ResidualModel {
  /** The Jacobian J of r at x on flat vectors ([m] ← [n]), params (x, args): differentiable when unrolling. */
  jacobian(): AnyLinearOperator;
  /**
   * JᵀJ + λI on flat vectors, tagged positive definite (Gauss–Newton, λ = 0, assumes J has full column rank: a
   * solve then fails when it has not): dense when n ≤ 200 (J materialised once per iterate), matrix-free
   * otherwise.
   */
  normalOperator(lambda: number): AnyLinearOperator;
  /** The largest diagonal entry of JᵀJ when it is dense, else the curvature ‖Jg‖²/‖g‖² along the gradient. */
  normalScale(): number;
  /** The second directional derivative r''(x)[v, v] (for geodesic acceleration), raveled. */
  secondDirectional(v: Tensor): Tensor;
}

/** @internal The problem at the current iterate. */
export interface LocalModel {
  /** The iterate (plain values, or traced ones when unrolling). */
  readonly x: Tree;
  /** The problem's arguments. */
  readonly args: readonly Tree[];
  /** f(x) as a number. */
  readonly value: number;
  /** ∇f(x), shaped like x. */
  readonly grad: Tree;
  /** ∇f(x) raveled. */
  readonly flatGrad: Tensor;
  /** ∇²f(x)·v for v shaped like x. */
  hvp(v: Tree): Tree;
  /** ∇²f(x) on flat vectors, symmetric; params (x, args). Dense n×n when n ≤ 200 (n Hessian-vector products). */
  hessian(): AnyLinearOperator;
  /** Present for least-squares problems. */
  readonly lsq?: ResidualModel;
}

type At = { x: Tree; args: Tree[] };

/** @internal Builds the model of f at x; `residualFun` adds the least-squares part (then f = ½‖r‖²). */
export function localModel(
  fun: ObjectiveFn,
  x: Tree,
  args: readonly Tree[],
  value: number,
  grad: Tree,
  residualFun?: ResidualFn,
): LocalModel {
  const at: At = { x, args: [...args] };
  const n = flatten(x)[0].reduce((a, l) => a + l.size, 0);
  const hvpAt = (p: At, v: Tree): Tree => hvp((z: Tree) => fun(z, ...p.args), [p.x], [v])[0]!;
  let hessian: AnyLinearOperator | null = null;
  const model: LocalModel = {
    x,
    args,
    value,
    grad,
    flatGrad: ravel(grad),
    hvp: (v) => hvpAt(at, v),
    hessian() {
      if (hessian !== null) return hessian;
      const op = LinearOperator.fromFunction(
        (p: At, v: Tensor) => ravel(hvpAt(p, unravel(v, p.x))),
        at,
        new Tensor(new Float64Array(n), [n]),
        {
          tags: { symmetric: true },
        },
      );
      if (n > DENSE_SOLVE_MAX_SIZE) return (hessian = op);
      const H = op.materialize();
      // Rounding makes forward-over-reverse Hessians slightly asymmetric; the symmetric part is the Hessian.
      return (hessian = LinearOperator.fromMatrix(mul(H.add(H.T), 0.5), { symmetric: true }));
    },
  };
  if (residualFun === undefined) return model;
  const rAt = (p: At) => (z: Tree) => residualFun(z, ...p.args);
  let jac: AnyLinearOperator | null = null;
  let jtj: Tensor | null = null;
  const dense = n <= DENSE_SOLVE_MAX_SIZE;
  const tags = { symmetric: true, positiveDefinite: true };
  const lsq: ResidualModel = {
    jacobian() {
      if (jac !== null) return jac;
      const m = flatten(residualFun(x, ...args))[0].reduce((a, l) => a + l.size, 0);
      return (jac = LinearOperator.fromFunction(
        (p: At, v: Tensor) => ravel(jvp<Tree>(rAt(p), [p.x], [unravel(v, p.x)])[1]),
        at,
        new Tensor(new Float64Array(n), [n]),
        {
          outExample: new Tensor(new Float64Array(m), [m]),
          rmatvec: (p: At, u: Tensor) => {
            const [r, pullback] = vjp<Tree>(rAt(p), p.x);
            return ravel(pullback(unravel(u, r))[0]!);
          },
        },
      ));
    },
    normalOperator(lambda) {
      const J = lsq.jacobian();
      if (dense) {
        if (jtj === null) {
          const Jd = J.materialize();
          const A = Jd.T.matmul(Jd);
          jtj = mul(A.add(A.T), 0.5);
        }
        return LinearOperator.fromMatrix(lambda === 0 ? jtj : jtj.add(eye(n).mul(lambda)), tags);
      }
      return LinearOperator.fromFunction(
        (p: At, v: Tensor) => (J.rmv(p, J.mv(p, v)) as Tensor).add(mul(v, lambda)),
        at,
        J.inExample,
        { tags },
      );
    },
    normalScale() {
      if (dense) {
        lsq.normalOperator(0);
        let m = 0;
        const d = stopGradient(jtj!).raw;
        for (let i = 0; i < n; i++) m = Math.max(m, d[i * n + i]!);
        return m;
      }
      const g = stopGradient(model.flatGrad);
      const Jg = stopGradient(lsq.jacobian().matvec<Tensor>(g));
      return Jg.square().sum().raw[0]! / g.square().sum().raw[0]!;
    },
    secondDirectional(v) {
      const tv = unravel(v, x);
      const dr = (z: Tree) => jvp<Tree>(rAt(at), [z], [tv])[1];
      return ravel(jvp<Tree>(dr, [x], [tv])[1]);
    },
  };
  return { ...model, lsq };
}
