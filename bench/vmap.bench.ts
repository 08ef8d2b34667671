/**
 * Batching benchmarks (issue 11): per-example gradients of logistic regression with `vmap` versus a loop; the full
 * Jacobian of an implicit layer with 400 outputs (above the dense backward threshold) in units of one backward
 * pass, by `jacrev`, by `vmap` of the pullback and by a loop of Krylov pullbacks; and `GradientDescent.run` and
 * `ProximalGradient.run` over 100 regularisation strengths under `vmap` (batched updates with a fixed step, a
 * per-element loop with a line search) versus a loop.
 */
import { performance } from "node:perf_hooks";
import {
  GradientDescent,
  ProximalGradient,
  prox,
  add,
  customRoot,
  eye,
  grad,
  jacrev,
  log1p,
  exp,
  matmul,
  mul,
  objective,
  random,
  sub,
  sum,
  tanh,
  tensor,
  vdot,
  vjp,
  vmap,
  type Tensor,
} from "../src/index.js";
import { formatTime, printTable, timeIt, verdict } from "./util.js";

/** Wall time of one call of `fn` (for runs too long to repeat). */
function once(fn: () => unknown): number {
  const t0 = performance.now();
  fn();
  return (performance.now() - t0) / 1000;
}

function perExampleGradients(): void {
  const n = 1000;
  const d = 100;
  const [kx, ky, kw] = random.split(random.key(41), 3);
  const X = random.normal(kx!, [n, d]);
  const y = tensor(Array.from(random.uniform(ky!, [n]).data, (u) => (u < 0.5 ? 1 : 0)));
  const w = mul(random.normal(kw!, [d]), 0.1);
  // logistic loss of one example: log(1 + exp(−(2y − 1)·⟨w, x⟩))
  const loss = (v: Tensor, x: Tensor, yi: Tensor) => log1p(exp(mul(sub(1, mul(2, yi)), vdot(v, x))));
  const g = grad(loss);
  const batched = vmap(g, { inAxes: [null, 0, 0] });
  const rowsX = Array.from({ length: n }, (_, i) => tensor(X.data.subarray(i * d, (i + 1) * d)));
  const rowsY = Array.from({ length: n }, (_, i) => tensor(y.data[i]!));
  const tv = timeIt(() => batched(w, X, y), { minTime: 0.5, minBatches: 3 }).median;
  const tl = timeIt(() => rowsX.map((x, i) => g(w, x, rowsY[i]!)), { minTime: 0.5, minBatches: 3 }).median;
  printTable(
    `Per-example gradients of logistic regression, ${n} examples, d = ${d}`,
    ["method", "time", "speed-up"],
    [
      ["vmap(grad(loss), { inAxes: [null, 0, 0] })", formatTime(tv), `${(tl / tv).toFixed(1)}×`],
      [`loop of ${n} grad calls`, formatTime(tl), "1.0×"],
    ],
  );
}

function implicitJacobian(): void {
  const n = 400;
  const X = random.normal(random.key(3), [n, n]);
  const Q = add(mul(1 / n, matmul(X.T, X)), mul(0.5, eye(n)));
  // F(x, θ) = Qx + 0.1·tanh(x) − θ: ∂ₓF is SPD, the Jacobian of x*(θ) is (∂ₓF)⁻¹
  const F = (x: Tensor, th: Tensor) => sub(add(matmul(Q, x), mul(0.1, tanh(x))), th);
  const theta = random.normal(random.key(5), [n]);
  let x = tensor(new Float64Array(n));
  for (let i = 0; i < 5000; i++) {
    const r = F(x, theta);
    x = sub(x, mul(0.2, r));
    if (Math.sqrt(sum(mul(r, r)).item()) < 1e-13) break;
  }
  const xStar = x;
  // The solver returns the precomputed root: only backward passes are timed.
  const layer = (solve?: "cg") =>
    customRoot(F, { positiveDefinite: true, ...(solve ? { solve } : {}) })((_i: unknown, _t: Tensor) => xStar);
  const pullbackOf = (solve?: "cg") => vjp((t: Tensor) => layer(solve)(undefined, t), theta)[1];
  const basis = (k: number) => tensor(Array.from({ length: n }, (_, i) => (i === k ? 1 : 0)));
  const e0 = basis(0);
  // One backward pass: a fresh layer (no cache) and one pullback (one CG solve).
  const single = timeIt(
    () => {
      const pb = pullbackOf();
      pb(e0);
    },
    { minTime: 1, minBatches: 5 },
  ).median;
  const tJacrev = once(() => jacrev((t: Tensor) => layer()(undefined, t))(theta));
  const tVmap = once(() => {
    const pb = pullbackOf();
    vmap((c: Tensor) => pb(c)[0])(eye(n));
  });
  // The pre-batching cost: one Krylov solve per row (solve: "cg" never materialises), timed on 40 rows.
  const rows = 40;
  const tLoop40 = once(() => {
    const pb = pullbackOf("cg");
    for (let k = 0; k < rows; k++) pb(basis(k));
  });
  const tLoop = (tLoop40 * n) / rows;
  const passes = (t: number) => (t / single).toFixed(1);
  printTable(
    `Full Jacobian of an implicit layer with ${n} outputs (above the dense threshold), backward only; one backward pass = ${formatTime(single)}`,
    ["method", "time", "backward passes", "target ≤ 40", "status"],
    [
      ["jacrev", formatTime(tJacrev), passes(tJacrev), "", verdict(tJacrev / single <= 40)],
      ["vmap of the pullback over the identity", formatTime(tVmap), passes(tVmap), "", verdict(tVmap / single <= 40)],
      [`loop of ${n} Krylov pullbacks (from ${rows})`, formatTime(tLoop), passes(tLoop), "", ""],
    ],
  );
}

/**
 * Solutions and hypergradients of one solver over 100 strengths: `vmap(run)` (batched updates: one update vmapped
 * over the elements per iteration) and `vmap(grad(·))` versus a JavaScript loop of `run` and of `grad`.
 */
function sweepRows(label: string, run: (lam: Tensor) => Tensor, lams: Tensor): string[][] {
  const hyper = grad((lam: Tensor) => sum(run(lam)));
  const values = lams.toArray() as number[];
  // vmap and loop timed alternately, 3 rounds after one warm-up (JIT), the fastest of each kept: on a loaded machine
  // both then see the same load, and the fastest run is the least disturbed.
  const cases = [
    () => vmap(run)(lams),
    () => values.map((l) => run(tensor(l))),
    () => vmap(hyper)(lams),
    () => values.map((l) => hyper(tensor(l))),
  ];
  cases.forEach((c) => c());
  const best = cases.map(() => Infinity);
  for (let round = 0; round < 3; round++) cases.forEach((c, i) => (best[i] = Math.min(best[i]!, once(c))));
  const [tv, tl, thv, thl] = best as [number, number, number, number];
  const ratio = (loop: number, batched: number) => `${(loop / batched).toFixed(1)}×`;
  return [
    [`${label}: vmap`, formatTime(tv), ratio(tl, tv), formatTime(thv), ratio(thl, thv), verdict(tl / tv >= 5)],
    [`${label}: loop`, formatTime(tl), "1.0×", formatTime(thl), "1.0×", ""],
  ];
}

function hyperparameterSweep(): void {
  const [kx, ky] = random.split(random.key(51), 2);
  const X = random.normal(kx!, [50, 10]);
  const y = random.normal(ky!, [50]);
  const w0 = tensor(new Float64Array(10));
  const ridgeLams = tensor(Array.from({ length: 100 }, (_, i) => 10 ** (-3 + (4 * i) / 99)));
  const lassoLams = tensor(Array.from({ length: 100 }, (_, i) => 10 ** (-3 + (3 * i) / 99)));
  // a fixed step below 1/L for every strength (L ≤ λ_max(XᵀX/n) + λ ≈ 12): batched updates
  const fixed = new GradientDescent({ fun: objective.ridgeRegression, stepsize: 0.08, tol: 1e-8, maxIter: 5000 });
  // a line search at every step reads numbers: one run per element inside vmap
  const searched = new GradientDescent({ fun: objective.ridgeRegression, tol: 1e-8, maxIter: 5000 });
  const lasso = new ProximalGradient({
    fun: objective.leastSquares,
    prox: prox.lasso,
    stepsize: 0.4,
    tol: 1e-8,
    maxIter: 5000,
  });
  printTable(
    "Solver.run over 100 regularisation strengths (50×10 data), vmap versus a loop; ≥ 5× targeted for batched updates",
    ["solver", "solutions", "speed-up", "hypergradients", "speed-up", "target 5×"],
    [
      ...sweepRows("GradientDescent, stepsize 0.08 (batched)", (lam) => fixed.run(w0, lam, [X, y]).params, ridgeLams),
      ...sweepRows(
        "ProximalGradient lasso, stepsize 0.4 (batched)",
        (l1) => lasso.run(w0, l1, [X, y]).params,
        lassoLams,
      ),
      ...sweepRows(
        "GradientDescent, line search (per element)",
        (lam) => searched.run(w0, lam, [X, y]).params,
        ridgeLams,
      ).map((r) => [...r.slice(0, 5), ""]),
    ],
  );
}

export async function run(): Promise<void> {
  perExampleGradients();
  implicitJacobian();
  hyperparameterSweep();
}
