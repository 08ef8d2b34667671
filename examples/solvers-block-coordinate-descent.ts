/**
 * BlockCoordinateDescent on the multiclass SVM dual (one block per sample: a row of β on the simplex), and the
 * paper's timing experiment in small: the CPU time of one hypergradient d L_val / dλ (θ = exp(λ)) as the number
 * of features grows, implicit differentiation of the block fixed point against differentiating the unrolled
 * sweeps, with the agreement of the two.
 *
 * Run: node --import tsx examples/solvers-block-coordinate-descent.ts
 */
import { performance } from "node:perf_hooks";
import { BlockCoordinateDescent, Tensor, exp, grad, objective, projection, tensor } from "../src/index.js";
import { svmProblem } from "./solvers-svm-data.js";

const m = 40;
const k = 3;
const lam = tensor(0);
const blockProx = (row: Tensor) => projection.simplex(row);

function timed<T>(fn: () => T): [T, number] {
  const start = performance.now();
  const out = fn();
  return [out, performance.now() - start];
}

console.log(`multiclass SVM dual, ${m} samples, ${k} classes, block coordinate descent (tol 1e-9)`);
console.log("features  sweeps  solve ms  implicit ms  unrolled ms  |implicit − unrolled| / |implicit|");
for (const p of [10, 20, 40, 80]) {
  const { data, init, outer } = svmProblem(m, p, k, p);
  const fun = objective.multiclassLinearSvmDual;
  const bcd = new BlockCoordinateDescent({ fun, blockProx, tol: 1e-9, maxIter: 10000 });
  const [{ state }, tSolve] = timed(() => bcd.run(init, null, exp(lam), data));
  // Unroll the same sweeps, with the block Lipschitz constants the solver found (fixed steps).
  const unrolled = new BlockCoordinateDescent({
    fun,
    blockProx,
    lipschitz: state.lipschitz,
    tol: 0,
    maxIter: state.iterNum,
    implicitDiff: false,
  });
  const hyper = (solver: BlockCoordinateDescent) => (l: Tensor) =>
    outer(solver.run(init, null, exp(l), data).params, exp(l));
  const [gi, ti] = timed(() => (grad(hyper(bcd))(lam) as Tensor).item());
  const [gu, tu] = timed(() => (grad(hyper(unrolled))(lam) as Tensor).item());
  const row = [
    p,
    state.iterNum,
    tSolve.toFixed(0),
    ti.toFixed(0),
    tu.toFixed(0),
    (Math.abs(gi - gu) / Math.abs(gi)).toExponential(1),
  ];
  console.log(row.map((c, i) => String(c).padStart([8, 7, 9, 12, 12, 10][i]!)).join("  "));
}
