/**
 * Dense-kernel benchmarks: GF/s of `luFactor` and `choleskyFactor` (recursive, GEMM-based) at n = 200, 500 and
 * 1000 against the unblocked factorisations they replaced (kept below as baselines), and the reverse-mode cost of
 * `matmul` in a 1000×100 least-squares loss, where the cotangents are now transposed-operand products
 * (`matmulTN` / `matmulNT`) instead of products with materialised `matrixTranspose` copies.
 */
import {
  Tensor,
  customVjp,
  grad,
  linalg,
  matmul,
  matmulNT,
  matmulTN,
  matrixTranspose,
  mul,
  random,
  sub,
  sum,
} from "../src/index.js";
import { formatTime, printTable, timeIt } from "./util.js";

const SIZES = [200, 500, 1000];
const EPS = 2.220446049250313e-16;

/** The previous luFactor: right-looking unblocked elimination with partial pivoting (row-major axpy updates). */
function unblockedLu(a: Float64Array, n: number): Float64Array {
  const lu = a.slice(0, n * n);
  for (let k = 0; k < n; k++) {
    let p = k;
    let best = Math.abs(lu[k * n + k]!);
    for (let i = k + 1; i < n; i++) {
      const v = Math.abs(lu[i * n + k]!);
      if (v > best) {
        best = v;
        p = i;
      }
    }
    if (p !== k) {
      for (let j = 0; j < n; j++) {
        const t = lu[k * n + j]!;
        lu[k * n + j] = lu[p * n + j]!;
        lu[p * n + j] = t;
      }
    }
    if (best === 0) continue;
    const inv = 1 / lu[k * n + k]!;
    for (let i = k + 1; i < n; i++) {
      const l = lu[i * n + k]! * inv;
      lu[i * n + k] = l;
      if (l === 0) continue;
      for (let j = k + 1; j < n; j++) lu[i * n + j] -= l * lu[k * n + j]!;
    }
  }
  return lu;
}

/** The previous choleskyFactor: left-looking unblocked, one dot product per entry. */
function unblockedCholesky(a: Float64Array, n: number): Float64Array | null {
  const l = new Float64Array(n * n);
  let maxDiag = 0;
  for (let j = 0; j < n; j++) maxDiag = Math.max(maxDiag, Math.abs(a[j * n + j]!));
  const tiny = n * EPS * maxDiag;
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j]!;
    for (let p = 0; p < j; p++) d -= l[j * n + p]! * l[j * n + p]!;
    if (!(d > tiny)) return null;
    const ljj = Math.sqrt(d);
    l[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let s = a[i * n + j]!;
      for (let p = 0; p < j; p++) s -= l[i * n + p]! * l[j * n + p]!;
      l[i * n + j] = s / ljj;
    }
  }
  return l;
}

interface FactorFigures {
  n: number;
  luOld: number;
  luNew: number;
  cholOld: number;
  cholNew: number;
}

function factorisations(n: number): FactorFigures {
  const keys = random.split(random.key(n), 1);
  const m = random.normal(keys[0]!, [n, n]);
  const a = m.data;
  // A well-conditioned SPD matrix: M·Mᵀ/n + I.
  const spd = new Float64Array(n * n);
  const gramM = matmulNT(m, m).data;
  for (let i = 0; i < n * n; i++) spd[i] = gramM[i]! / n;
  for (let i = 0; i < n; i++) spd[i * n + i] += 1;
  if (linalg.choleskyFactor(spd, n) === null) throw new Error("bench: the SPD test matrix was rejected");
  const opts = n >= 1000 ? { minTime: 1, minBatches: 3 } : { minTime: 0.5, minBatches: 5 };
  return {
    n,
    luOld: timeIt(() => unblockedLu(a, n), opts).median,
    luNew: timeIt(() => linalg.luFactor(a, n), opts).median,
    cholOld: timeIt(() => unblockedCholesky(spd, n), opts).median,
    cholNew: timeIt(() => linalg.choleskyFactor(spd, n), opts).median,
  };
}

interface GradientFigures {
  transposeCopy: number;
  gwOld: number;
  gwNew: number;
  gXOld: number;
  gXNew: number;
  gradOld: number;
  gradNew: number;
}

/** The smallest median of `rounds` alternating timings of each function (the machine may be shared). */
function bestOf<K extends string>(fns: Record<K, () => unknown>, rounds = 3): Record<K, number> {
  const best = {} as Record<K, number>;
  for (let r = 0; r < rounds; r++) {
    for (const key of Object.keys(fns) as K[]) {
      const t = timeIt(fns[key], { minTime: 0.2 }).median;
      best[key] = Math.min(best[key] ?? Infinity, t);
    }
  }
  return best;
}

/**
 * The 1000×100 least-squares loss ½‖X·w − y‖²: each of matmul's cotangents by the previous rule (a product with
 * a materialised transpose) and by the current one (a transposed-operand product), and the whole gradient in
 * (X, w) with matmul's current rule and with the previous rule restored through `customVjp`.
 */
function leastSquaresGradient(): GradientFigures {
  const keys = random.split(random.key(7), 3);
  const X = random.normal(keys[0]!, [1000, 100]);
  const w = random.normal(keys[1]!, [100, 1]);
  const y = random.normal(keys[2]!, [1000, 1]);
  const ct = sub(matmul(X, w), y);
  const previousRuleMatmul = customVjp(
    (a: Tensor, b: Tensor) => matmul(a, b),
    (a: Tensor, b: Tensor) => [matmul(a, b), [a, b]],
    ([a, b]: [Tensor, Tensor], g: Tensor) => [matmul(g, matrixTranspose(b)), matmul(matrixTranspose(a), g)],
  );
  const lossWith = (product: (a: Tensor, b: Tensor) => Tensor) => (X: Tensor, w: Tensor) => {
    const r = sub(product(X, w), y);
    return mul(0.5, sum(mul(r, r)));
  };
  const gradOld = grad(lossWith(previousRuleMatmul), { argnums: [0, 1] });
  const gradNew = grad(lossWith(matmul), { argnums: [0, 1] });
  return bestOf({
    transposeCopy: () => matrixTranspose(X),
    gwOld: () => matmul(matrixTranspose(X), ct),
    gwNew: () => matmulTN(X, ct),
    gXOld: () => matmul(ct, matrixTranspose(w)),
    gXNew: () => matmulNT(ct, w),
    gradOld: () => gradOld(X, w),
    gradNew: () => gradNew(X, w),
  });
}

/** Runs the dense-kernel benchmarks and prints their tables. */
export async function run(): Promise<void> {
  const rows = SIZES.map(factorisations);
  const gf = (flops: number, t: number) => (flops / t / 1e9).toFixed(2);
  const speedup = (before: number, after: number) => `${(before / after).toFixed(2)}×`;
  printTable(
    "Dense factorisations (GF/s counts 2n³/3 flops for LU, n³/3 for Cholesky; old = the unblocked loops)",
    [
      "n",
      "LU old",
      "LU new",
      "LU GF/s old",
      "LU GF/s new",
      "LU speed-up",
      "chol old",
      "chol new",
      "chol GF/s old",
      "chol GF/s new",
      "chol speed-up",
    ],
    rows.map((r) => [
      String(r.n),
      formatTime(r.luOld),
      formatTime(r.luNew),
      gf((2 / 3) * r.n ** 3, r.luOld),
      gf((2 / 3) * r.n ** 3, r.luNew),
      speedup(r.luOld, r.luNew),
      formatTime(r.cholOld),
      formatTime(r.cholNew),
      gf(r.n ** 3 / 3, r.cholOld),
      gf(r.n ** 3 / 3, r.cholNew),
      speedup(r.cholOld, r.cholNew),
    ]),
  );
  const g = leastSquaresGradient();
  printTable(
    "Reverse mode of matmul in ½‖X·w − y‖², X 1000×100, w 100×1 (best of 3 alternating medians)",
    ["what", "old rule", "new rule", "speed-up"],
    [
      ["matrixTranspose(X) copy alone", formatTime(g.transposeCopy), "", ""],
      [
        "w̄ = Xᵀ·r̄: matmul(matrixTranspose(X), r̄) → matmulTN(X, r̄)",
        formatTime(g.gwOld),
        formatTime(g.gwNew),
        speedup(g.gwOld, g.gwNew),
      ],
      [
        "X̄ = r̄·wᵀ: matmul(r̄, matrixTranspose(w)) → matmulNT(r̄, w)",
        formatTime(g.gXOld),
        formatTime(g.gXNew),
        speedup(g.gXOld, g.gXNew),
      ],
      ["grad of the loss in (X, w)", formatTime(g.gradOld), formatTime(g.gradNew), speedup(g.gradOld, g.gradNew)],
    ],
  );
}
