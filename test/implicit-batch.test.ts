import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  Tensor,
  add,
  sub,
  mul,
  tanh,
  square,
  matmul,
  eye,
  sum,
  tensor,
  grad,
  jacfwd,
  jacrev,
  random,
  customRoot,
  customFixedPoint,
  take,
  vmap,
  valueAndGrad,
  vjp,
  jvp,
  div,
  reshape,
  transpose,
  linalg,
  ImplicitDiffError,
  type ImplicitDiagnostics,
} from "../src/index.js";
import { factorizationCount } from "../src/linalg/dense/factored.js";
import { assertClose } from "./helpers.js";

/**
 * A nonlinear layer just above the dense threshold (n = 210 > 200): F(x, θ) = Qx + 0.1·tanh(x) − θ with Q SPD, so
 * ∂ₓF = Q + 0.1·diag(1 − tanh²(x*)), and the Jacobian of x* in θ is (∂ₓF)⁻¹.
 */
const N = 210;
const X = random.normal(random.key(11), [N, N]);
const Q = add(mul(1 / N, matmul(X.T, X)), mul(0.5, eye(N)));
const F = (x: Tensor, th: Tensor) => sub(add(matmul(Q, x), mul(0.1, tanh(x))), th);
function solveF(_init: unknown, th: Tensor): Tensor {
  let x = tensor(new Float64Array(N));
  for (let i = 0; i < 3000; i++) {
    const r = F(x, th);
    x = sub(x, mul(0.2, r));
    if (Math.sqrt(sum(square(r)).item()) < 1e-13) break;
  }
  return x;
}
const theta = random.normal(random.key(12), [N]);

/** ∂ₓF at x* as a plain row-major matrix (the closed form of the backward operator). */
function dFdx(xStar: Tensor): Float64Array {
  const m = Q.data.slice();
  xStar.data.forEach((v, i) => (m[i * N + i]! += 0.1 * (1 - Math.tanh(v) ** 2)));
  return m;
}

/** max |J·M − I| for row-major n×n J and M. */
function inverseError(J: Float64Array, M: Float64Array): number {
  let worst = 0;
  for (let i = 0; i < N; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < N; k++) s += J[i * N + k]! * M[k * N + j]!;
      worst = Math.max(worst, Math.abs(s - (i === j ? 1 : 0)));
    }
  }
  return worst;
}

describe("full Jacobians above the dense threshold", () => {
  const xStar = solveF(undefined, theta);
  const M = dFdx(xStar);
  for (const [name, jac] of [
    ["jacrev", jacrev],
    ["jacfwd", jacfwd],
  ] as const) {
    test(`${name}: one factorisation, every column certified, J = (∂ₓF)⁻¹`, () => {
      const seen: ImplicitDiagnostics[] = [];
      const layer = customRoot(F, { positiveDefinite: true, onDiagnostics: (d) => seen.push(d) })(
        (_init: unknown, _t: Tensor) => xStar,
      );
      const before = factorizationCount();
      const J = jac((t: Tensor) => layer(undefined, t))(theta) as Tensor;
      assert.equal(factorizationCount() - before, 1, "the backward matrix is factorised once");
      assert.ok(inverseError(J.data, M) < 1e-8, `J·∂ₓF = I up to ${inverseError(J.data, M)}`);
      assert.equal(seen.length, N, "one certified solve per column");
      const krylov = seen.filter((d) => d.linearSolve.solver === "cg");
      const dense = seen.filter((d) => d.linearSolve.solver === "cholesky");
      assert.equal(krylov.length + dense.length, N);
      // Krylov solves stop once their matvecs reach n: a handful of columns, never most of them.
      const iterations = krylov.reduce((a, d) => a + d.linearSolve.iterations, 0);
      assert.ok(
        krylov.length >= 1 && iterations - krylov.at(-1)!.linearSolve.iterations < N,
        `${krylov.length} CG solves`,
      );
      assert.ok(seen.every((d) => d.linearSolve.converged && d.linearSolve.residualNorm < 1e-9));
      assert.ok(
        seen.slice(krylov.length).every((d) => d.linearSolve.solver === "cholesky"),
        "dense after Krylov",
      );
    });
  }

  test("a loop of pullbacks: Krylov solves until their matvecs reach n, then one factorisation", () => {
    const seen: ImplicitDiagnostics[] = [];
    const layer = customRoot(F, { positiveDefinite: true, onDiagnostics: (dg) => seen.push(dg) })(
      (_i: unknown, _t: Tensor) => xStar,
    );
    const [, pullback] = vjp((t: Tensor) => layer(undefined, t), theta);
    const before = factorizationCount();
    const rows = Array.from(
      { length: 12 },
      (_, k) => pullback(tensor(Array.from({ length: N }, (_, i) => (i === k ? 1 : 0))))[0],
    );
    assert.equal(factorizationCount() - before, 1);
    const krylov = seen.filter((dg) => dg.linearSolve.solver === "cg");
    const spent = krylov.reduce((a, dg) => a + dg.linearSolve.iterations, 0);
    assert.ok(spent >= N - krylov.at(-1)!.linearSolve.iterations && spent - krylov.at(-1)!.linearSolve.iterations < N);
    assert.ok(seen.slice(krylov.length).every((dg) => dg.linearSolve.solver === "cholesky"));
    assert.ok(krylov.length > 1 && krylov.length < 12, `${krylov.length} CG solves of 12`);
    // rows of (∂ₓF)⁻¹
    rows.forEach((r, k) => {
      for (let j = 0; j < N; j += 37) {
        let v = 0;
        for (let q = 0; q < N; q++) v += r.data[q]! * M[q * N + j]!;
        assert.ok(Math.abs(v - (k === j ? 1 : 0)) < 1e-8);
      }
    });
  });

  test("one gradient never materialises the backward matrix", () => {
    const layer = customRoot(F, { positiveDefinite: true })((_init: unknown, _t: Tensor) => xStar);
    const before = factorizationCount();
    const g = grad((t: Tensor) => sum(layer(undefined, t)))(theta);
    assert.equal(factorizationCount(), before);
    // Jᵀ1 = (∂ₓF)⁻ᵀ 1: check (∂ₓF)ᵀ g = 1
    const back = new Float64Array(N);
    for (let k = 0; k < N; k++) for (let j = 0; j < N; j++) back[j]! += M[k * N + j]! * g.data[k]!;
    assertClose(back, new Float64Array(N).fill(1), { rtol: 0, atol: 1e-8 });
  });

  test("an explicit Krylov solver is obeyed (no materialisation) and a fixed point amortises too", () => {
    const cgLayer = customRoot(F, { solve: "cg" })((_init: unknown, _t: Tensor) => xStar);
    const before = factorizationCount();
    // 8 rows: enough Krylov work that "auto" would materialise (8 CG solves cost more than 210 matvecs)
    const rows = Array.from({ length: 8 }, (_, i) => i);
    const Jcg = jacrev((t: Tensor) => take(cgLayer(undefined, t), rows))(theta) as Tensor;
    assert.equal(factorizationCount(), before);
    // x = x − F(x, θ) as a fixed point: I − ∂ₓT = ∂ₓF, same Jacobian; amortised without a hint (LU)
    const fp = customFixedPoint((x: Tensor, th: Tensor) => sub(x, F(x, th)))((_init: unknown, _t: Tensor) => xStar);
    const Jfp = jacrev((t: Tensor) => fp(undefined, t))(theta) as Tensor;
    assert.equal(factorizationCount() - before, 1);
    assert.ok(inverseError(Jfp.data, M) < 1e-8);
    assertClose(Jcg.data, Jfp.data.subarray(0, Jcg.size), { rtol: 1e-6, atol: 1e-9 });
  });
});

/** Ridge regression: w*(λ) = (XᵀX/m + λI)⁻¹Xᵀy/m, the root of the gradient of ‖Xw − y‖²/(2m) + λ‖w‖²/2. */
const m = 8;
const d = 3;
const Xr = random.normal(random.key(21), [m, d]);
const yr = random.normal(random.key(22), [m]);
const Xv = random.normal(random.key(23), [m, d]);
const yv = random.normal(random.key(24), [m]);
const ridgeF = (w: Tensor, lam: Tensor, X: Tensor, y: Tensor) =>
  add(div(matmul(X.T, sub(matmul(X, w), y)), X.shape[0]!), mul(lam, w));
/** The closed form on plain numbers (the solver of the layer, and the oracle). */
function ridgeSolve(_init: unknown, lam: Tensor, X: Tensor, y: Tensor): Tensor {
  assert.equal(lam.level + X.level + y.level, 0, "the solver receives plain values");
  const H = add(div(matmul(X.T, X), X.shape[0]!), mul(lam, eye(X.shape[1]!)));
  return linalg.solve(H, div(matmul(X.T, y), X.shape[0]!));
}
const ridge = customRoot(ridgeF, { positiveDefinite: true })(ridgeSolve);
/** Validation loss of the ridge solution: the hyperparameter objective. */
const valLoss = (lam: Tensor, X: Tensor, y: Tensor) =>
  mul(0.5, sum(square(sub(matmul(Xv, ridge(undefined, lam, X, y)), yv))));
const lams = tensor([0.01, 0.1, 1, 10]);

describe("customRoot under vmap", () => {
  test("ridge over a batch of regularisation strengths: solutions and hypergradients match a loop", () => {
    const W = vmap((lam: Tensor) => ridge(undefined, lam, Xr, yr))(lams) as Tensor;
    assert.deepEqual(W.shape, [4, d]);
    const loopW = lams.toArray() as number[];
    loopW.forEach((l, i) =>
      assertClose((W.toArray() as number[][])[i]!, ridgeSolve(undefined, tensor(l), Xr, yr).data, { rtol: 1e-12 }),
    );
    const hv = vmap(grad(valLoss), { inAxes: [0, null, null] })(lams, Xr, yr) as Tensor;
    const hg = grad((ls: Tensor) => sum(vmap(valLoss, { inAxes: [0, null, null] })(ls, Xr, yr)))(lams);
    const hLoop = loopW.map((l) => grad(valLoss)(tensor(l), Xr, yr).item());
    assertClose(hv, tensor(hLoop), { rtol: 1e-10, atol: 1e-14 });
    assertClose(hg, tensor(hLoop), { rtol: 1e-10, atol: 1e-14 });
    // against central finite differences of the closed form
    const fd = loopW.map((l) => {
      const at = (v: number) =>
        mul(0.5, sum(square(sub(matmul(Xv, ridgeSolve(undefined, tensor(v), Xr, yr)), yv)))).item();
      return (at(l * (1 + 1e-6)) - at(l * (1 - 1e-6))) / (2e-6 * l);
    });
    assertClose(hv, tensor(fd), { rtol: 1e-6, atol: 1e-9 });
  });

  test("batched data and a batched operator: per-element Jacobians (jacfwd inside vmap) are −H⁻¹w*", () => {
    const ys = random.normal(random.key(25), [3, m]);
    const dW = vmap((y: Tensor) => jacfwd((lam: Tensor) => ridge(undefined, lam, Xr, y))(tensor(0.3)), { inAxes: 0 })(
      ys,
    ) as Tensor;
    (ys.toArray() as number[][]).forEach((y, i) => {
      const w = ridgeSolve(undefined, tensor(0.3), Xr, tensor(y));
      const H = add(div(matmul(Xr.T, Xr), m), mul(0.3, eye(d)));
      assertClose((dW.toArray() as number[][])[i]!, mul(-1, linalg.solve(H, w)).data, { rtol: 1e-10, atol: 1e-14 });
    });
  });

  test("customFixedPoint under vmap, with hasAux: values, aux and gradients per element", () => {
    const T = (x: Tensor, th: Tensor) => add(mul(0.5, tanh(x)), th);
    const fp = customFixedPoint(T, { hasAux: true })((x0: Tensor, th: Tensor) => {
      let x = x0;
      let it = 0;
      for (; it < 200 && sum(square(sub(T(x, th), x))).item() > 1e-30; it++) x = T(x, th);
      return [x, tensor(it)];
    });
    const ths = tensor([
      [0.1, -0.2],
      [1, 2],
      [-3, 0.5],
    ]);
    const x0 = tensor([0, 0]);
    const [xs, its] = vmap((th: Tensor) => fp(x0, th))(ths) as [Tensor, Tensor];
    assert.deepEqual(its.shape, [3]);
    const gs = vmap(grad((th: Tensor) => sum((fp(x0, th) as [Tensor, Tensor])[0])))(ths) as Tensor;
    // a derivative inside vmap, batched initial guesses, and the aux through valueAndGrad
    const x0s = tensor([
      [0, 0],
      [1, 1],
      [2, -2],
    ]);
    const g = (th: Tensor, start: Tensor) => {
      const [x, it] = fp(start, th) as [Tensor, Tensor];
      return [sum(x), it] as [Tensor, Tensor];
    };
    const [[vals, auxs], gs2] = vmap(valueAndGrad(g, { hasAux: true }))(ths, x0s) as [[Tensor, Tensor], Tensor];
    assertClose(gs2, gs, { rtol: 1e-12 });
    (ths.toArray() as number[][]).forEach((th, i) => {
      const [xi, iti] = fp(tensor((x0s.toArray() as number[][])[i]!), tensor(th)) as [Tensor, Tensor];
      assertClose(vals.data[i]!, sum(xi).item(), { rtol: 1e-12 });
      assert.equal(auxs.data[i], iti.item(), `element ${i}: its own iteration count from its own start`);
    });
    (ths.toArray() as number[][]).forEach((th, i) => {
      const [x, it] = fp(x0, tensor(th)) as [Tensor, Tensor];
      assertClose((xs.toArray() as number[][])[i]!, x.data, { rtol: 1e-14 });
      assert.equal(its.data[i], it.item());
      // dx/dθ = (I − 0.5·diag(1 − tanh²x))⁻¹, diagonal
      const expected = x.data.map((v) => 1 / (1 - 0.5 * (1 - Math.tanh(v) ** 2)));
      assertClose((gs.toArray() as number[][])[i]!, expected, { rtol: 1e-10 });
    });
  });
});

describe("batched cotangents and tangents: one multi-right-hand-side solve", () => {
  const xStar = solveF(undefined, theta);
  const M = dFdx(xStar);
  test("vmap of the pullback over the identity: Krylov for the first row, then one factorisation for the rest", () => {
    const seen: ImplicitDiagnostics[] = [];
    const layer = customRoot(F, { positiveDefinite: true, onDiagnostics: (dg) => seen.push(dg) })(
      (_i: unknown, _t: Tensor) => xStar,
    );
    const [, pullback] = vjp((t: Tensor) => layer(undefined, t), theta);
    const before = factorizationCount();
    const J = vmap((ct: Tensor) => pullback(ct)[0])(eye(N)) as Tensor;
    assert.equal(factorizationCount() - before, 1);
    assert.ok(inverseError(J.data, M) < 1e-8);
    assert.deepEqual(
      seen.map((dg) => dg.column),
      Array.from({ length: N }, (_, i) => i),
      "every row certified and reported with its index",
    );
    assert.equal(seen[0]!.linearSolve.solver, "cg");
    assert.ok(seen.slice(1).every((dg) => dg.linearSolve.solver === "cholesky" && dg.linearSolve.residualNorm < 1e-9));
  });

  test('rows that do not pay for a factorisation, or an explicit solve: "cg", run one batched CG', () => {
    for (const [solve, rows] of [
      ["auto", 3],
      ["cg", N],
    ] as const) {
      const seen: ImplicitDiagnostics[] = [];
      const layer = customRoot(F, { positiveDefinite: true, solve, onDiagnostics: (dg) => seen.push(dg) })(
        (_i: unknown, _t: Tensor) => xStar,
      );
      const [, pullback] = vjp((t: Tensor) => layer(undefined, t), theta);
      const before = factorizationCount();
      const J = vmap((ct: Tensor) => pullback(ct)[0])(
        take(
          eye(N),
          Array.from({ length: rows }, (_, i) => i),
          0,
        ),
      ) as Tensor;
      assert.equal(factorizationCount(), before, `${solve}: no factorisation`);
      assert.equal(seen.length, rows);
      assert.ok(seen.every((dg) => dg.linearSolve.solver === "cg" && dg.linearSolve.converged));
      // rows of (∂ₓF)⁻ᵀ = (∂ₓF)⁻¹ (symmetric): J·∂ₓF = the first rows of I
      for (let i = 0; i < rows; i++) {
        for (let j = 0; j < N; j++) {
          let v = 0;
          for (let q = 0; q < N; q++) v += J.data[i * N + q]! * M[q * N + j]!;
          assert.ok(Math.abs(v - (i === j ? 1 : 0)) < 1e-8, `${solve}: row ${i}, column ${j}: ${v}`);
        }
      }
    }
  });

  test("batched CG that does not converge is never silent: the row's policy decides", () => {
    const warned: ImplicitDiagnostics[] = [];
    const capped = (policy: "throw" | "warn") =>
      customRoot(F, { positiveDefinite: true, maxIter: 3, policy, onDiagnostics: (dg) => warned.push(dg) })(
        (_i: unknown, _t: Tensor) => xStar,
      );
    const rows = take(eye(N), [0, 1, 2], 0);
    const [, strict] = vjp((t: Tensor) => capped("throw")(undefined, t), theta);
    assert.throws(() => vmap((ct: Tensor) => strict(ct)[0])(rows), ImplicitDiffError);
    const [, lenient] = vjp((t: Tensor) => capped("warn")(undefined, t), theta);
    const warn = console.warn;
    console.warn = () => {};
    try {
      vmap((ct: Tensor) => lenient(ct)[0])(rows);
    } finally {
      console.warn = warn;
    }
    const last = warned.slice(-3);
    assert.deepEqual(
      last.map((dg) => [dg.column, dg.linearSolve.converged]),
      [
        [0, false],
        [1, false],
        [2, false],
      ],
    );
  });

  test("vmap of jvp over the identity (the columns of J) equals the rows by reverse mode", () => {
    const small = customRoot(ridgeF)(ridgeSolve);
    const Jc = vmap((t: Tensor) => jvp((X: Tensor) => small(undefined, tensor(0.2), X, yr), [Xr], [t])[1])(
      reshape(eye(m * d), [m * d, m, d]),
    ) as Tensor;
    const Jr = jacrev((X: Tensor) => small(undefined, tensor(0.2), X, yr))(Xr) as Tensor;
    // Jc[k] is the derivative along the k-th basis direction of X: the column k of the [d, m·d] Jacobian
    assertClose(transpose(Jc), reshape(Jr, [d, m * d]), { rtol: 1e-10, atol: 1e-13 });
  });

  test("policies hold per row: a singular system throws naming the batch element, lstsq matches a loop", () => {
    // F(x, a) = P x − a with P singular (the projector on the first coordinate)
    const P = tensor([
      [1, 0],
      [0, 0],
    ]);
    const Fs = (x: Tensor, a: Tensor) => sub(matmul(P, x), matmul(P, a));
    const solver = (_i: unknown, a: Tensor) => tensor([a.data[0]!, 0]);
    const strict = customRoot(Fs)(solver);
    const [, pbStrict] = vjp((a: Tensor) => strict(undefined, a), tensor([1, 2]));
    assert.throws(
      () => vmap((c: Tensor) => pbStrict(c)[0])(eye(2)),
      (e: Error) => e instanceof ImplicitDiffError && /batch element 0/.test(e.message),
    );
    const lenient = customRoot(Fs, { policy: "lstsq" })(solver);
    const [, pb] = vjp((a: Tensor) => lenient(undefined, a), tensor([1, 2]));
    const rows = vmap((c: Tensor) => pb(c)[0])(eye(2)) as Tensor;
    const loop = [tensor([1, 0]), tensor([0, 1])].map((c) => pb(c)[0].data);
    assertClose(rows, tensor([...loop[0]!, ...loop[1]!], [2, 2]), { rtol: 1e-12, atol: 1e-14 });
  });
});
