/**
 * Minimiser benchmarks: iterations, evaluations and time to reach ‖∇f‖ ≤ 1e-8 on the extended Rosenbrock
 * function in 100 variables (from (−1.2, 1, −1.2, 1, …)) and on L2-regularised logistic regression with
 * 1000 samples and 100 features (seeded data), for `LBFGS`, `BFGS`, `NonlinearCG`, `Newton` (Newton-CG) and
 * `TrustRegion` (Steihaug–Toint). When python3 with SciPy is available, `scipy.optimize.minimize` runs the same
 * problems in the same run (L-BFGS-B, BFGS, CG, Newton-CG, trust-ncg; exact NumPy gradients and
 * Hessian-vector products) and its iterations, evaluations, time and final ‖∇f‖ are printed beside ours.
 * SciPy's stopping rules differ by method (max-norm for L-BFGS-B, a step test for Newton-CG): its gtol is set to
 * 1e-8 (xtol 1e-14 for Newton-CG) and the gradient norm it actually reached is reported.
 */
import { spawnSync } from "node:child_process";
import {
  BFGS,
  LBFGS,
  Newton,
  NonlinearCG,
  TrustRegion,
  mul,
  objective,
  random,
  reshape,
  square,
  sub,
  sum,
  take,
  tensor,
  zeros,
  type DescentMinimizer,
  type Tensor,
} from "../src/index.js";
import { formatTime, printTable, timeIt } from "./util.js";

const TOL = 1e-8;
const ROSEN_N = 100;
const SAMPLES = 1000;
const FEATURES = 100;
const L2 = 1e-2;

/** Σᵢ 100(x₂ᵢ₊₁ − x₂ᵢ²)² + (1 − x₂ᵢ)². */
function extendedRosenbrock(x: Tensor): Tensor {
  const pairs = reshape(x, [ROSEN_N / 2, 2]);
  const u = take(pairs, [0], 1);
  const v = take(pairs, [1], 1);
  return sum(mul(100, square(sub(v, square(u))))).add(sum(square(sub(1, u))));
}

function logisticData(): [Tensor, Tensor] {
  const [kx, kw, ky] = random.split(random.key(7), 3);
  const X = random.normal(kx!, [SAMPLES, FEATURES]);
  const wTrue = random.normal(kw!, [FEATURES]);
  // labels drawn from the logistic model with weights 0.3·wTrue
  const p = mul(X.matmul(wTrue), -0.3).exp().add(1).pow(-1).data;
  const u = random.uniform(ky!, [SAMPLES]).data;
  return [X, tensor(Array.from(u, (ui, i) => (ui < p[i]! ? 1 : 0)))];
}

const logistic = (w: Tensor, data: [Tensor, Tensor]) =>
  objective.binaryLogreg(w, data).add(mul(0.5 * L2, sum(square(w))));

interface Row {
  solver: string;
  iterations: number;
  evals: number;
  time: number;
  gradNorm: number;
  status: string;
}

function ours(problem: "rosenbrock" | "logistic", data: [Tensor, Tensor]): Row[] {
  const fun = problem === "rosenbrock" ? (x: Tensor) => extendedRosenbrock(x) : logistic;
  const init =
    problem === "rosenbrock"
      ? tensor(Array.from({ length: ROSEN_N }, (_, i) => (i % 2 === 0 ? -1.2 : 1)))
      : zeros([FEATURES]);
  const args = problem === "rosenbrock" ? [] : [data];
  const common = { fun, tol: TOL, maxIter: 20000 };
  const solvers: [string, DescentMinimizer][] = [
    ["LBFGS", new LBFGS(common)],
    ["BFGS", new BFGS(common)],
    ["NonlinearCG (PR+)", new NonlinearCG(common)],
    ["Newton-CG", new Newton({ ...common, method: "cg" })],
    ["TrustRegion (Steihaug)", new TrustRegion(common)],
  ];
  return solvers.map(([name, solver]) => {
    const { state } = solver.run(init, ...args);
    const time = timeIt(() => solver.run(init, ...args), { minTime: 1, minBatches: 5, warmup: 0.3 }).median;
    return {
      solver: name,
      iterations: state.iterNum,
      evals: state.numFunEvals,
      time,
      gradNorm: state.error,
      status: state.status,
    };
  });
}

function scipyRows(data: [Tensor, Tensor]): Record<string, Row[]> | string {
  const script = `
import json, sys, time, numpy as np
from scipy.optimize import minimize
d = json.loads(sys.stdin.read())
X = np.array(d["X"]).reshape(${SAMPLES}, ${FEATURES}); y = np.array(d["y"]); lam = ${L2}
def rosen(x):
    u, v = x[0::2], x[1::2]
    return np.sum(100 * (v - u**2)**2 + (1 - u)**2)
def rosen_grad(x):
    u, v = x[0::2], x[1::2]; g = np.empty_like(x)
    g[0::2] = -400 * u * (v - u**2) - 2 * (1 - u); g[1::2] = 200 * (v - u**2); return g
def rosen_hessp(x, p):
    u, v = x[0::2], x[1::2]; pu, pv = p[0::2], p[1::2]; h = np.empty_like(x)
    h[0::2] = (1200 * u**2 - 400 * v + 2) * pu - 400 * u * pv; h[1::2] = -400 * u * pu + 200 * pv; return h
def logf(w):
    z = X @ w
    return np.mean(np.logaddexp(0, z) - y * z) + 0.5 * lam * w @ w
def logg(w):
    s = 1 / (1 + np.exp(-(X @ w)))
    return X.T @ (s - y) / len(y) + lam * w
def logh(w, p):
    s = 1 / (1 + np.exp(-(X @ w)))
    return X.T @ (s * (1 - s) * (X @ p)) / len(y) + lam * p
problems = {
    "rosenbrock": (rosen, rosen_grad, rosen_hessp, np.tile([-1.2, 1.0], ${ROSEN_N / 2})),
    "logistic": (logf, logg, logh, np.zeros(${FEATURES})),
}
methods = [("L-BFGS-B", {"gtol": ${TOL}, "ftol": 0, "maxiter": 20000}), ("BFGS", {"gtol": ${TOL}, "norm": 2, "maxiter": 20000}),
           ("CG", {"gtol": ${TOL}, "norm": 2, "maxiter": 20000}), ("Newton-CG", {"xtol": 1e-14, "maxiter": 20000}),
           ("trust-ncg", {"gtol": ${TOL}, "maxiter": 20000})]
out = {}
for name, (f, g, h, x0) in problems.items():
    rows = []
    for m, opts in methods:
        kw = {"jac": g, "method": m, "options": opts}
        if m in ("Newton-CG", "trust-ncg"): kw["hessp"] = h
        r = minimize(f, x0, **kw)
        ts = []
        t_end = time.perf_counter() + 0.5
        while len(ts) < 3 or time.perf_counter() < t_end:
            t0 = time.perf_counter(); minimize(f, x0, **kw); ts.append(time.perf_counter() - t0)
        ts.sort()
        rows.append({"solver": m, "iterations": int(r.nit), "evals": int(r.nfev), "time": ts[len(ts) // 2],
                     "gradNorm": float(np.linalg.norm(g(r.x))), "status": "ok" if r.success else str(r.message)[:40]})
    out[name] = rows
print(json.dumps(out))
`;
  const input = JSON.stringify({ X: [...data[0].data], y: [...data[1].data] });
  const res = spawnSync("/usr/bin/python3", ["-c", script], { input, encoding: "utf8", timeout: 600_000 });
  if (res.error) return `python3 not runnable (${res.error.message})`;
  if (res.status !== 0) {
    const last = (res.stderr || "").trim().split("\n").pop() ?? "";
    return `python3 with scipy not available (${last})`;
  }
  return JSON.parse(res.stdout.trim().split("\n").pop()!) as Record<string, Row[]>;
}

/** Runs the minimiser benchmarks and prints their tables. */
export async function run(): Promise<void> {
  const data = logisticData();
  const py = scipyRows(data);
  if (typeof py === "string") console.log(`\n(SciPy columns skipped: ${py})`);
  const titles = {
    rosenbrock: `Extended Rosenbrock, n = ${ROSEN_N}, from (−1.2, 1, …), to ‖∇f‖ ≤ ${TOL}`,
    logistic: `L2 logistic regression, ${SAMPLES}×${FEATURES}, λ = ${L2}, from 0, to ‖∇f‖ ≤ ${TOL}`,
  } as const;
  for (const problem of ["rosenbrock", "logistic"] as const) {
    const mine = ours(problem, data);
    const theirs = typeof py === "string" ? [] : py[problem]!;
    const header = ["diffopt solver", "iters", "f evals", "time", "‖∇f‖", "status"];
    const scipyHeader = ["scipy method", "iters", "f evals", "time", "‖∇f‖", "status", "time / scipy"];
    const rows = mine.map((r, i) => {
      const s = theirs[i];
      const base = [
        r.solver,
        String(r.iterations),
        String(r.evals),
        formatTime(r.time),
        r.gradNorm.toExponential(1),
        r.status,
      ];
      if (s === undefined) return base;
      return [
        ...base,
        s.solver,
        String(s.iterations),
        String(s.evals),
        formatTime(s.time),
        s.gradNorm.toExponential(1),
        s.status,
        `${(r.time / s.time).toFixed(1)}×`,
      ];
    });
    printTable(titles[problem], theirs.length > 0 ? [...header, ...scipyHeader] : header, rows);
  }
}
