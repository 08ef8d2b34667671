/**
 * `projection.polyhedron`: the Euclidean projection onto {y : Ay = b, Gy ≤ h}, as the QP
 * min ½‖y − x‖² s.t. Ay = b, Gy ≤ h (Q = I, c = −x) solved by `InteriorPointQP` and differentiated through its
 * active-set KKT conditions: in x, A, b, G and h. Where the active constraints 𝒜 are linearly independent and
 * strictly complementary, the Jacobian in x is the projector onto the null space of [A; G𝒜].
 *
 * @module
 */
import { ValueError } from "../core/errors.js";
import { eye, Tensor } from "../core/tensor.js";
import { neg } from "../core/ops/elementwise.js";
import { InteriorPointQP, type InteriorPointQPOptions } from "../solvers/qp/interior-point.js";
import type { LPConstraints } from "../solvers/qp/lp.js";

/**
 * Projection of the vector x onto the polyhedron {y : Ay = b, Gy ≤ h} (either pair may be omitted; A and G may
 * be LinearOperators), through the QP layer: differentiable in x and in every tensor of the constraints. An
 * empty polyhedron raises a `QPError` with status "primalInfeasible". Options are those of `InteriorPointQP`.
 *
 * @example
 * ```ts
 * import { projection, jacrev, tensor } from "diffopt";
 * // the triangle {y ≥ 0, y₀ + y₁ ≤ 1}
 * const G = tensor([[-1, 0], [0, -1], [1, 1]]);
 * const h = tensor([0, 0, 1]);
 * projection.polyhedron(tensor([1, 0.5]), { G, h }).toArray(); // ≈ [0.75, 0.25]
 * jacrev((x) => projection.polyhedron(x, { G, h }))(tensor([1, 0.5])).toArray(); // ≈ [[0.5, -0.5], [-0.5, 0.5]]
 * ```
 */
export function polyhedron(x: Tensor, constraints: LPConstraints, opts: InteriorPointQPOptions = {}): Tensor {
  if (!(x instanceof Tensor) || x.ndim !== 1) {
    const what = x instanceof Tensor ? `shape [${x.shape.join(", ")}]` : typeof x;
    throw new ValueError(`projection.polyhedron: x must be a vector (a 1-D tensor), got ${what}`);
  }
  if (constraints === null || typeof constraints !== "object") {
    throw new ValueError(`projection.polyhedron: constraints must be an object { A?, b?, G?, h? }`);
  }
  const solver = new InteriorPointQP(opts);
  return solver.run(undefined, { Q: eye(x.size), c: neg(x), ...constraints }).params.primal;
}
