/**
 * QP-layer benchmarks: the time to solve, and to solve and differentiate (one reverse pass giving the gradient
 * of sum(x*) with respect to every tensor of the problem), random dense strictly convex QPs with n variables and
 * n/2 inequalities, for n = 50, 200, 500 and each solver (`EqualityConstrainedQP` on the same size with n/2
 * equalities instead, since it takes no inequalities). When python3 with SciPy is available, the same
 * inequality-constrained problems are solved in the same run by `scipy.optimize.minimize(method="trust-constr")`
 * (exact gradient and Hessian given) and its time and objective printed beside ours.
 *
 * A second table times per-problem gradients over a batch of problems that differ in c (and so in their active
 * sets): `vmap(grad(f))`, `grad` of the sum of `vmap(f)`, and a JavaScript loop of `grad(f)`, side by side.
 *
 * `DIFFOPT_QP_ONLY=InteriorPointQP npm run bench -- qp` keeps the solvers whose name contains one of the
 * comma-separated words and skips SciPy (whose n = 500 solve takes minutes), to re-measure one solver quickly.
 */
import { spawnSync } from "node:child_process";
import { performance } from "node:perf_hooks";
import {
  BoxOSQP,
  EqualityConstrainedQP,
  InteriorPointQP,
  OSQP,
  Tensor,
  add,
  eye,
  grad,
  matmul,
  stack,
  vdot,
  vmap,
  mul,
  random,
  sum,
  tensor,
  vjp,
  type QPProblem,
} from "../src/index.js";
import { formatTime, printTable } from "./util.js";

const SIZES = [50, 200, 500];

/** Q = MMᵀ/n + I, c ~ N(0, 1), G ~ N(0, 1) of n/2 rows, h ~ U(0.1, 1.1): feasible (x = 0), some rows active. */
function problem(n: number): Required<Pick<QPProblem, "Q" | "c" | "G" | "h">> & { Q: Tensor; G: Tensor } {
  const k = random.split(random.key(n), 4);
  const M = random.normal(k[0]!, [n, n]);
  return {
    Q: add(mul(matmul(M, M.T), 1 / n), eye(n)),
    c: random.normal(k[1]!, [n]),
    G: random.normal(k[2]!, [n / 2, n]),
    h: add(random.uniform(k[3]!, [n / 2]), 0.1),
  };
}

/** Median wall time of `reps` calls (after one warm-up call for small problems). */
function time(fn: () => unknown, reps: number): number {
  if (reps > 1) fn();
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    ts.push((performance.now() - t0) / 1000);
  }
  ts.sort((a, b) => a - b);
  return ts[ts.length >> 1]!;
}

interface Row {
  solver: string;
  n: number;
  iterations: number;
  solve: number;
  withGrad: number;
  /** The reverse pass alone (the pullback after a fresh solve), median over the same repetitions. */
  backward: number;
  value: number;
}

type Run = (pr: ReturnType<typeof problem>) => {
  params: { primal: Tensor };
  state: { iterNum: number; value?: number };
};

const SOLVERS: [string, Run][] = [
  ["InteriorPointQP", (pr) => new InteriorPointQP().run(undefined, pr)],
  ["OSQP", (pr) => new OSQP().run(undefined, pr)],
  [
    "BoxOSQP",
    (pr) =>
      new BoxOSQP().run(undefined, {
        Q: pr.Q,
        c: pr.c,
        A: pr.G,
        l: tensor(new Array<number>(pr.h.size).fill(-Infinity)),
        u: pr.h,
      }),
  ],
  [
    "EqualityConstrainedQP (n/2 equalities)",
    (pr) => new EqualityConstrainedQP().run(undefined, { Q: pr.Q, c: pr.c, A: pr.G, b: pr.h }),
  ],
];

function measure(name: string, runSolver: Run, n: number): Row {
  const pr = problem(n);
  const reps = n <= 50 ? 5 : 1;
  const first = runSolver(pr);
  const solve = time(() => runSolver(pr), reps);
  const loss = (Q: Tensor, c: Tensor, G: Tensor, h: Tensor) => sum(runSolver({ Q, c, G, h }).params.primal);
  const withGrad = time(() => grad(loss, { argnums: [0, 1, 2, 3] })(pr.Q, pr.c, pr.G, pr.h), reps);
  const pullbacks: number[] = [];
  for (let i = 0; i < Math.max(3, reps); i++) {
    const [, pullback] = vjp(loss, pr.Q, pr.c, pr.G, pr.h);
    const t0 = performance.now();
    pullback(tensor(1));
    pullbacks.push((performance.now() - t0) / 1000);
  }
  const backward = pullbacks.sort((a, b) => a - b)[pullbacks.length >> 1]!;
  return {
    solver: name,
    n,
    iterations: first.state.iterNum,
    solve,
    withGrad,
    backward,
    value: first.state.value ?? NaN,
  };
}

interface ScipyFigures {
  [n: string]: { time: number; value: number; iterations: number; status: number } | { error: string };
}

/** trust-constr on the same problems (sent as JSON on stdin); a message when SciPy is absent. */
function scipyFigures(): ScipyFigures | string {
  const script = `
import json, sys, time, numpy as np
from scipy.optimize import minimize, LinearConstraint
data = json.load(sys.stdin)
out = {}
for n, p in data.items():
    Q = np.array(p["Q"]); c = np.array(p["c"]); G = np.array(p["G"]); h = np.array(p["h"])
    con = LinearConstraint(G, -np.inf, h)
    t0 = time.perf_counter()
    try:
        r = minimize(lambda x: 0.5 * x @ Q @ x + c @ x, np.zeros(len(c)), jac=lambda x: Q @ x + c,
                     hess=lambda x: Q, constraints=[con], method="trust-constr",
                     options={"gtol": 1e-8, "xtol": 1e-10, "maxiter": 2000})
        out[n] = {"time": time.perf_counter() - t0, "value": float(r.fun), "iterations": int(r.nit), "status": int(r.status)}
    except Exception as e:
        out[n] = {"error": str(e)}
print(json.dumps(out))
`;
  const input: Record<string, unknown> = {};
  for (const n of SIZES) {
    const pr = problem(n);
    input[String(n)] = { Q: pr.Q.toArray(), c: pr.c.toArray(), G: pr.G.toArray(), h: pr.h.toArray() };
  }
  const res = spawnSync("python3", ["-c", script], {
    input: JSON.stringify(input),
    encoding: "utf8",
    timeout: 600_000,
    maxBuffer: 1 << 26,
  });
  if (res.error) return `python3 not runnable (${res.error.message})`;
  if (res.status !== 0) {
    const last = (res.stderr || "").trim().split("\n").pop() ?? "";
    return `python3 with scipy not available (${last})`;
  }
  return JSON.parse(res.stdout.trim().split("\n").pop()!) as ScipyFigures;
}

/** Batch size and problem size of the batched-gradient table. */
const BATCH = { size: 32, n: 20 };

/** Median times of per-problem gradients of ⟨w, x*(c)⟩ over a batch of c: vmap(grad), grad(vmap), a loop. */
function batchedGradients(name: string, runSolver: Run): string[] {
  const pr = problem(BATCH.n);
  const cs = random.normal(random.key(7), [BATCH.size, BATCH.n]);
  const w = random.normal(random.key(8), [BATCH.n]);
  const loss = (c: Tensor) => vdot(w, runSolver({ ...pr, c }).params.primal);
  const perElement = () => vmap(grad(loss))(cs);
  const ofSum = () => grad((C: Tensor) => sum(vmap(loss)(C)))(cs);
  const loop = () => stack(Array.from({ length: BATCH.size }, (_, b) => grad(loss)(cs.at(b).get())));
  const [tv, ts, tl] = [perElement, ofSum, loop].map((f) => time(f, 3));
  return [name, formatTime(tv!), formatTime(ts!), formatTime(tl!), `${(tv! / tl!).toFixed(2)}×`];
}

/** Runs the QP benchmarks and prints their table. */
export async function run(): Promise<void> {
  const only = (process.env.DIFFOPT_QP_ONLY ?? "").split(",").filter((w) => w.trim() !== "");
  const solvers = only.length === 0 ? SOLVERS : SOLVERS.filter(([name]) => only.some((w) => name.includes(w.trim())));
  const rows: Row[] = [];
  for (const n of SIZES) for (const [name, solver] of solvers) rows.push(measure(name, solver, n));
  const py = only.length === 0 ? scipyFigures() : "skipped by DIFFOPT_QP_ONLY";
  const pyOk = typeof py !== "string";
  printTable(
    "Random dense QPs, n variables, n/2 inequalities (solve; solve + gradient of sum(x*) in Q, c, G, h)",
    ["solver", "n", "iterations", "solve", "solve + grad", "backward alone", "objective"],
    rows.map((r) => [
      r.solver,
      String(r.n),
      String(r.iterations),
      formatTime(r.solve),
      formatTime(r.withGrad),
      formatTime(r.backward),
      r.solver.startsWith("Equality") ? "(other problem)" : r.value.toFixed(8),
    ]),
  );
  printTable(
    `Per-problem gradients over a batch of ${BATCH.size} QPs (n = ${BATCH.n}, ${BATCH.n / 2} inequalities, one c each)`,
    ["solver", "vmap(grad(f))", "grad(sum(vmap(f)))", "loop of grad(f)", "vmap(grad) / loop"],
    solvers.filter(([name]) => !name.startsWith("Equality")).map(([name, solver]) => batchedGradients(name, solver)),
  );
  if (!pyOk) {
    console.log(`\nSciPy comparison skipped: ${py}`);
    return;
  }
  printTable(
    'scipy.optimize.minimize(method="trust-constr") on the same inequality-constrained problems (no derivative)',
    ["n", "iterations", "time", "objective", "objective − InteriorPointQP's", "InteriorPointQP solve / scipy"],
    SIZES.map((n) => {
      const f = py[String(n)]!;
      if ("error" in f) return [String(n), "", "", f.error, "", ""];
      const ours = rows.find((r) => r.n === n && r.solver === "InteriorPointQP")!;
      return [
        String(n),
        String(f.iterations),
        formatTime(f.time),
        f.value.toFixed(8),
        (f.value - ours.value).toExponential(2),
        `${(ours.solve / f.time).toFixed(2)}×`,
      ];
    }),
  );
}
