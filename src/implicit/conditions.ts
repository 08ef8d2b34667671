/**
 * Ready-made optimality conditions for `customRoot`: stationarity (F = ∇ₓf) and the KKT conditions of an
 * equality- and inequality-constrained problem.
 * @module
 */
import { grad, vjp } from "../core/transforms.js";
import { add, map } from "../core/tree.js";
import { mul } from "../core/ops/elementwise.js";
import { ValueError } from "../core/errors.js";
import type { Tree } from "../core/tree.js";
import type { OptimalityFn } from "./root.js";

/**
 * F(x, ...args) = ∇ₓ objective(x, ...args): the condition of an unconstrained minimiser. Its Jacobian in x is
 * the Hessian, symmetric (pass `symmetric: true`, or `positiveDefinite: true` for a strongly convex objective).
 *
 * @example
 * ```ts
 * import { customRoot, stationarity, grad, sum, square, sub, mul, tensor, type Tensor } from "diffopt";
 * // argmin_x ½‖x − θ‖² + ½λ‖x‖²  =  θ / (1 + λ)
 * const f = (x: Tensor, theta: Tensor, lam: Tensor) =>
 *   mul(0.5, sum(square(sub(x, theta)))).add(mul(0.5, mul(lam, sum(square(x)))));
 * const argmin = customRoot(stationarity(f), { positiveDefinite: true })(
 *   (_x0: Tensor, theta: Tensor, lam: Tensor) => theta.div(lam.add(1)),
 * );
 * grad((lam) => sum(argmin(tensor([0, 0]), tensor([1, 2]), lam)))(tensor(1)).item(); // -0.75
 * ```
 */
// `any` in user callbacks: users annotate their own parameter types, and a `(x: Tensor) => …` is not assignable to a `(x: Tree) => …`.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function stationarity(objective: (x: any, ...args: any[]) => Tree): OptimalityFn {
  return (x: Tree, ...args: Tree[]) => grad(objective)(x, ...args);
}

/** The primal–dual variable of {@link kktOptimality}: `z` primal, `nu` equality duals, `lam` inequality duals. */
export interface KKTVariable {
  z: Tree;
  nu?: Tree;
  lam?: Tree;
}

/**
 * KKT conditions of min_z f(z, θf) s.t. H(z, θh) = 0, G(z, θg) ≤ 0, for x = { z, nu, lam }:
 * F(x, θf, θh, θg) = { z: ∇f + ∂Hᵀν + ∂Gᵀλ, nu: H(z), lam: λ ∘ G(z) } (omit `eq`/`ineq` and their parts when
 * absent; pass `undefined` for an unused θ). The Jacobian is not symmetric: use `solve: "lu"` or `"gmres"`.
 *
 * @example
 * ```ts
 * import { customRoot, kktOptimality, grad, sum, square, sub, tensor } from "diffopt";
 * // min ½‖z − θ‖² s.t. sum(z) = 1: z* = θ − (sum(θ) − 1)/n
 * const F = kktOptimality((z, th) => sum(square(sub(z, th))).mul(0.5), { eq: (z) => sub(sum(z), 1).reshape([1]) });
 * const solve = customRoot(F, { solve: "lu" })((_x0, th) => {
 *   const nu = (sum(th).item() - 1) / th.size;
 *   return { z: sub(th, nu), nu: tensor([nu]) };
 * });
 * grad((th) => solve(undefined, th).z.sum())(tensor([1, 2])).toArray(); // [0, 0]
 * ```
 */
export function kktOptimality(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  objective: (z: any, theta?: any) => Tree,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  constraints: { eq?: (z: any, theta?: any) => Tree; ineq?: (z: any, theta?: any) => Tree } = {},
): (x: KKTVariable, thetaF?: Tree, thetaH?: Tree, thetaG?: Tree) => KKTVariable {
  const { eq, ineq } = constraints;
  return (x: KKTVariable, thetaF?: Tree, thetaH?: Tree, thetaG?: Tree) => {
    let stat = grad((z: Tree) => objective(z, thetaF))(x.z) as Tree;
    const out: KKTVariable = { z: stat };
    if (eq) {
      if (x.nu === undefined) throw new ValueError("kktOptimality: x.nu (equality duals) is required with eq");
      const [h, pullback] = vjp<Tree>((z: Tree) => eq(z, thetaH), x.z);
      stat = add(stat, pullback(x.nu)[0] as Tree);
      out.nu = h;
    }
    if (ineq) {
      if (x.lam === undefined) throw new ValueError("kktOptimality: x.lam (inequality duals) is required with ineq");
      const [g, pullback] = vjp<Tree>((z: Tree) => ineq(z, thetaG), x.z);
      stat = add(stat, pullback(x.lam)[0] as Tree);
      out.lam = mulTree(x.lam, g);
    }
    out.z = stat;
    return out;
  };
}

function mulTree(a: Tree, b: Tree): Tree {
  return map((x, y) => mul(x, y!), a, b);
}
