/**
 * GradientDescent on ridge regression (diabetes data): the solution against the closed form, and the
 * hypergradient d L_val / dλ of a validation loss by implicit differentiation of the solver against the closed
 * form and against differentiating the unrolled iterations.
 *
 * Run: node --import tsx examples/solvers-gradient-descent.ts
 */
import { performance } from "node:perf_hooks";
import {
  GradientDescent,
  Tensor,
  eye,
  grad,
  linalg,
  matmul,
  objective,
  square,
  sub,
  sum,
  tensor,
} from "../src/index.js";
import { diabetesSplit } from "./data.js";

const nTrain = 300;
const { Xtr, ytr, Xval, yval, d } = diabetesSplit(nTrain);
const lam = tensor(1e-3);
const init = tensor(new Float64Array(d));

const outer = (w: Tensor) => sum(square(sub(matmul(Xval, w), yval))).mul(0.5);
/** Minimiser of ½·mean((X w − y)²) + ½λ‖w‖²: (XᵀX/n + λI)⁻¹Xᵀy/n. */
const closedForm = (l: Tensor) =>
  linalg.solve(matmul(Xtr.T, Xtr).div(nTrain).add(eye(d).mul(l)), matmul(Xtr.T, ytr).div(nTrain));

function timed<T>(fn: () => T): [T, number] {
  const start = performance.now();
  const out = fn();
  return [out, performance.now() - start];
}
const maxAbs = (a: Tensor, b: Tensor) => Math.max(...sub(a, b).data.map(Math.abs));

const wStar = closedForm(lam);
const exact = (grad((l: Tensor) => outer(closedForm(l)))(lam) as Tensor).item();
console.log(`ridge on diabetes (${nTrain} train samples, ${d} features), λ = ${lam.item()}`);
console.log(`closed-form hypergradient dL_val/dλ = ${exact.toExponential(8)}`);

for (const acceleration of [false, true]) {
  const solver = new GradientDescent({ fun: objective.ridgeRegression, acceleration, tol: 1e-9, maxIter: 20000 });
  const [{ params, state }, tSolve] = timed(() => solver.run(init, lam, [Xtr, ytr]));
  const [implicitGrad, tImplicit] = timed(
    () => grad((l: Tensor) => outer(solver.run(init, l, [Xtr, ytr]).params))(lam) as Tensor,
  );
  const unrolled = new GradientDescent({
    fun: objective.ridgeRegression,
    acceleration,
    tol: 0,
    maxIter: state.iterNum,
    implicitDiff: false,
  });
  const [unrolledGrad, tUnrolled] = timed(
    () => grad((l: Tensor) => outer(unrolled.run(init, l, [Xtr, ytr]).params))(lam) as Tensor,
  );
  console.log(
    `\n${acceleration ? "Nesterov" : "plain"} gradient descent with backtracking: ${state.status} after ${state.iterNum} iterations (${tSolve.toFixed(0)} ms)`,
  );
  console.log(`  max |w − w*| = ${maxAbs(params, wStar).toExponential(2)}`);
  console.log(
    `  implicit: ${implicitGrad.item().toExponential(8)} (rel. error ${Math.abs(implicitGrad.item() / exact - 1).toExponential(1)}, ${tImplicit.toFixed(0)} ms)`,
  );
  console.log(
    `  unrolled: ${unrolledGrad.item().toExponential(8)} (rel. error ${Math.abs(unrolledGrad.item() / exact - 1).toExponential(1)}, ${tUnrolled.toFixed(0)} ms)`,
  );
}
