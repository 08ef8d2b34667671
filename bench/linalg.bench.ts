/**
 * Linear-algebra benchmarks: a dense n = 500 solve through `linearSolve` (LU and Cholesky), conjugate-gradient
 * iterations per second on the matrix-free 2-D Poisson operator (5-point Laplacian) with 10⁴ and 10⁶ unknowns,
 * and the thin SVD of square and tall matrices. When python3 with NumPy and SciPy is available, the same problems
 * are timed with `numpy.linalg.solve`, `scipy.sparse.linalg.cg` and `numpy.linalg.svd` in the same run, and the
 * ratios printed; otherwise that part is skipped with a message.
 */
import { spawnSync } from "node:child_process";
import { Tensor, add, eye, linalg, matmul, matrixTranspose, mul, random } from "../src/index.js";
import { formatTime, printTable, timeIt } from "./util.js";

const DENSE_N = 500;
const CG_ITERATIONS = 50;
const POISSON_SIDES = [100, 1000];
/** Shapes [m, n] of the SVD benchmark. */
const SVD_SHAPES: readonly [number, number][] = [
  [100, 100],
  [200, 200],
  [1000, 50],
];

/** The 5-point Laplacian on a side×side grid with Dirichlet boundaries, as a raw kernel (benchmark only). */
function poissonOperator(side: number): linalg.LinearOperator<null> {
  const n = side * side;
  const apply = (_p: null, v: Tensor): Tensor => {
    const x = v.data;
    const y = new Float64Array(n);
    for (let i = 0; i < side; i++) {
      const row = i * side;
      for (let j = 0; j < side; j++) {
        const k = row + j;
        let s = 4 * x[k]!;
        if (i > 0) s -= x[k - side]!;
        if (i + 1 < side) s -= x[k + side]!;
        if (j > 0) s -= x[k - 1]!;
        if (j + 1 < side) s -= x[k + 1]!;
        y[k] = s;
      }
    }
    return new Tensor(y, [n]);
  };
  return linalg.LinearOperator.fromFunction(apply, null, new Tensor(new Float64Array(n), [n]), {
    rmatvec: apply,
    tags: { symmetric: true, positiveDefinite: true },
  });
}

interface PythonFigures {
  numpySolve: number;
  scipyCg: Record<string, number>;
  numpySvd: Record<string, number>;
}

/** Times numpy.linalg.solve (n = 500) and scipy CG (50 iterations) on the same Poisson problems; null if absent. */
function pythonFigures(): PythonFigures | string {
  const script = `
import json, time, numpy as np, scipy.sparse as sp, scipy.sparse.linalg as spla
def best(f, reps):
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter(); f(); ts.append(time.perf_counter() - t0)
    ts.sort(); return ts[len(ts) // 2]
rng = np.random.default_rng(0)
n = ${DENSE_N}
A = rng.standard_normal((n, n)) + n * np.eye(n); b = rng.standard_normal(n)
out = {"numpySolve": best(lambda: np.linalg.solve(A, b), 15), "scipyCg": {}, "numpySvd": {}}
for m, k in ${JSON.stringify(SVD_SHAPES)}:
    S = rng.standard_normal((m, k))
    out["numpySvd"][f"{m}x{k}"] = best(lambda: np.linalg.svd(S, full_matrices=False), 7)
for side in ${JSON.stringify(POISSON_SIDES)}:
    T = sp.diags([-np.ones(side - 1), 4 * np.ones(side), -np.ones(side - 1)], [-1, 0, 1])
    I = sp.identity(side)
    L = (sp.kron(I, T) + sp.kron(sp.diags([-np.ones(side - 1), -np.ones(side - 1)], [-1, 1]), I)).tocsr()
    rhs = np.ones(side * side)
    def run():
        spla.cg(L, rhs, rtol=0.0, atol=0.0, maxiter=${CG_ITERATIONS})
    out["scipyCg"][str(side * side)] = best(run, 5 if side < 1000 else 3)
print(json.dumps(out))
`;
  const res = spawnSync("python3", ["-c", script], { encoding: "utf8", timeout: 300_000 });
  if (res.error) return `python3 not runnable (${res.error.message})`;
  if (res.status !== 0) {
    const last = (res.stderr || "").trim().split("\n").pop() ?? "";
    return `python3 with numpy and scipy not available (${last})`;
  }
  return JSON.parse(res.stdout.trim().split("\n").pop()!) as PythonFigures;
}

function denseSolve(): { lu: number; cholesky: number } {
  const keys = random.split(random.key(1), 2);
  const M = random.normal(keys[0]!, [DENSE_N, DENSE_N]);
  const b = random.normal(keys[1]!, [DENSE_N]);
  const general = linalg.LinearOperator.fromMatrix(add(M, mul(eye(DENSE_N), DENSE_N)));
  const spdMatrix = add(mul(matmul(M, matrixTranspose(M)), 1 / DENSE_N), eye(DENSE_N));
  const spd = linalg.LinearOperator.fromMatrix(spdMatrix, { symmetric: true, positiveDefinite: true });
  const opts = { minTime: 1, minBatches: 5 };
  const lu = timeIt(() => linalg.linearSolve(general, b, { solver: "lu" }), opts).median;
  const cholesky = timeIt(() => linalg.linearSolve(spd, b, { solver: "cholesky" }), opts).median;
  return { lu, cholesky };
}

function cgRate(side: number): { perIteration: number; matvec: number } {
  const op = poissonOperator(side);
  const n = side * side;
  const b = new Tensor(new Float64Array(n).fill(1), [n]);
  const opts = { minTime: side >= 1000 ? 2 : 0.5, minBatches: 3, warmup: side >= 1000 ? 0 : 0.05 };
  const run = () => {
    const { info } = linalg.cg(op, b, { rtol: 0, atol: 0, maxIter: CG_ITERATIONS, throwOnFailure: false });
    if (info.iterations !== CG_ITERATIONS) throw new Error(`bench: CG ran ${info.iterations} iterations`);
  };
  const perIteration = timeIt(run, opts).median / CG_ITERATIONS;
  const matvec = timeIt(() => op.matvec(b), opts).median;
  return { perIteration, matvec };
}

function svdTimes(): { shape: string; time: number }[] {
  return SVD_SHAPES.map(([m, n], i) => {
    const a = random.normal(random.key(10 + i), [m, n]);
    return { shape: `${m}x${n}`, time: timeIt(() => linalg.svd(a), { minTime: 1, minBatches: 3 }).median };
  });
}

/** Runs the linear-algebra benchmarks and prints their tables. */
export async function run(): Promise<void> {
  const dense = denseSolve();
  const flops = (2 / 3) * DENSE_N ** 3 + 2 * DENSE_N ** 2;
  const cg = POISSON_SIDES.map((side) => [side, cgRate(side)] as const);
  const svd = svdTimes();
  const py = pythonFigures();
  const pyOk = typeof py !== "string";
  const ratio = (ours: number, theirs: number | undefined) =>
    theirs === undefined ? "" : `${(ours / theirs).toFixed(2)}×`;

  printTable(
    `Dense solve, n = ${DENSE_N} (linearSolve on a matrix operator; GF/s counts 2n³/3 + 2n² flops)`,
    ["solver", "time", "GF/s", ...(pyOk ? ["numpy.linalg.solve", "time / numpy"] : [])],
    [
      [
        "lu",
        formatTime(dense.lu),
        (flops / dense.lu / 1e9).toFixed(2),
        ...(pyOk ? [formatTime(py.numpySolve), ratio(dense.lu, py.numpySolve)] : []),
      ],
      [
        "cholesky",
        formatTime(dense.cholesky),
        (flops / 2 / dense.cholesky / 1e9).toFixed(2),
        ...(pyOk ? ["", ""] : []),
      ],
    ],
  );
  printTable(
    `CG on the matrix-free 2-D Poisson operator (5-point Laplacian), ${CG_ITERATIONS} iterations per solve`,
    [
      "unknowns",
      "time / iteration",
      "iterations / s",
      "bare matvec",
      ...(pyOk ? ["scipy cg / iteration", "time / scipy"] : []),
    ],
    cg.map(([side, r]) => {
      const key = String(side * side);
      const theirs = pyOk ? py.scipyCg[key]! / CG_ITERATIONS : undefined;
      return [
        key,
        formatTime(r.perIteration),
        (1 / r.perIteration).toFixed(0),
        formatTime(r.matvec),
        ...(pyOk ? [formatTime(theirs!), ratio(r.perIteration, theirs)] : []),
      ];
    }),
  );
  printTable(
    "Thin SVD (linalg.svd: pivoted QR, then one-sided Jacobi, in plain TypeScript; numpy: LAPACK gesdd)",
    ["shape", "time", ...(pyOk ? ["numpy.linalg.svd", "time / numpy"] : [])],
    svd.map(({ shape, time }) => [
      shape,
      formatTime(time),
      ...(pyOk ? [formatTime(py.numpySvd[shape]!), ratio(time, py.numpySvd[shape])] : []),
    ]),
  );
  if (!pyOk) console.log(`  (NumPy/SciPy comparison skipped: ${py})`);
}
