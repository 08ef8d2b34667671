/**
 * Euclidean projections onto convex sets (and a few non-convex ones), each a differentiable function with an
 * exact derivative: a fast kernel gives the value, and the JVP/VJP are the closed-form Jacobian of the
 * projection at that point (simplex: diag(s) − ssᵀ/|s|; box: diag(1[l < x < u]); isotonic: block averaging;
 * PSD cone: the Daleckii–Krein formula; entropic transport: implicit differentiation of Sinkhorn).
 *
 * Conventions, as in JAXopt: `simplex`, `sparseSimplex` and `isotonic` act on the last axis (rows of a batch
 * independently); the balls, spheres, hyperplanes and `boxSection` act on the whole tensor; `box`,
 * `nonNegative`, `hypercube` and `linfBall` are coordinate-wise. Parameters (radius, bounds, a, b, …) are
 * numbers or tensors and are differentiated too.
 *
 * Pytrees: every projection except `secondOrderCone`, `transport` and `birkhoff` also accepts a pytree of tensors
 * (nested arrays and plain objects, as JAXopt's tuples and dicts) and projects each leaf, i.e. onto the product of
 * the sets; a parameter is shared by all leaves, or given per leaf as a pytree of the same structure.
 *
 * @example
 * ```ts
 * import { projection, jacrev, tensor } from "diffopt";
 * const x = tensor([0.5, 1.2, 0.1]);
 * projection.simplex(x).toArray(); // [0.15, 0.85, 0]
 * jacrev((v) => projection.simplex(v))(x).toArray(); // [[0.5, -0.5, 0], [-0.5, 0.5, 0], [0, 0, 0]]
 * ```
 * @module
 */
import * as boxes from "./box.js";
import * as simplices from "./simplex.js";
import * as balls from "./l2.js";
import * as affine from "./affine.js";
import * as iso from "./isotonic.js";
import * as psd from "./psd.js";
import { leafwise } from "./pytree.js";

// Each projection below also accepts a pytree of tensors, leaf by leaf (see `pytree.ts`); `@function` keeps
// the documentation of the tensor version.
/** @function */
export const nonNegative = leafwise(boxes.nonNegative);
/** @function */
export const box = leafwise(boxes.box);
/** @function */
export const hypercube = leafwise(boxes.hypercube);
/** @function */
export const linfBall = leafwise(boxes.linfBall);
/** @function */
export const simplex = leafwise(simplices.simplex);
/** @function */
export const sparseSimplex = leafwise(simplices.sparseSimplex);
/** @function */
export const l1Ball = leafwise(simplices.l1Ball);
/** @function */
export const l1Sphere = leafwise(simplices.l1Sphere);
/** @function */
export const l2Ball = leafwise(balls.l2Ball);
/** @function */
export const l2Sphere = leafwise(balls.l2Sphere);
/** @function */
export const hyperplane = leafwise(affine.hyperplane);
/** @function */
export const halfspace = leafwise(affine.halfspace);
/** @function */
export const affineSet = leafwise(affine.affineSet);
/** @function */
export const boxSection = leafwise(affine.boxSection);
/** @function */
export const isotonic = leafwise(iso.isotonic);
/** @function */
export const psdCone = leafwise(psd.psdCone);
export { secondOrderCone } from "./l2.js";
export type { IsotonicOptions } from "./isotonic.js";
export type { Leafwise } from "./pytree.js";
export { transport, birkhoff, type SinkhornOptions } from "./transport.js";
export { polyhedron } from "./polyhedron.js";
