/**
 * The unconstrained minimisers on L2-regularised logistic regression (seeded synthetic data): iterations and
 * evaluations of each to ‖∇f‖ ≤ 1e-9, the same solution from all, and the hypergradient of a validation loss
 * with respect to the regularisation strength by implicit differentiation of ∇f = 0, against finite
 * differences of re-solved problems and against differentiating the unrolled L-BFGS iterations.
 *
 * Run: node --import tsx examples/minimize-unconstrained.ts
 */
import {
  BFGS,
  LBFGS,
  Newton,
  NonlinearCG,
  TrustRegion,
  grad,
  mul,
  objective,
  random,
  square,
  sum,
  tensor,
  zeros,
  type DescentMinimizer,
  type Tensor,
} from "../src/index.js";

const [kx, kw, ky, kv] = random.split(random.key(3), 4);
const d = 20;
const X = random.normal(kx!, [200, d]);
const Xval = random.normal(kv!, [100, d]);
const wTrue = random.normal(kw!, [d]);
const labels = (A: Tensor, u: Tensor) => {
  const p = mul(A.matmul(wTrue), -1).exp().add(1).pow(-1).data;
  return tensor(Array.from(u.data, (ui, i) => (ui < p[i]! ? 1 : 0)));
};
const [ku, kuv] = random.split(ky!, 2);
const y = labels(X, random.uniform(ku!, [200]));
const yval = labels(Xval, random.uniform(kuv!, [100]));

// f(w; λ) = mean logistic loss + ½λ‖w‖²
const fun = (w: Tensor, lam: Tensor, data: [Tensor, Tensor]) =>
  objective.binaryLogreg(w, data).add(mul(lam, sum(square(w))).mul(0.5));
const lam = tensor(0.05);
const init = zeros([d]);
const validation = (w: Tensor) => objective.binaryLogreg(w, [Xval, yval]);

const solvers: DescentMinimizer[] = [
  new LBFGS({ fun, tol: 1e-9 }),
  new BFGS({ fun, tol: 1e-9 }),
  new NonlinearCG({ fun, tol: 1e-9 }),
  new Newton({ fun, tol: 1e-9 }),
  new Newton({ fun, method: "cg", tol: 1e-9 }),
  new TrustRegion({ fun, tol: 1e-9 }),
  new TrustRegion({ fun, method: "dogleg", tol: 1e-9 }),
];
const reference = solvers[0]!.run(init, lam, [X, y]).params as Tensor;
console.log(`${"solver".padEnd(30)} iterations  f evals  status      max |w − w_LBFGS|`);
for (const s of solvers) {
  const { params, state } = s.run(init, lam, [X, y]);
  const label = `${s.name}${"method" in s ? ` (${String((s as { method: string }).method)})` : ""}`;
  const diff = Math.max(...(params as Tensor).sub(reference).abs().data);
  console.log(
    `${label.padEnd(30)} ${String(state.iterNum).padStart(10)} ${String(state.numFunEvals).padStart(8)}  ${state.status.padEnd(10)}  ${diff.toExponential(1)}`,
  );
}

const hyper = (s: DescentMinimizer) => (l: Tensor) => validation(s.run(init, l, [X, y]).params as Tensor);
const implicit = (grad(hyper(solvers[0]!))(lam) as Tensor).item();
const h = 1e-5;
const fd = (hyper(solvers[0]!)(tensor(0.05 + h)).item() - hyper(solvers[0]!)(tensor(0.05 - h)).item()) / (2 * h);
console.log(`\nd L_val / dλ: implicit ${implicit.toExponential(8)}, finite differences ${fd.toExponential(8)}`);
for (const k of [5, 10, 20, 40]) {
  const unrolled = new LBFGS({ fun, maxIter: k, tol: 0, implicitDiff: false });
  const g = (grad(hyper(unrolled))(lam) as Tensor).item();
  console.log(
    `  unrolled L-BFGS, ${String(k).padStart(2)} iterations: ${g.toExponential(8)} (error ${Math.abs(g - implicit).toExponential(1)})`,
  );
}
