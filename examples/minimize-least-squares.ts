/**
 * Nonlinear least squares: θ₀·exp(θ₁t) fitted by `GaussNewton` and `LevenbergMarquardt` (with and without
 * geodesic acceleration) to data it cannot match exactly, and why the implicit derivative must use the exact
 * condition Jᵀr = 0 (its Jacobian is the full Hessian JᵀJ + Σ rᵢ∇²rᵢ): the derivative of the fitted rate θ₁ with
 * respect to the data, exact (implicit) against finite differences of re-solved fits and against the Gauss–Newton
 * approximation (JᵀJ)⁻¹Jᵀ, which is off by a term proportional to the residual.
 *
 * Run: node --import tsx examples/minimize-least-squares.ts
 */
import {
  GaussNewton,
  LevenbergMarquardt,
  exp,
  grad,
  jacfwd,
  linalg,
  linspace,
  matmul,
  mul,
  sin,
  sub,
  tensor,
  type LeastSquaresSolver,
  type Tensor,
} from "../src/index.js";

const t = linspace(0, 3, 12);
// a decay with a ripple the model cannot follow: the residual at the fit is not zero
const y = mul(2, exp(mul(-0.7, t))).add(mul(0.1, sin(mul(4, t))));
const residuals = (theta: Tensor, y: Tensor) => sub(mul(theta.at(0).get(), exp(mul(theta.at(1).get(), t))), y);
const init = tensor([1, 0]);

const solvers: [string, LeastSquaresSolver][] = [
  ["GaussNewton", new GaussNewton({ residualFun: residuals, tol: 1e-12 })],
  ["LevenbergMarquardt", new LevenbergMarquardt({ residualFun: residuals, tol: 1e-12 })],
  [
    "LM + geodesic acceleration",
    new LevenbergMarquardt({ residualFun: residuals, tol: 1e-12, geodesicAcceleration: true }),
  ],
];
for (const [name, s] of solvers) {
  const { params, state } = s.run(init, y);
  const theta = [...(params as Tensor).data].map((v) => v.toFixed(8)).join(", ");
  const summary = `${state.iterNum} iterations, ${state.numFunEvals} f evals, ½‖r‖² = ${state.value.toExponential(3)}`;
  console.log(`${name.padEnd(28)} θ = [${theta}]  ${summary}, ${state.status}`);
}

const lm = solvers[1]![1];
const theta = lm.run(init, y).params as Tensor;
const rate = (yy: Tensor) => (lm.run(init, yy).params as Tensor).at(1).get();
const implicit = grad(rate)(y) as Tensor;
const h = 1e-5;
const fd = Array.from({ length: y.size }, (_, j) => {
  const e = new Float64Array(y.size);
  e[j] = h;
  return (rate(y.add(tensor(e))).item() - rate(y.sub(tensor(e))).item()) / (2 * h);
});
const J = jacfwd((th: Tensor) => residuals(th, y))(theta) as Tensor;
const gaussNewton = (linalg.solve(matmul(J.T, J), J.T).toArray() as number[][])[1]!;
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i]!)));
console.log(`\n∂θ₁/∂y (first 4 of ${y.size}):`);
console.log(`  implicit (exact condition) ${[...implicit.data.slice(0, 4)].map((v) => v.toFixed(6)).join("  ")}`);
console.log(
  `  finite differences         ${fd
    .slice(0, 4)
    .map((v) => v.toFixed(6))
    .join("  ")}`,
);
console.log(
  `  Gauss–Newton approximation ${gaussNewton
    .slice(0, 4)
    .map((v) => v.toFixed(6))
    .join("  ")}`,
);
console.log(
  `max |implicit − FD| = ${maxDiff(implicit.data, fd).toExponential(1)}; max |Gauss–Newton − FD| = ${maxDiff(gaussNewton, fd).toExponential(1)}`,
);
