/**
 * The fast paths of the dense kernels: recursive (GEMM-based) LU and Cholesky against simple unblocked reference
 * implementations kept in this file (sizes around and past the recursion thresholds and the 32-column leaves,
 * ill-conditioned, singular and indefinite inputs), the strided GEMM kernel on sub-blocks and transposed
 * operands, and the transposed-operand products matmulTN / matmulNT with their derivative rules (which matmul's
 * own VJP now uses).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  ShapeError,
  Tensor,
  grad,
  hessian,
  jacfwd,
  jacrev,
  linalg,
  matmul,
  matmulNT,
  matmulTN,
  matrixTranspose,
  mul,
  sin,
  sub,
  sum,
  tensor,
} from "../src/index.js";
import { gemmNT, gemmStrided, gemmTN } from "../src/core/ops/matmul.js";
import { assertClose, checkDerivatives, numericJacobian, randn, rng } from "./helpers.js";

const EPS = 2.220446049250313e-16;

/** Textbook LU with partial pivoting (first largest |pivot|, whole-row swaps, exactly-zero columns skipped). */
function referenceLu(a: Float64Array, n: number): { lu: Float64Array; piv: Int32Array; singular: boolean } {
  const lu = a.slice();
  const piv = Int32Array.from({ length: n }, (_, i) => i);
  let amax = 0;
  for (const v of a) amax = Math.max(amax, Math.abs(v));
  let singular = false;
  for (let k = 0; k < n; k++) {
    let p = k;
    for (let i = k + 1; i < n; i++) if (Math.abs(lu[i * n + k]!) > Math.abs(lu[p * n + k]!)) p = i;
    for (let j = 0; j < n; j++) [lu[k * n + j], lu[p * n + j]] = [lu[p * n + j]!, lu[k * n + j]!];
    [piv[k], piv[p]] = [piv[p]!, piv[k]!];
    const pivot = lu[k * n + k]!;
    if (Math.abs(pivot) <= n * EPS * amax) singular = true;
    if (pivot === 0) continue;
    for (let i = k + 1; i < n; i++) {
      const l = lu[i * n + k]! / pivot;
      lu[i * n + k] = l;
      for (let j = k + 1; j < n; j++) lu[i * n + j] -= l * lu[k * n + j]!;
    }
  }
  return { lu, piv, singular };
}

/** Textbook Cholesky reading the lower triangle; null at a pivot not above n·eps·max diag. */
function referenceCholesky(a: Float64Array, n: number): Float64Array | null {
  let maxDiag = 0;
  for (let i = 0; i < n; i++) maxDiag = Math.max(maxDiag, Math.abs(a[i * n + i]!));
  const l = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j]!;
    for (let p = 0; p < j; p++) d -= l[j * n + p]! ** 2;
    if (!(d > n * EPS * maxDiag)) return null;
    l[j * n + j] = Math.sqrt(d);
    for (let i = j + 1; i < n; i++) {
      let s = a[i * n + j]!;
      for (let p = 0; p < j; p++) s -= l[i * n + p]! * l[j * n + p]!;
      l[i * n + j] = s / l[j * n + j]!;
    }
  }
  return l;
}

function randomMatrix(r: ReturnType<typeof rng>, m: number, n: number): Float64Array {
  return Float64Array.from({ length: m * n }, () => r.normal());
}

/** C = A·B for row-major A (m×k) and B (k×n). */
function naiveProduct(a: Float64Array, b: Float64Array, m: number, k: number, n: number): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[i * k + p]! * b[p * n + j]!;
      c[i * n + j] = s;
    }
  return c;
}

/** Bᵀ·B + shift·I for a random m×n B: SPD when m ≥ n or shift > 0. */
function gram(r: ReturnType<typeof rng>, m: number, n: number, shift: number): Float64Array {
  const b = randomMatrix(r, m, n);
  const g = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let p = 0; p < m; p++) s += b[p * n + i]! * b[p * n + j]!;
      g[i * n + j] = s;
      g[j * n + i] = s;
    }
  for (let i = 0; i < n; i++) g[i * n + i] += shift;
  return g;
}

function maxAbs(x: Float64Array): number {
  let m = 0;
  for (const v of x) m = Math.max(m, Math.abs(v));
  return m;
}

/** max |(P·A − L·U)ᵢⱼ| for factors of {@link linalg.luFactor}. */
function luBackwardError(a: Float64Array, f: { lu: Float64Array; piv: Int32Array }, n: number): number {
  let err = 0;
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p <= Math.min(i, j); p++) s += (p === i ? 1 : f.lu[i * n + p]!) * f.lu[p * n + j]!;
      err = Math.max(err, Math.abs(a[f.piv[i]! * n + j]! - s));
    }
  return err;
}

/**
 * Checks the LU of `a` against the unblocked reference: the same flag, the same first `samePivots` pivots (all
 * by default; after a numerically singular leading block the later pivots are chosen among rounding noise), a
 * backward error at rounding level and |L| ≤ 1. With `sameFactors` (well-conditioned inputs, where the factors
 * are determined to rounding) the factors must also agree entry by entry.
 */
function checkLuAgainstReference(
  a: Float64Array,
  n: number,
  msg: string,
  opts: { sameFactors?: boolean; samePivots?: number } = {},
): { singular: boolean } {
  const f = linalg.luFactor(a, n);
  const ref = referenceLu(a, n);
  const k = opts.samePivots ?? n;
  assert.deepEqual(Array.from(f.piv.subarray(0, k)), Array.from(ref.piv.subarray(0, k)), `${msg}: pivots`);
  assert.equal(f.singular, ref.singular, `${msg}: singular flag`);
  const scale = maxAbs(a);
  if (opts.sameFactors ?? true) assertClose(f.lu, ref.lu, { rtol: 1e-9, atol: 1e-11 * scale }, `${msg}: factors`);
  assert.ok(luBackwardError(a, f, n) <= 50 * n * EPS * scale, `${msg}: P·A = L·U to rounding`);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < i; j++) assert.ok(Math.abs(f.lu[i * n + j]!) <= 1, `${msg}: |L| ≤ 1 (partial pivoting)`);
  return { singular: f.singular };
}

describe("luFactor (recursive above n = 64) against the unblocked reference", () => {
  test("random matrices of sizes around the threshold and not multiples of the 32-column leaves", () => {
    const r = rng(1);
    for (const n of [1, 2, 17, 63, 64, 65, 97, 130, 200, 257]) {
      const a = randomMatrix(r, n, n);
      assert.equal(checkLuAgainstReference(a, n, `n = ${n}`).singular, false);
      const b = randomMatrix(r, n, 3);
      const x = linalg.luSolve(linalg.luFactor(a, n), n, b);
      assertClose(naiveProduct(a, x, n, n, 3), b, { rtol: 1e-8, atol: 1e-8 }, `n = ${n}: A·x = b`);
    }
  });

  test("ill-conditioned: a column that is nearly the sum of others (κ ≈ 1e10), and graded rows", () => {
    const r = rng(2);
    const n = 150;
    const a = randomMatrix(r, n, n);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < 40; j++) s += a[i * n + j]!;
      a[i * n + 120] = s + 1e-10 * r.normal();
    }
    assert.equal(checkLuAgainstReference(a, n, "near-dependent column", { sameFactors: false }).singular, false);
    // The solve is backward stable (tiny residual) and agrees with the reference's to within n·κ·eps.
    const b = randomMatrix(r, n, 1);
    const x = linalg.luSolve(linalg.luFactor(a, n), n, b);
    const xRef = linalg.luSolve(referenceLu(a, n), n, b);
    const residual = maxAbs(naiveProduct(a, x, n, n, 1).map((v, i) => v - b[i]!));
    assert.ok(residual <= 50 * n * EPS * maxAbs(a) * maxAbs(x), `residual ${residual}`);
    assertClose(x, xRef, { rtol: 0, atol: n * 1e10 * EPS * maxAbs(xRef) });
    const graded = randomMatrix(r, 100, 100).map((v, i) => v * 10 ** ((-10 * Math.floor(i / 100)) / 99));
    checkLuAgainstReference(graded, 100, "graded rows", { sameFactors: false });
  });

  test("singular: low rank, an exactly-zero column inside the recursive part, the zero matrix", () => {
    const r = rng(3);
    const n = 120;
    const lowRank = naiveProduct(randomMatrix(r, n, 50), randomMatrix(r, 50, n), n, 50, n);
    assert.equal(checkLuAgainstReference(lowRank, n, "rank 50", { sameFactors: false, samePivots: 50 }).singular, true);

    const zeroColumn = randomMatrix(r, n, n);
    for (let i = 0; i < n; i++) zeroColumn[i * n + 70] = 0;
    assert.equal(checkLuAgainstReference(zeroColumn, n, "zero column").singular, true);
    assert.deepEqual(linalg.luMinPivot(linalg.luFactor(zeroColumn, n).lu, n), { index: 70, value: 0 });

    const zero = new Float64Array(80 * 80);
    const f = linalg.luFactor(zero, 80);
    assert.equal(f.singular, true);
    assert.deepEqual(
      Array.from(f.piv),
      Array.from({ length: 80 }, (_, i) => i),
    );
    assert.equal(maxAbs(f.lu), 0);
  });

  test("the input is not mutated", () => {
    const a = randomMatrix(rng(4), 100, 100);
    const copy = a.slice();
    linalg.luFactor(a, 100);
    assert.deepEqual(a, copy);
  });
});

describe("choleskyFactor (recursive above n = 96) against the unblocked reference", () => {
  test("random SPD matrices of sizes around the threshold; factor, zero upper triangle, solve", () => {
    const r = rng(5);
    for (const n of [1, 5, 95, 96, 97, 128, 161, 250]) {
      const a = gram(r, n + 3, n, 0.1);
      const l = linalg.choleskyFactor(a, n);
      const ref = referenceCholesky(a, n)!;
      assert.ok(l !== null, `n = ${n}: SPD accepted`);
      assertClose(l, ref, { rtol: 1e-9, atol: 1e-12 * Math.sqrt(maxAbs(a)) }, `n = ${n}: factor`);
      for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) assert.equal(l[i * n + j], 0, `n = ${n}: upper zero`);
      const b = randomMatrix(r, n, 2);
      const x = linalg.choleskySolve(l, n, b);
      assertClose(naiveProduct(a, x, n, n, 2), b, { rtol: 1e-7, atol: 1e-7 }, `n = ${n}: A·x = b`);
    }
  });

  test("reads only the lower triangle (NaN above the diagonal is ignored)", () => {
    const n = 130;
    const a = gram(rng(6), n, n, 1);
    const poisoned = a.slice();
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) poisoned[i * n + j] = NaN;
    assert.deepEqual(linalg.choleskyFactor(poisoned, n), linalg.choleskyFactor(a, n));
  });

  test("ill-conditioned SPD (κ ≈ 1e7): accepted, backward stable, same solution as the reference", () => {
    const r = rng(7);
    const n = 140;
    // Rank-60 Gram matrix plus 1e-4·I: eigenvalues from 1e-4 to ~800.
    const a = gram(r, 60, n, 1e-4);
    const l = linalg.choleskyFactor(a, n);
    const ref = referenceCholesky(a, n);
    assert.ok(l !== null && ref !== null);
    let err = 0;
    for (let i = 0; i < n; i++)
      for (let j = 0; j <= i; j++) {
        let s = 0;
        for (let p = 0; p <= j; p++) s += l[i * n + p]! * l[j * n + p]!;
        err = Math.max(err, Math.abs(s - a[i * n + j]!));
      }
    assert.ok(err <= 50 * n * EPS * maxAbs(a), `A = L·Lᵀ to rounding (error ${err})`);
    const b = randomMatrix(r, n, 1);
    const xRef = linalg.choleskySolve(ref, n, b);
    assertClose(linalg.choleskySolve(l, n, b), xRef, { rtol: 0, atol: n * 1e7 * EPS * maxAbs(xRef) });
  });

  test("rejects singular PSD, indefinite and negligible-pivot matrices like the reference", () => {
    const r = rng(8);
    const n = 130;
    const psdSingular = gram(r, 70, n, 0);
    assert.equal(referenceCholesky(psdSingular, n), null);
    assert.equal(linalg.choleskyFactor(psdSingular, n), null, "rank-70 Gram matrix");

    const indefinite = gram(r, n + 5, n, 1);
    indefinite[100 * n + 100] = -1;
    assert.equal(linalg.choleskyFactor(indefinite, n), null, "negative diagonal at 100");

    // A = L·Lᵀ where row 110 of L is zero but for its diagonal δ, so pivot 110 is exactly δ².
    const withPivot = (delta: number): Float64Array => {
      const lo = new Float64Array(n * n);
      // Small off-diagonal entries keep L (and so every other pivot) well-conditioned.
      for (let i = 0; i < n; i++)
        for (let j = 0; j <= i; j++) lo[i * n + j] = i === j ? 1 + Math.abs(r.normal()) : 0.05 * r.normal();
      for (let j = 0; j < 110; j++) lo[110 * n + j] = 0;
      lo[110 * n + 110] = delta;
      const lt = new Float64Array(n * n);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) lt[j * n + i] = lo[i * n + j]!;
      return naiveProduct(lo, lt, n, n, n);
    };
    const small = withPivot(1e-10);
    const tiny = n * EPS * Math.max(...Array.from({ length: n }, (_, i) => small[i * n + i]!));
    assert.ok(1e-20 < tiny && tiny < 1e-6, "the two pivots below straddle the threshold");
    assert.equal(linalg.choleskyFactor(small, n), null, "pivot 1e-20 below n·eps·max diag");
    assert.equal(referenceCholesky(small, n), null);
    const ok = withPivot(1e-3);
    const l = linalg.choleskyFactor(ok, n);
    assert.ok(l !== null, "pivot 1e-6 above the threshold");
    assertClose(l[110 * n + 110]!, 1e-3, { rtol: 1e-6 });
  });
});

describe("gemmStrided, gemmTN, gemmNT", () => {
  test("sub-blocks with offsets and strides, transposed operands and alpha, on every kernel path", () => {
    const r = rng(9);
    for (const [m, k, n] of [
      [1, 7, 3],
      [5, 3, 1],
      [40, 50, 1],
      [3, 4, 9],
      [37, 41, 29],
      [65, 64, 130],
      [130, 300, 7],
      [64, 2, 300],
      [257, 260, 259],
    ] as const) {
      for (const [transA, transB] of [
        [false, false],
        [true, false],
        [false, true],
        [true, true],
      ] as const) {
        // op(A) is m×k, stored (transposed or not) inside a larger row-major array with row length lda.
        const lda = (transA ? m : k) + 3;
        const ldb = (transB ? k : n) + 2;
        const ldc = n + 5;
        const aStore = randomMatrix(r, (transA ? k : m) + 2, lda);
        const bStore = randomMatrix(r, (transB ? n : k) + 1, ldb);
        const c = randomMatrix(r, m + 1, ldc);
        const aOff = lda + 1;
        const bOff = 2;
        const cOff = 3;
        const opA = (i: number, p: number) => (transA ? aStore[aOff + p * lda + i]! : aStore[aOff + i * lda + p]!);
        const opB = (p: number, j: number) => (transB ? bStore[bOff + j * ldb + p]! : bStore[bOff + p * ldb + j]!);
        const alpha = -1.5;
        const expected = c.slice();
        for (let i = 0; i < m; i++)
          for (let j = 0; j < n; j++) {
            let s = 0;
            for (let p = 0; p < k; p++) s += opA(i, p) * opB(p, j);
            expected[cOff + i * ldc + j] += alpha * s;
          }
        gemmStrided(
          m,
          k,
          n,
          alpha,
          aStore,
          aOff,
          transA ? 1 : lda,
          transA ? lda : 1,
          bStore,
          bOff,
          transB ? 1 : ldb,
          transB ? ldb : 1,
          c,
          cOff,
          ldc,
        );
        // Entries outside the m×n block of C (and its padding) must be untouched: compared exactly.
        assertClose(c, expected, { rtol: 1e-12, atol: 1e-12 }, `${m}×${k}×${n} transA=${transA} transB=${transB}`);
      }
    }
  });

  test("gemmTN and gemmNT equal gemm on the explicitly transposed operand", () => {
    const r = rng(10);
    for (const [m, k, n] of [
      [100, 1000, 1],
      [1000, 1, 100],
      [33, 70, 45],
    ] as const) {
      const a = randomMatrix(r, m, k);
      const b = randomMatrix(r, k, n);
      const at = new Float64Array(k * m);
      for (let i = 0; i < m; i++) for (let p = 0; p < k; p++) at[p * m + i] = a[i * k + p]!;
      const bt = new Float64Array(n * k);
      for (let p = 0; p < k; p++) for (let j = 0; j < n; j++) bt[j * k + p] = b[p * n + j]!;
      const expected = naiveProduct(a, b, m, k, n);
      const tn = new Float64Array(m * n);
      gemmTN(at, 0, b, 0, tn, 0, m, k, n);
      assertClose(tn, expected, { rtol: 1e-12, atol: 1e-12 }, `TN ${m}×${k}×${n}`);
      const nt = new Float64Array(m * n);
      gemmNT(a, 0, bt, 0, nt, 0, m, k, n);
      assertClose(nt, expected, { rtol: 1e-12, atol: 1e-12 }, `NT ${m}×${k}×${n}`);
    }
  });
});

describe("matmulTN and matmulNT", () => {
  const r = rng(11);

  test("equal matmul with matrixTranspose, with batch broadcasting", () => {
    const cases: [number[], number[]][] = [
      [
        [4, 3],
        [4, 5],
      ],
      [
        [2, 1, 6, 3],
        [4, 6, 2],
      ],
      [
        [70, 40],
        [70, 30],
      ],
    ];
    for (const [as, bs] of cases) {
      const a = randn(r, as);
      const b = randn(r, bs);
      assertClose(matmulTN(a, b), matmul(matrixTranspose(a), b), { rtol: 1e-12, atol: 1e-12 }, `TN ${as} ${bs}`);
      const bt = matrixTranspose(b);
      assertClose(matmulNT(matrixTranspose(a), bt), matmul(matrixTranspose(a), b), { rtol: 1e-12, atol: 1e-12 });
    }
  });

  test("bad shapes raise ShapeError naming the function and the shapes", () => {
    assert.throws(
      () => matmulTN(tensor([1, 2]), tensor([[1, 2]])),
      (e) => e instanceof ShapeError && /matmulTN.*\[2\]/.test(e.message),
    );
    assert.throws(
      () => matmulTN(tensor([[1, 2]]), tensor([[1], [2]])),
      (e) => e instanceof ShapeError && /matmulTN.*rows/.test(e.message),
    );
    assert.throws(
      () => matmulNT(tensor([[1, 2]]), tensor([[1, 2, 3]])),
      (e) => e instanceof ShapeError && /matmulNT.*columns/.test(e.message),
    );
    assert.throws(
      () => matmulNT(randn(r, [2, 3, 4]), randn(r, [3, 5, 4])),
      (e) => e instanceof ShapeError && /matmulNT: batch dimensions/.test(e.message),
    );
  });

  test("first derivatives against finite differences (both arguments, batched)", () => {
    checkDerivatives((a, b) => matmulTN(a, b), [randn(r, [4, 3]), randn(r, [4, 2])], {}, "matmulTN");
    checkDerivatives((a, b) => matmulNT(a, b), [randn(r, [3, 4]), randn(r, [2, 4])], {}, "matmulNT");
    checkDerivatives((a, b) => matmulTN(a, b), [randn(r, [2, 3, 2]), randn(r, [3, 4])], {}, "matmulTN batched");
    checkDerivatives((a, b) => matmulNT(a, b), [randn(r, [3, 2]), randn(r, [2, 4, 2])], {}, "matmulNT batched");
  });

  test("second derivatives through matmul, matmulTN and matmulNT against finite differences of the gradient", () => {
    const fs: [string, (x: Tensor) => Tensor][] = [
      ["matmul", (x) => sum(sin(matmul(x, x)))],
      ["matmulTN", (x) => sum(sin(matmulTN(x, x)))],
      ["matmulNT", (x) => sum(sin(matmulNT(x, mul(x, x))))],
    ];
    for (const [name, f] of fs) {
      const x = randn(r, [3, 3]);
      const h = hessian(f)(x) as Tensor;
      const fd = numericJacobian((y) => grad(f)(y) as Tensor, [x]);
      assertClose(h.data, fd, { rtol: 1e-5, atol: 1e-6 }, `${name} hessian`);
      const fr = jacfwd(jacrev(f))(x) as Tensor;
      assertClose(fr.data, h.data, { rtol: 1e-10, atol: 1e-10 }, `${name} jacfwd(jacrev) = hessian`);
    }
  });

  test("least-squares gradient: ∇_w ½‖Xw − y‖² = Xᵀ(Xw − y) and ∇_X = (Xw − y)·wᵀ", () => {
    const X = randn(r, [120, 9]);
    const w = randn(r, [9]);
    const y = randn(r, [120]);
    const loss = (X: Tensor, w: Tensor) => mul(0.5, sum(mul(sub(matmul(X, w), y), sub(matmul(X, w), y))));
    const [gX, gw] = grad(loss, { argnums: [0, 1] })(X, w) as Tensor[];
    const res = sub(matmul(X, w), y);
    assertClose(gw!, matmul(matrixTranspose(X), res), { rtol: 1e-12, atol: 1e-12 }, "grad w");
    const outer = new Float64Array(120 * 9);
    for (let i = 0; i < 120; i++) for (let j = 0; j < 9; j++) outer[i * 9 + j] = res.data[i]! * w.data[j]!;
    assertClose(gX!.data, outer, { rtol: 1e-12, atol: 1e-12 }, "grad X");
  });
});
