/**
 * MirrorDescent on the multiclass SVM dual (a product of simplices, KL geometry). The hypergradient of a
 * validation loss with respect to the regularisation θ = exp(λ): implicitly with the mirror-descent fixed point
 * (the solver's own), with the projected-gradient fixed point on the same solution, by unrolling the iterations,
 * and by finite differences.
 *
 * Run: node --import tsx examples/solvers-mirror-descent.ts
 */
import { performance } from "node:perf_hooks";
import {
  MirrorDescent,
  Tensor,
  customFixedPoint,
  exp,
  grad,
  objective,
  projectedGradientFixedPoint,
  projection,
  tensor,
} from "../src/index.js";
import { svmProblem } from "./solvers-svm-data.js";

const { data, init, outer } = svmProblem(60, 20, 4);
const fun = objective.multiclassLinearSvmDual;
const lam = tensor(0);

function timed<T>(fn: () => T): [T, number] {
  const start = performance.now();
  const out = fn();
  return [out, performance.now() - start];
}

const md = new MirrorDescent({ fun, stepsize: 1, tol: 1e-10, maxIter: 100000 });
const [{ state }, tSolve] = timed(() => md.run(init, exp(lam), data));
console.log(
  `multiclass SVM dual, 60 samples × 20 features, 4 classes: mirror descent ${state.status} after ${state.iterNum} iterations (${tSolve.toFixed(0)} ms)`,
);

const hyper = (solve: (theta: Tensor) => Tensor) => (l: Tensor) => outer(solve(exp(l)), exp(l));
const viaMirror = hyper((theta) => md.run(init, theta, data).params);
const pgCondition = projectedGradientFixedPoint(fun, projection.simplex, 1);
const viaProjected = hyper((theta) =>
  customFixedPoint(pgCondition)((x0: Tensor, _hp: null, th: Tensor, _d: typeof data) => md.run(x0, th, data).params)(
    init,
    null,
    theta,
    data,
  ),
);
const unrolled = new MirrorDescent({ fun, stepsize: 1, tol: 0, maxIter: state.iterNum, implicitDiff: false });
const viaUnrolling = hyper((theta) => unrolled.run(init, theta, data).params);

const [g1, t1] = timed(() => (grad(viaMirror)(lam) as Tensor).item());
const [g2, t2] = timed(() => (grad(viaProjected)(lam) as Tensor).item());
const [g3, t3] = timed(() => (grad(viaUnrolling)(lam) as Tensor).item());
const eps = 1e-5;
const fd = (viaMirror(tensor(eps)).item() - viaMirror(tensor(-eps)).item()) / (2 * eps);
console.log(`dL_val/dλ at λ = 0:`);
console.log(`  implicit, mirror-descent fixed point:    ${g1.toExponential(8)} (${t1.toFixed(0)} ms, solve included)`);
console.log(`  implicit, projected-gradient fixed point: ${g2.toExponential(8)} (${t2.toFixed(0)} ms, solve included)`);
console.log(`  unrolled (${state.iterNum} iterations):          ${g3.toExponential(8)} (${t3.toFixed(0)} ms)`);
console.log(`  finite differences:                      ${fd.toExponential(8)}`);
