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
 * @example
 * ```ts
 * import { projection, jacrev, tensor } from "diffopt";
 * const x = tensor([0.5, 1.2, 0.1]);
 * projection.simplex(x).toArray(); // [0.15, 0.85, 0]
 * jacrev((v) => projection.simplex(v))(x).toArray(); // [[0.5, -0.5, 0], [-0.5, 0.5, 0], [0, 0, 0]]
 * ```
 * @module
 */
export { nonNegative, box, hypercube, linfBall } from "./box.js";
export { simplex, sparseSimplex, l1Ball, l1Sphere } from "./simplex.js";
export { l2Ball, l2Sphere, secondOrderCone } from "./l2.js";
export { hyperplane, halfspace, affineSet, boxSection } from "./affine.js";
export { isotonic, type IsotonicOptions } from "./isotonic.js";
export { psdCone } from "./psd.js";
export { transport, birkhoff, type SinkhornOptions } from "./transport.js";
export { polyhedron } from "./polyhedron.js";
