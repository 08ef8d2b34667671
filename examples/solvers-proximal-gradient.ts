/**
 * ProximalGradient and ProjectedGradient. Lasso on the diabetes data: FISTA's sparse solution, checked by the
 * subgradient optimality conditions, and the hypergradient of a validation loss with respect to the L1
 * regularisation (implicit, unrolled, finite differences). Then non-negative least squares with
 * ProjectedGradient and the derivative of its solution with respect to the targets.
 *
 * Run: node --import tsx examples/solvers-proximal-gradient.ts
 */
import { performance } from "node:perf_hooks";
import {
  ProjectedGradient,
  ProximalGradient,
  Tensor,
  grad,
  jacrev,
  matmul,
  objective,
  projection,
  prox,
  slice,
  square,
  sub,
  sum,
  tensor,
} from "../src/index.js";
import { diabetesSplit } from "./data.js";

// targets in hundreds, so that the L1 weights below are of order one
const { Xtr, ytr, Xval, yval, d } = diabetesSplit(300, 100);
const init = tensor(new Float64Array(d));
const outer = (w: Tensor) => sum(square(sub(matmul(Xval, w), yval))).mul(0.5);

function timed<T>(fn: () => T): [T, number] {
  const start = performance.now();
  const out = fn();
  return [out, performance.now() - start];
}

// --- Lasso -----------------------------------------------------------------------------------------------------
const l1 = 2e-3;
const lasso = new ProximalGradient({ fun: objective.leastSquares, prox: prox.lasso, tol: 1e-12, maxIter: 100000 });
const [{ params: w, state }, tSolve] = timed(() => lasso.run(init, tensor(l1), [Xtr, ytr]));
const g = grad((v: Tensor) => objective.leastSquares(v, [Xtr, ytr]))(w) as Tensor;
let worst = 0;
w.data.forEach((wi: number, i: number) => {
  const gi = g.data[i]!;
  worst = Math.max(worst, wi !== 0 ? Math.abs(gi + l1 * Math.sign(wi)) : Math.max(0, Math.abs(gi) - l1));
});
console.log(`lasso, λ = ${l1}: ${state.status} after ${state.iterNum} FISTA iterations (${tSolve.toFixed(0)} ms)`);
console.log(
  `  non-zero coefficients: ${w.data.filter((v: number) => v !== 0).length} of ${d}; worst optimality violation ${worst.toExponential(1)}`,
);

const hyper = (solver: ProximalGradient) => (lam: Tensor) => outer(solver.run(init, lam, [Xtr, ytr]).params);
const [implicit, tImplicit] = timed(() => (grad(hyper(lasso))(tensor(l1)) as Tensor).item());
const unrolledSolver = new ProximalGradient({
  fun: objective.leastSquares,
  prox: prox.lasso,
  tol: 0,
  maxIter: state.iterNum,
  implicitDiff: false,
});
const [unrolled, tUnrolled] = timed(() => (grad(hyper(unrolledSolver))(tensor(l1)) as Tensor).item());
const eps = 1e-7;
const fd = (hyper(lasso)(tensor(l1 + eps)).item() - hyper(lasso)(tensor(l1 - eps)).item()) / (2 * eps);
console.log(
  `  dL_val/dλ: implicit ${implicit.toExponential(8)} (${tImplicit.toFixed(0)} ms), unrolled ${unrolled.toExponential(8)} (${tUnrolled.toFixed(0)} ms), finite differences ${fd.toExponential(8)}`,
);

// --- Non-negative least squares ----------------------------------------------------------------------------------
const nnls = new ProjectedGradient({
  fun: objective.leastSquares,
  projection: projection.nonNegative,
  tol: 1e-10,
  maxIter: 100000,
});
const small = [slice(Xtr, [0, 40]), slice(ytr, [0, 40])] as const;
const { params: wPlus, state: s2 } = nnls.run(init, null, small);
console.log(
  `\nnon-negative least squares (40 samples): ${s2.status} after ${s2.iterNum} iterations; active constraints: ${wPlus.data.filter((v: number) => v === 0).length}`,
);
const [J, tJ] = timed(() => jacrev((yy: Tensor) => nnls.run(init, null, [small[0], yy]).params)(small[1]) as Tensor);
console.log(
  `  Jacobian of the solution w.r.t. the 40 targets: shape [${J.shape.join(", ")}], rows of active coefficients are zero: ${wPlus.data.every((v: number, i: number) => v !== 0 || J.data.slice(i * 40, (i + 1) * 40).every((x) => x === 0))} (${tJ.toFixed(0)} ms)`,
);
