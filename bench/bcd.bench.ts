/**
 * Block coordinate descent sweeps (issue 12, the svm-hpo experiment): the multiclass SVM dual with m = 300
 * training samples, k = 5 classes and p ∈ {100, 500} features (`svmProblem` of the experiment, θ = 1, exact block
 * Lipschitz constants ‖x_j‖²/θ). Times one sweep (m block steps of `BlockCoordinateDescent.update`) on plain
 * values, one sweep traced and differentiated (reverse mode: the validation loss after one sweep, by `grad` in θ,
 * what unrolling costs per sweep), and, as the unit, one full gradient of f in β. The composite-linear path keeps
 * z = Xᵀβ by rank-one corrections, so a plain sweep should cost a few gradients of f.
 *
 * CPU time of this process (user + system), not wall time: the machine is shared, and other processes slow the
 * wall clock but not our CPU time. Medians over batches of calls.
 */
import { BlockCoordinateDescent, grad, objective, projection, tensor, type Tensor } from "../src/index.js";
import { svmProblem } from "../paper/experiments/svm-hpo.js";
import { formatTime, printTable } from "./util.js";

const fun = objective.multiclassLinearSvmDual;
const gc = (globalThis as { gc?: () => void }).gc;

/** Median CPU seconds per call of `fn` over batches of about 50 ms, for at least `minTime` seconds in all. */
function cpuPerCall(fn: () => unknown, minTime: number): number {
  fn();
  gc?.();
  let start = process.cpuUsage();
  fn();
  const once = Math.max(1e-6, cpuSeconds(process.cpuUsage(start)));
  const batch = Math.max(1, Math.round(0.05 / once));
  const samples: number[] = [];
  let total = 0;
  while (total < minTime || samples.length < 5) {
    start = process.cpuUsage();
    for (let i = 0; i < batch; i++) fn();
    const used = cpuSeconds(process.cpuUsage(start));
    total += used;
    samples.push(used / batch);
  }
  samples.sort((a, b) => a - b);
  return samples[samples.length >> 1]!;
}

function cpuSeconds(u: NodeJS.CpuUsage): number {
  return (u.user + u.system) / 1e6;
}

function sizeRow(p: number): string[] {
  const P = svmProblem(300, 200, p, 5, 500);
  const theta = tensor(1);
  const solver = new BlockCoordinateDescent({
    fun,
    blockProx: (row) => projection.simplex(row),
    lipschitz: P.rowNorms,
    maxIter: 2,
    tol: 0,
    implicitDiff: false,
  });
  // a point after two sweeps, where the iterate has left the uniform start
  const { params: x, state } = solver.run(P.init, null, theta, P.train);
  const plain = cpuPerCall(() => solver.update(x, state, null, theta, P.train), 1);
  const unrolled = cpuPerCall(
    () => grad((th: Tensor) => P.outer(solver.update(x, state, null, th, P.train).params as Tensor, th))(theta),
    1,
  );
  const gradient = cpuPerCall(() => grad((b: Tensor) => fun(b, theta, P.train))(x as Tensor), 0.5);
  return [
    String(p),
    formatTime(plain),
    formatTime(unrolled),
    formatTime(gradient),
    `${(plain / gradient).toFixed(1)}×`,
    `${(unrolled / gradient).toFixed(1)}×`,
  ];
}

export async function run(): Promise<void> {
  printTable(
    "BlockCoordinateDescent, multiclass SVM dual (m = 300, k = 5): one sweep of 300 block steps, CPU time",
    ["p", "plain sweep", "unrolled sweep (fwd + rev)", "gradient of f", "plain / gradient", "unrolled / gradient"],
    [100, 500].map(sizeRow),
  );
}
