/**
 * A tour of the projection and prox catalogues: a few projections, their exact Jacobians, and a gradient
 * through an entropic transport plan.
 *
 * Run: node --import tsx examples/projections.ts
 */
import { projection, prox, tensor, jacrev, grad, sum, mul, type Tensor } from "../src/index.js";

const fmt = (t: Tensor): string =>
  JSON.stringify(t.toArray(), (_k, v: unknown) => (typeof v === "number" ? Number(v.toFixed(4)) : v));

const x = tensor([0.8, 1.4, -0.3, 0.9]);
console.log("x                      ", fmt(x));
console.log("simplex(x)             ", fmt(projection.simplex(x)));
console.log("l1Ball(x, 1)           ", fmt(projection.l1Ball(x, 1)));
console.log("l2Ball(x, 1)           ", fmt(projection.l2Ball(x, 1)));
console.log("box(x, 0, 1)           ", fmt(projection.box(x, 0, 1)));
console.log("isotonic(x)            ", fmt(projection.isotonic(x)));
console.log("boxSection(x, 0, 0.6, 1, 1)", fmt(projection.boxSection(x, 0, 0.6, tensor([1, 1, 1, 1]), 1)));
console.log("lasso prox (λ = 0.5)   ", fmt(prox.lasso(x, 0.5)));

// The Jacobian of the simplex projection is diag(s) − ssᵀ/|s| on the support s.
console.log("\nJacobian of simplex at x:");
for (const row of jacrev((v: Tensor) => projection.simplex(v))(x).toArray() as number[][]) {
  console.log("  ", row.map((v) => v.toFixed(3).padStart(7)).join(" "));
}

// Derivative of the l2-ball projection with respect to its radius: x/‖x‖ outside the ball.
console.log("\nd l2Ball(x, r) / dr at r = 1:", fmt(jacrev((r: Tensor) => projection.l2Ball(x, r))(tensor(1))));

// Gradient of the expected cost under the entropic transport plan, by implicit differentiation of Sinkhorn.
const cost = tensor([
  [0, 1, 2],
  [1, 0, 1],
  [2, 1, 0],
]);
const a = tensor([0.5, 0.3, 0.2]);
const b = tensor([0.2, 0.3, 0.5]);
const expectedCost = (c: Tensor) => sum(mul(projection.transport(c, a, b, { epsilon: 0.5 }), c));
console.log("\ntransport plan (ε = 0.5):", fmt(projection.transport(cost, a, b, { epsilon: 0.5 })));
console.log("d⟨P(C), C⟩/dC:", fmt(grad(expectedCost)(cost)));
