import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  Tensor,
  tensor,
  eye,
  add,
  mul,
  sum,
  square,
  matmul,
  transpose,
  grad,
  hessian,
  hvp,
  jacfwd,
  jacrev,
  DifferentiationError,
  NonFiniteError,
  ShapeError,
} from "../src/index.js";
import {
  LinearSolveError,
  cholesky,
  choleskyFactor,
  choleskySolve,
  det,
  eigh,
  inv,
  lstsq,
  lu,
  luFactor,
  luSolve,
  numericalRank,
  pinv,
  qr,
  qrApplyQt,
  qrExplicit,
  qrFactor,
  slogdet,
  solve,
  triangularSolve,
  triangularSolveKernel,
} from "../src/linalg/dense/index.js";
import { eighKernel, lstsqKernel } from "../src/linalg/dense/kernels.js";
import { factorizationCount } from "../src/linalg/dense/factored.js";
import { assertClose, checkDerivatives, numericJacobian, randn, rng } from "./helpers.js";

type Rng = ReturnType<typeof rng>;

// ---------- plain float64 helpers (the references the tests compare against) ----------

function randArr(r: Rng, n: number): Float64Array {
  const d = new Float64Array(n);
  for (let i = 0; i < n; i++) d[i] = r.normal();
  return d;
}

/** C = A·B for row-major A (m×k), B (k×n). */
function mm(a: Float64Array, b: Float64Array, m: number, k: number, n: number): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let p = 0; p < k; p++) {
      const x = a[i * k + p]!;
      for (let j = 0; j < n; j++) c[i * n + j] += x * b[p * n + j]!;
    }
  }
  return c;
}

function tr(a: Float64Array, m: number, n: number): Float64Array {
  const t = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) t[j * m + i] = a[i * n + j]!;
  return t;
}

function identity(n: number): Float64Array {
  const d = new Float64Array(n * n);
  for (let i = 0; i < n; i++) d[i * n + i] = 1;
  return d;
}

function norm(x: Float64Array): number {
  let s = 0;
  for (const v of x) s += v * v;
  return Math.sqrt(s);
}

function diffNorm(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return Math.sqrt(s);
}

/** A well-conditioned general matrix: Gaussian entries plus a dominant diagonal. */
function wellConditioned(r: Rng, n: number): Float64Array {
  const a = randArr(r, n * n);
  for (let i = 0; i < n; i++) a[i * n + i] += 2 * Math.sqrt(n) + 1;
  return a;
}

/** A symmetric positive definite matrix B·Bᵀ + n·I. */
function spd(r: Rng, n: number): Float64Array {
  const b = randArr(r, n * n);
  const a = mm(b, tr(b, n, n), n, n, n);
  for (let i = 0; i < n; i++) a[i * n + i] += n;
  return a;
}

/** Asserts ‖A·x − b‖ ≤ tol·‖b‖ for an m×n A and m×k b. */
function assertResidual(a: Float64Array, x: Float64Array, b: Float64Array, m: number, n: number, tol = 1e-10): void {
  const k = b.length / m;
  const res = diffNorm(mm(a, x, m, n, k), b);
  assert.ok(
    res <= tol * norm(b),
    `residual ${res.toExponential(2)} > ${tol}·‖b‖ = ${(tol * norm(b)).toExponential(2)}`,
  );
}

const T = (d: Float64Array, shape: number[]) => tensor(d, shape);
const sizes = [1, 2, 3, 7, 20, 50];

// ---------- kernels ----------

describe("dense kernels", () => {
  test("luFactor/luSolve solve A·x = b and Aᵀ·x = b (n = 1..200, 1 and 3 right-hand sides)", () => {
    const r = rng(1);
    for (const n of [...sizes, 200]) {
      const a = wellConditioned(r, n);
      const f = luFactor(a, n);
      assert.equal(f.singular, false);
      for (const k of [1, 3]) {
        const b = randArr(r, n * k);
        assertResidual(a, luSolve(f, n, b), b, n, n);
        assertResidual(tr(a, n, n), luSolve(f, n, b, true), b, n, n);
      }
    }
  });

  test("luFactor reconstructs P·A = L·U and leaves its input untouched", () => {
    const a = new Float64Array([1, 2, 3, 4, 5, 6, 7, 8, 10]);
    const copy = a.slice();
    const { lu: f, piv } = luFactor(a, 3);
    assert.deepEqual(a, copy);
    const l = identity(3);
    const u = new Float64Array(9);
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) (j < i ? l : u)[i * 3 + j] = f[i * 3 + j]!;
    const pa = new Float64Array(9);
    for (let i = 0; i < 3; i++) pa.set(a.subarray(piv[i]! * 3, piv[i]! * 3 + 3), i * 3);
    assertClose(mm(l, u, 3, 3, 3), pa, { atol: 1e-14 });
  });

  test("luFactor flags exactly and numerically singular matrices", () => {
    assert.equal(luFactor(new Float64Array([1, 2, 2, 4]), 2).singular, true);
    assert.equal(luFactor(new Float64Array([1, 0, 0, 1e-17]), 2).singular, true);
    assert.equal(luFactor(new Float64Array([1, 0, 0, 1e-10]), 2).singular, false);
    assert.equal(luFactor(new Float64Array([0, 0, 0, 0]), 2).singular, true);
  });

  test("choleskyFactor gives A = L·Lᵀ with L lower; choleskySolve solves; non-PD gives null", () => {
    const r = rng(2);
    for (const n of [...sizes, 200]) {
      const a = spd(r, n);
      const l = choleskyFactor(a, n)!;
      for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) assert.equal(l[i * n + j], 0);
      assertClose(mm(l, tr(l, n, n), n, n, n), a, { rtol: 0, atol: 1e-12 * n * n });
      const b = randArr(r, n * 2);
      assertResidual(a, choleskySolve(l, n, b), b, n, n);
    }
    assert.deepEqual(choleskyFactor(new Float64Array([4, 2, 2, 5]), 2), new Float64Array([2, 0, 1, 2]));
    assert.equal(choleskyFactor(new Float64Array([1, 2, 2, 1]), 2), null);
    assert.equal(choleskyFactor(new Float64Array([-1]), 1), null);
  });

  test("triangularSolveKernel: lower/upper × transpose × unit diagonal", () => {
    const r = rng(3);
    const n = 20;
    const full = wellConditioned(r, n);
    const b = randArr(r, n * 2);
    for (const lower of [true, false]) {
      for (const transpose of [false, true]) {
        for (const unitDiagonal of [false, true]) {
          const tri = new Float64Array(n * n);
          for (let i = 0; i < n; i++) {
            for (let j = 0; j < n; j++) {
              if (i === j) tri[i * n + j] = unitDiagonal ? 1 : full[i * n + j]!;
              else if (lower ? i > j : i < j) tri[i * n + j] = full[i * n + j]!;
            }
          }
          // The kernel must read only the named triangle: pass the full matrix when the diagonal is unit.
          const x = triangularSolveKernel(unitDiagonal ? full : tri, n, b, { lower, transpose, unitDiagonal });
          assertResidual(transpose ? tr(tri, n, n) : tri, x, b, n, n);
        }
      }
    }
  });

  test("qrFactor/qrExplicit: A = Q·R, QᵀQ = I, R upper; qrApplyQt agrees with Qᵀ", () => {
    const r = rng(4);
    for (const [m, n] of [
      [1, 1],
      [5, 3],
      [3, 5],
      [50, 50],
      [200, 30],
    ] as [number, number][]) {
      const a = randArr(r, m * n);
      const f = qrFactor(a, m, n);
      const { q, r: rr } = qrExplicit(f);
      const k = Math.min(m, n);
      assertClose(mm(q, rr, m, k, n), a, { rtol: 0, atol: 1e-13 * Math.max(m, n) });
      assertClose(mm(tr(q, m, k), q, k, m, k), identity(k), { rtol: 0, atol: 1e-14 * m });
      for (let i = 0; i < k; i++) for (let j = 0; j < i; j++) assert.equal(rr[i * n + j], 0);
      const b = randArr(r, m);
      assertClose(qrApplyQt(f, b).subarray(0, k), mm(tr(q, m, k), b, k, m, 1), { rtol: 0, atol: 1e-13 * m });
    }
  });

  test("lstsqKernel: full rank satisfies the normal equations; rank-deficient gives the minimum-norm solution", () => {
    const r = rng(5);
    for (const [m, n] of [
      [5, 3],
      [40, 10],
      [200, 50],
    ] as [number, number][]) {
      const a = randArr(r, m * n);
      const b = randArr(r, m * 2);
      const x = lstsqKernel(a, m, n, b);
      const res = mm(a, x, m, n, 2).map((v, i) => v - b[i]!);
      const grad = mm(tr(a, m, n), res, n, m, 2);
      assert.ok(norm(grad) <= 1e-12 * m * norm(b), `normal equations ${norm(grad)}`);
    }
    // Underdetermined full row rank: the exact solution of minimum norm is Aᵀ(AAᵀ)⁻¹b.
    const m = 3;
    const n = 6;
    const a = randArr(r, m * n);
    const b = randArr(r, m);
    const x = lstsqKernel(a, m, n, b);
    const aat = mm(a, tr(a, m, n), m, n, m);
    const expected = mm(tr(a, m, n), luSolve(luFactor(aat, m), m, b), n, m, 1);
    assertClose(x, expected, { rtol: 1e-10, atol: 1e-12 });
    // Rank one: A = u·vᵀ has pseudo-inverse v·uᵀ/(‖u‖²‖v‖²).
    const u = randArr(r, 5);
    const v = randArr(r, 4);
    const ar = mm(u, v, 5, 1, 4);
    const br = randArr(r, 5);
    const ub = u.reduce((s, ui, i) => s + ui * br[i]!, 0);
    const scale = ub / (norm(u) ** 2 * norm(v) ** 2);
    assertClose(
      lstsqKernel(ar, 5, 4, br),
      v.map((vi) => vi * scale),
      { rtol: 1e-12, atol: 1e-14 },
    );
    assert.equal(numericalRank(ar, 5, 4), 1);
    // A singular square system: the least-squares solution, not an error.
    assertClose(lstsqKernel(new Float64Array([1, 1, 1, 1]), 2, 2, new Float64Array([2, 2])), [1, 1], { atol: 1e-14 });
    assertClose(lstsqKernel(new Float64Array(6), 3, 2, new Float64Array([1, 2, 3])), [0, 0]);
  });

  test("eighKernel: A = V·diag(w)·Vᵀ, VᵀV = I, ascending w (n = 1..200)", () => {
    const r = rng(6);
    for (const n of [...sizes, 200]) {
      const b = randArr(r, n * n);
      const a = mm(b, tr(b, n, n), n, n, n).map((x, i) => x - (i % (n + 1) === 0 ? n : 0));
      const { w, v } = eighKernel(a, n);
      for (let i = 1; i < n; i++) assert.ok(w[i - 1]! <= w[i]!);
      const vd = v.map((x, idx) => x * w[idx % n]!);
      const scale = Math.max(...w.map(Math.abs));
      assertClose(mm(vd, tr(v, n, n), n, n, n), a, { rtol: 0, atol: 1e-13 * n * scale });
      assertClose(mm(tr(v, n, n), v, n, n, n), identity(n), { rtol: 0, atol: 1e-13 * n });
    }
    // Known spectrum: the path-graph Laplacian-like tridiagonal [2, -1] has eigenvalues 2 − 2cos(kπ/(n+1)).
    const n = 8;
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      a[i * n + i] = 2;
      if (i + 1 < n) a[i * n + i + 1] = a[(i + 1) * n + i] = -1;
    }
    const known = Array.from({ length: n }, (_, k) => 2 - 2 * Math.cos(((k + 1) * Math.PI) / (n + 1)));
    assertClose(eighKernel(a, n).w, known, { rtol: 1e-13, atol: 1e-14 });
    assertClose(eighKernel(new Float64Array([3]), 1).w, [3]);
    // Repeated eigenvalues: the reflection I − 2uuᵀ (‖u‖ = 1) has spectrum {−1, 1, …, 1}.
    const u = randArr(r, 30).map((x, _i, arr) => x / norm(arr));
    const refl = identity(30).map((x, idx) => x - 2 * u[Math.floor(idx / 30)]! * u[idx % 30]!);
    const { w, v } = eighKernel(refl, 30);
    assertClose(w, [-1, ...Array(29).fill(1)], { rtol: 0, atol: 1e-14 });
    assertClose(mm(tr(v, 30, 30), v, 30, 30, 30), identity(30), { rtol: 0, atol: 1e-14 });
    // Already diagonal (nothing to reduce), unsorted.
    assert.deepEqual(eighKernel(new Float64Array([3, 0, 0, 0, -1, 0, 0, 0, 2]), 3).w, new Float64Array([-1, 2, 3]));
  });
});

// ---------- values of the differentiable API ----------

describe("dense linalg values", () => {
  test("solve: residual ≤ 1e-10‖b‖ for vectors and matrices; assumeA pos/sym agree with gen", () => {
    const r = rng(10);
    for (const n of sizes) {
      const a = wellConditioned(r, n);
      const b = randArr(r, n);
      assertResidual(a, solve(T(a, [n, n]), T(b, [n])).data, b, n, n);
      const bm = randArr(r, n * 4);
      const x = solve(T(a, [n, n]), T(bm, [n, 4]));
      assert.deepEqual(x.shape, [n, 4]);
      assertResidual(a, x.data, bm, n, n);
      const s = spd(r, n);
      const xg = solve(T(s, [n, n]), T(b, [n]));
      assertClose(solve(T(s, [n, n]), T(b, [n]), { assumeA: "pos" }), xg, { rtol: 1e-9, atol: 1e-12 });
      assertClose(solve(T(s, [n, n]), T(b, [n]), { assumeA: "sym" }), xg, { rtol: 1e-9, atol: 1e-12 });
    }
    assert.deepEqual(
      solve(
        tensor([
          [3, 1],
          [1, 2],
        ]),
        tensor([9, 8]),
      ).toArray(),
      [2, 3],
    );
  });

  test("lu(A) object: solve, solveTranspose, inv, det, slogdet", () => {
    const f = lu(
      tensor([
        [4, 3],
        [6, 3],
      ]),
    );
    assertClose(f.solve(tensor([10, 12])), tensor([1, 2]), { atol: 1e-14 });
    assertClose(f.solve(tensor([[7], [9]])), tensor([[1], [1]]), { atol: 1e-14 });
    assertClose(f.solveTranspose(tensor([10, 6])), tensor([1, 1]), { atol: 1e-14 });
    assertClose(f.det(), -6, { rtol: 1e-14 });
    assertClose(
      matmul(
        f.inv(),
        tensor([
          [4, 3],
          [6, 3],
        ]),
      ),
      eye(2),
      { atol: 1e-14 },
    );
    const { sign, logabsdet } = f.slogdet();
    assert.equal(sign.item(), -1);
    assertClose(logabsdet, Math.log(6), { rtol: 1e-14 });
    assert.equal(f.singular, false);
  });

  test("inv, det, slogdet against closed forms", () => {
    const r = rng(11);
    for (const n of sizes) {
      const a = wellConditioned(r, n);
      assertClose(mm(inv(T(a, [n, n])).data, a, n, n, n), identity(n), { rtol: 0, atol: 1e-12 });
    }
    assertClose(
      det(
        tensor([
          [1, 2],
          [3, 4],
        ]),
      ),
      -2,
      { rtol: 1e-14 },
    );
    assertClose(
      det(
        tensor([
          [2, -3, 1],
          [2, 0, -1],
          [1, 4, 5],
        ]),
      ),
      49,
      { rtol: 1e-14 },
    );
    assert.equal(
      det(
        tensor([
          [1, 2],
          [2, 4],
        ]),
      ).item(),
      0,
    );
    // A permutation matrix with an odd cycle structure: det of a 3-cycle is +1, of a swap −1.
    assert.equal(
      det(
        tensor([
          [0, 1, 0],
          [0, 0, 1],
          [1, 0, 0],
        ]),
      ).item(),
      1,
    );
    assert.equal(
      det(
        tensor([
          [0, 1],
          [1, 0],
        ]),
      ).item(),
      -1,
    );
    // det of 1e3·I (n = 200) overflows; slogdet does not.
    const big = mul(eye(200), 1e3);
    assert.equal(det(big).item(), Infinity);
    const s = slogdet(big);
    assert.equal(s.sign.item(), 1);
    assertClose(s.logabsdet, 200 * Math.log(1e3), { rtol: 1e-14 });
    const sing = slogdet(
      tensor([
        [1, 2],
        [2, 4],
      ]),
    );
    assert.equal(sing.sign.item(), 0);
    assert.equal(sing.logabsdet.item(), -Infinity);
  });

  test("cholesky(A): L·Lᵀ = A, solve reuses it for many right-hand sides, logdet", () => {
    const r = rng(12);
    for (const n of sizes) {
      const a = spd(r, n);
      const c = cholesky(T(a, [n, n]));
      assertClose(mm(c.L.data, tr(c.L.data, n, n), n, n, n), a, { rtol: 0, atol: 1e-12 * n * n });
      const b = randArr(r, n * 3);
      assertResidual(a, c.solve(T(b, [n, 3])).data, b, n, n);
      assertClose(c.logdet(), slogdet(T(a, [n, n])).logabsdet, { rtol: 1e-12, atol: 1e-12 });
    }
    assertClose(
      cholesky(
        tensor([
          [4, 2],
          [2, 5],
        ]),
      ).L,
      tensor([
        [2, 0],
        [1, 2],
      ]),
      { atol: 1e-15 },
    );
  });

  test("triangularSolve reads only its triangle", () => {
    const t = tensor([
      [2, 99],
      [1, 1],
    ]);
    assertClose(triangularSolve(t, tensor([2, 3]), { lower: true }), tensor([1, 2]), { atol: 1e-15 });
    assertClose(triangularSolve(t, tensor([2, 3]), { lower: true, unitDiagonal: true }), tensor([2, 1]), {
      atol: 1e-15,
    });
    // Tᵀ·x = b with T = [[2, 0], [1, 1]]: [[2, 1], [0, 1]] x = [4, 1] → x = [1.5, 1].
    assertClose(triangularSolve(t, tensor([4, 1]), { lower: true, transpose: true }), tensor([1.5, 1]), {
      atol: 1e-15,
    });
    assertClose(
      triangularSolve(
        tensor([
          [2, 1],
          [-7, 4],
        ]),
        tensor([4, 8]),
        { lower: false },
      ),
      tensor([1, 2]),
      { atol: 1e-15 },
    );
  });

  test("qr: reduced shapes, A = Q·R, orthonormal Q, upper R (tall, square, wide)", () => {
    const r = rng(13);
    for (const [m, n] of [
      [6, 3],
      [4, 4],
      [3, 5],
    ] as [number, number][]) {
      const a = randn(r, [m, n]);
      const { Q, R } = qr(a);
      const k = Math.min(m, n);
      assert.deepEqual(Q.shape, [m, k]);
      assert.deepEqual(R.shape, [k, n]);
      assertClose(matmul(Q, R), a, { rtol: 0, atol: 1e-14 });
      assertClose(matmul(transpose(Q), Q), eye(k), { rtol: 0, atol: 1e-14 });
    }
  });

  test("eigh: reconstruction, orthogonality, known eigenvalues, uses the symmetric part", () => {
    const r = rng(14);
    for (const n of sizes) {
      const a = T(spd(r, n), [n, n]);
      const { eigenvalues: w, eigenvectors: v } = eigh(a);
      assertClose(matmul(mul(v, w.reshape([1, n])), transpose(v)), a, { rtol: 0, atol: 1e-12 * n * n });
      assertClose(matmul(transpose(v), v), eye(n), { rtol: 0, atol: 1e-13 * n });
    }
    assertClose(
      eigh(
        tensor([
          [2, 1],
          [1, 2],
        ]),
      ).eigenvalues,
      tensor([1, 3]),
      { atol: 1e-15 },
    );
    // [[2, 0], [2, 2]] has symmetric part [[2, 1], [1, 2]].
    assertClose(
      eigh(
        tensor([
          [2, 0],
          [2, 2],
        ]),
      ).eigenvalues,
      tensor([1, 3]),
      { atol: 1e-15 },
    );
  });

  test("lstsq/pinv: normal equations (full rank) and the four Moore–Penrose identities (rank deficient)", () => {
    const r = rng(15);
    const a = randn(r, [7, 3]);
    const b = randn(r, [7]);
    const x = lstsq(a, b);
    assertClose(matmul(transpose(a), add(matmul(a, x), mul(b, -1))), [0, 0, 0], { atol: 1e-13 });
    assertClose(x, matmul(pinv(a), b), { rtol: 1e-10, atol: 1e-13 });
    assertClose(
      lstsq(
        tensor([
          [1, 0],
          [1, 1],
          [1, 2],
        ]),
        tensor([1, 3, 5]),
      ),
      tensor([1, 2]),
      { atol: 1e-14 },
    );
    // Rank 2 in 5×4 (and its transpose, 4×5).
    for (const def of [matmul(randn(r, [5, 2]), randn(r, [2, 4])), matmul(randn(r, [4, 2]), randn(r, [2, 5]))]) {
      const p = pinv(def);
      const ap = matmul(def, p);
      const pa = matmul(p, def);
      assertClose(matmul(ap, def), def, { rtol: 0, atol: 1e-13 });
      assertClose(matmul(pa, p), p, { rtol: 0, atol: 1e-13 });
      assertClose(ap, transpose(ap), { rtol: 0, atol: 1e-13 });
      assertClose(pa, transpose(pa), { rtol: 0, atol: 1e-13 });
      const bb = randn(r, [def.shape[0]!]);
      const xs = lstsq(def, bb);
      assertClose(xs, matmul(p, bb), { rtol: 1e-10, atol: 1e-13 });
      // Minimum norm: x lies in the row space, so (I − A⁺A)·x = 0.
      assertClose(matmul(pa, xs), xs, { rtol: 0, atol: 1e-13 });
    }
    assertClose(
      pinv(
        tensor([
          [1, 1],
          [1, 1],
        ]),
      ),
      tensor([
        [0.25, 0.25],
        [0.25, 0.25],
      ]),
      { atol: 1e-15 },
    );
    // A larger rcond drops the small singular direction of diag(1, 1e-8).
    assertClose(
      pinv(
        tensor([
          [1, 0],
          [0, 1e-8],
        ]),
        { rcond: 1e-6 },
      ),
      tensor([
        [1, 0],
        [0, 0],
      ]),
      { atol: 1e-15 },
    );
  });

  test("a factorisation object solves many right-hand sides (and differentiates) without refactorising", () => {
    const r = rng(16);
    const n = 30;
    const a = T(wellConditioned(r, n), [n, n]);
    const before = factorizationCount();
    const f = lu(a);
    const c = cholesky(T(spd(r, n), [n, n]));
    for (let i = 0; i < 10; i++) {
      f.solve(randn(r, [n]));
      f.solveTranspose(randn(r, [n, 2]));
      c.solve(randn(r, [n]));
    }
    f.det();
    f.inv();
    assert.equal(factorizationCount() - before, 2);
    // Derivative rules reuse the factors too: one factorisation for a value, its gradient and a Hessian-vector
    // product (forward-over-reverse evaluates the function once).
    const b = randn(r, [n]);
    const start = factorizationCount();
    hvp((m: Tensor) => sum(square(solve(m, b))), [a], [randn(r, [n, n])]);
    grad((m: Tensor) => lu(m).slogdet().logabsdet)(a);
    assert.equal(factorizationCount() - start, 2);
  });
});

// ---------- derivatives ----------

describe("dense linalg derivatives (jacfwd and jacrev vs central differences)", () => {
  const r = rng(20);
  const n = 4;
  const A = T(wellConditioned(r, n), [n, n]);
  const S = T(spd(r, n), [n, n]);
  const b = randn(r, [n]);
  const B = randn(r, [n, 2]);

  test("solve w.r.t. A and b (vector and matrix right-hand sides; gen, sym, pos)", () => {
    checkDerivatives((m, v) => solve(m, v), [A, b], {}, "solve vector");
    checkDerivatives((m, v) => solve(m, v), [A, B], {}, "solve matrix");
    checkDerivatives((m, v) => solve(m, v, { assumeA: "sym" }), [S, b], {}, "solve sym");
    checkDerivatives((m, v) => solve(m, v, { assumeA: "pos" }), [S, B], {}, "solve pos");
  });

  test("lu(A).solve and solveTranspose w.r.t. A and b", () => {
    checkDerivatives((m, v) => lu(m).solve(v), [A, B], {}, "lu.solve");
    checkDerivatives((m, v) => lu(m).solveTranspose(v), [A, b], {}, "lu.solveTranspose");
  });

  test("inv, det, slogdet (with closed forms: ∇det = det·A⁻ᵀ, ∇log|det| = A⁻ᵀ)", () => {
    checkDerivatives((m) => inv(m), [A], {}, "inv");
    checkDerivatives((m) => det(m), [A], {}, "det");
    checkDerivatives((m) => slogdet(m).logabsdet, [A], {}, "slogdet");
    checkDerivatives((m) => lu(m).det(), [A], {}, "lu.det");
    const invT = transpose(inv(A));
    assertClose(grad((m: Tensor) => det(m))(A), mul(invT, det(A)), { rtol: 1e-12, atol: 1e-14 });
    assertClose(grad((m: Tensor) => slogdet(m).logabsdet)(A), invT, { rtol: 1e-12, atol: 1e-14 });
    // A negative determinant: log|det| still has gradient A⁻ᵀ.
    const neg = tensor([
      [0, 2, 1],
      [3, 0, 1],
      [1, 1, 4],
    ]);
    assert.equal(slogdet(neg).sign.item(), -1);
    assertClose(grad((m: Tensor) => slogdet(m).logabsdet)(neg), transpose(inv(neg)), { rtol: 1e-12, atol: 1e-14 });
  });

  test("cholesky: L, solve and logdet w.r.t. A (symmetric-part convention)", () => {
    checkDerivatives((m) => cholesky(m).L, [S], {}, "cholesky L");
    checkDerivatives((m, v) => cholesky(m).solve(v), [S, B], {}, "cholesky solve");
    checkDerivatives((m) => cholesky(m).logdet(), [S], {}, "cholesky logdet");
    // Closed form: ∇ log det A = A⁻¹ for symmetric A.
    assertClose(grad((m: Tensor) => cholesky(m).logdet())(S), inv(S), { rtol: 1e-10, atol: 1e-13 });
  });

  test("triangularSolve w.r.t. T and b, every option combination", () => {
    for (const lower of [true, false]) {
      for (const transposeT of [false, true]) {
        for (const unitDiagonal of [false, true]) {
          const opts = { lower, transpose: transposeT, unitDiagonal };
          checkDerivatives(
            (t, v) => triangularSolve(t, v, opts),
            [A, B],
            {},
            `triangularSolve ${JSON.stringify(opts)}`,
          );
        }
      }
    }
    // Entries outside the triangle get no derivative.
    const g = grad((t: Tensor) => sum(triangularSolve(t, b, { lower: true })))(A);
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) assert.equal(g.data[i * n + j], 0);
  });

  test("qr: Q and R w.r.t. A (tall and square)", () => {
    for (const a of [randn(r, [5, 3]), A]) {
      checkDerivatives((m) => qr(m).Q, [a], {}, "qr Q");
      checkDerivatives((m) => qr(m).R, [a], {}, "qr R");
      checkDerivatives((m) => { const { Q, R } = qr(m); return add(sum(mul(Q, Q.data.length)), sum(square(R))); }, [a], {}, "qr both"); // prettier-ignore
    }
  });

  test("eigh: eigenvalues and eigenvectors w.r.t. A (distinct eigenvalues)", () => {
    checkDerivatives((m) => eigh(m).eigenvalues, [S], {}, "eigh w");
    checkDerivatives((m) => eigh(m).eigenvectors, [S], {}, "eigh V");
    checkDerivatives((m) => eigh(m).eigenvectors, [A], {}, "eigh V of a non-symmetric input");
    // Closed form: ∂wᵢ/∂A = vᵢvᵢᵀ for symmetric A.
    const { eigenvectors: v } = eigh(S);
    const g = grad((m: Tensor) => eigh(m).eigenvalues.sum())(S);
    assertClose(g, matmul(v, transpose(v)), { rtol: 1e-10, atol: 1e-12 });
  });

  test("lstsq (full rank, tall and wide) and pinv w.r.t. A and b", () => {
    const tall = randn(r, [6, 3]);
    const wide = randn(r, [3, 5]);
    checkDerivatives((m, v) => lstsq(m, v), [tall, randn(r, [6])], {}, "lstsq tall");
    checkDerivatives((m, v) => lstsq(m, v), [wide, randn(r, [3, 2])], {}, "lstsq wide");
    checkDerivatives((m) => pinv(m), [tall], {}, "pinv tall");
    checkDerivatives((m) => pinv(m), [wide], {}, "pinv wide");
    // Rank deficient: differentiable in b (linear), not in A.
    const def = matmul(randn(r, [5, 2]), randn(r, [2, 4]));
    checkDerivatives((v) => lstsq(def, v), [randn(r, [5])], {}, "lstsq rank-deficient, w.r.t. b");
    assert.throws(() => grad((m: Tensor) => sum(lstsq(m, randn(r, [5]))))(def), DifferentiationError);
    assert.throws(() => jacfwd((m: Tensor) => pinv(m))(def), /numerical rank 2/);
  });
});

describe("dense linalg second derivatives", () => {
  const r = rng(30);
  const n = 3;
  const A = T(wellConditioned(r, n), [n, n]);
  const S = T(spd(r, n), [n, n]);
  const b = randn(r, [n]);

  test("hessian of log|det A| is −(A⁻¹)ⱼₖ(A⁻¹)ₗᵢ", () => {
    const h = hessian((m: Tensor) => slogdet(m).logabsdet)(A) as Tensor;
    const ai = inv(A).data;
    const expected = new Float64Array(n ** 4);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++)
        for (let k = 0; k < n; k++)
          for (let l = 0; l < n; l++) expected[((i * n + j) * n + k) * n + l] = -ai[j * n + k]! * ai[l * n + i]!;
    assertClose(h.data, expected, { rtol: 1e-10, atol: 1e-13 });
  });

  test("hessian of bᵀA⁻¹b: in b it is A⁻¹ + A⁻ᵀ; in A it matches differences of the gradient", () => {
    const quad = (m: Tensor, v: Tensor) => sum(mul(v, solve(m, v)));
    const hb = hessian((v: Tensor) => quad(A, v))(b) as Tensor;
    assertClose(hb, add(inv(A), transpose(inv(A))), { rtol: 1e-10, atol: 1e-13 });
    const gA = (m: Tensor) => grad((mm: Tensor) => quad(mm, b))(m) as Tensor;
    const fd = numericJacobian(gA, [A]);
    assertClose((jacfwd(gA)(A) as Tensor).data, fd, { rtol: 1e-5, atol: 1e-6 });
    assertClose((jacrev(gA)(A) as Tensor).data, fd, { rtol: 1e-5, atol: 1e-6 });
  });

  // Second derivatives of the factorisations, each against finite differences of the first derivative.
  const cases: [string, (m: Tensor) => Tensor, Tensor][] = [
    ["cholesky", (m) => sum(square(cholesky(m).L)), S],
    ["qr", (m) => sum(mul(qr(m).Q, qr(m).R.sum())), A],
    ["eigh", (m) => sum(mul(eigh(m).eigenvectors, tensor([1, 2, 3]))), S],
    ["triangularSolve", (m) => sum(square(triangularSolve(m, b, { lower: false, transpose: true }))), A],
    ["lstsq", (m) => sum(square(lstsq(m, b))), A],
    ["inv", (m) => sum(square(inv(m))), A],
  ];
  for (const [name, f, x] of cases) {
    test(`${name}: jacfwd(grad) and jacrev(grad) match differences of the gradient`, () => {
      const g = (m: Tensor) => grad(f)(m) as Tensor;
      const fd = numericJacobian(g, [x]);
      assertClose((jacfwd(g)(x) as Tensor).data, fd, { rtol: 1e-5, atol: 1e-6 }, `${name} jacfwd(grad)`);
      assertClose((jacrev(g)(x) as Tensor).data, fd, { rtol: 1e-5, atol: 1e-6 }, `${name} jacrev(grad)`);
    });
  }
});

// ---------- errors ----------

describe("dense linalg errors", () => {
  const singular = tensor([
    [1, 2],
    [2, 4],
  ]);

  test("a singular matrix in solve, inv and lu(...).solve throws LinearSolveError naming the function and pivot", () => {
    for (const [name, call] of [
      ["solve", () => solve(singular, tensor([1, 1]))],
      ["inv", () => inv(singular)],
      ["lu(A).solve", () => lu(singular).solve(tensor([1, 1]))],
      ["lu(A).solveTranspose", () => lu(singular).solveTranspose(tensor([1, 1]))],
    ] as [string, () => unknown][]) {
      assert.throws(call, (e: unknown) => {
        assert.ok(e instanceof LinearSolveError);
        assert.match(e.message, new RegExp(`^${name.replace(/[().]/g, "\\$&")}: the matrix is singular`));
        assert.match(e.message, /pivot 1/);
        assert.equal(e.iterations, 0);
        assert.ok(Number.isNaN(e.residualNorm));
        return true;
      });
    }
    assert.equal(lu(singular).singular, true);
    // The determinant of a singular matrix is 0; its derivative (which needs A⁻¹) throws.
    assert.equal(det(singular).item(), 0);
    assert.throws(() => grad((m: Tensor) => det(m))(singular), /det \(derivative\): the matrix is singular/);
    assert.throws(
      () =>
        triangularSolve(
          tensor([
            [1, 0],
            [1, 0],
          ]),
          tensor([1, 1]),
          { lower: true },
        ),
      LinearSolveError,
    );
  });

  test("non-positive-definite matrices throw in cholesky and solve(…, pos)", () => {
    assert.throws(
      () =>
        cholesky(
          tensor([
            [1, 2],
            [2, 1],
          ]),
        ),
      /cholesky: the matrix is not positive definite/,
    );
    assert.throws(
      () =>
        solve(
          tensor([
            [1, 2],
            [2, 1],
          ]),
          tensor([1, 1]),
          { assumeA: "pos" },
        ),
      LinearSolveError,
    );
    assert.throws(
      () =>
        cholesky(
          tensor([
            [0, 0],
            [0, 0],
          ]),
        ),
      LinearSolveError,
    );
  });

  test("shape errors: non-square, wrong rank, mismatched right-hand side", () => {
    const wide = tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    for (const call of [
      () => solve(wide, tensor([1, 1])),
      () => inv(wide),
      () => det(wide),
      () => lu(wide),
      () => cholesky(wide),
      () => eigh(wide),
    ]) {
      assert.throws(call, /must be square, got shape \[2, 3\]/);
    }
    assert.throws(() => solve(eye(2), tensor([1, 2, 3])), ShapeError);
    assert.throws(() => solve(tensor([1, 2]), tensor([1, 2])), /solve: A must be a 2-D matrix/);
    assert.throws(() => inv(tensor([[[1]]])), ShapeError);
    assert.throws(() => lstsq(wide, tensor([1, 2, 3])), /lstsq: b must have shape \[2\] or \[2, k\]/);
    assert.throws(() => lu(eye(2)).solve(tensor([[1, 2, 3]])), ShapeError);
  });

  test("NaN/Inf entries throw NonFiniteError naming the argument", () => {
    assert.throws(
      () =>
        solve(
          tensor([
            [1, NaN],
            [0, 1],
          ]),
          tensor([1, 1]),
        ),
      (e: unknown) => e instanceof NonFiniteError && /solve: A/.test(e.message),
    );
    assert.throws(() => solve(eye(2), tensor([1, Infinity])), /solve: b has a non-finite entry/);
    assert.throws(() => lstsq(eye(2), tensor([NaN, 1])), NonFiniteError);
    assert.throws(
      () =>
        eigh(
          tensor([
            [1, 0],
            [0, -Infinity],
          ]),
        ),
      /eigh: A has a non-finite entry/,
    );
    assert.throws(() => qr(tensor([[NaN]])), NonFiniteError);
  });

  test("derivatives that do not exist throw DifferentiationError", () => {
    assert.throws(
      () =>
        jacfwd((m: Tensor) => qr(m).R)(
          tensor([
            [1, 2, 3],
            [4, 5, 7],
          ]),
        ),
      /qr: the derivative is implemented for m ≥ n/,
    );
    assert.throws(
      () =>
        jacrev((m: Tensor) => qr(m).Q)(
          tensor([
            [1, 2],
            [2, 4],
            [3, 6],
          ]),
        ),
      /full column rank/,
    );
    assert.throws(() => jacfwd((m: Tensor) => eigh(m).eigenvectors)(eye(3)), /repeated eigenvalues/);
    // Reverse mode through a symmetric function of the eigenvalues stays defined at repeated eigenvalues.
    assertClose(grad((m: Tensor) => eigh(m).eigenvalues.sum())(eye(3)), eye(3), { atol: 1e-15 });
    assert.throws(() => solve(eye(2), tensor([1, 1]), { assumeA: "upper" as "gen" }), /assumeA must be/);
    assert.throws(() => pinv(eye(2), { rcond: -1 }), /rcond must be in \[0, 1\)/);
  });
});

test("cholesky rejects a singular positive semidefinite matrix instead of returning a meaningless factor", () => {
  const B = tensor([
    [1, 2, 3],
    [2, 4, 6],
  ]);
  const M = matmul(B, B.T); // rank one, PSD
  assert.throws(() => cholesky(M), LinearSolveError);
  assert.throws(() => solve(M, tensor([1, 2]), { assumeA: "pos" }), /not positive definite/);
});
