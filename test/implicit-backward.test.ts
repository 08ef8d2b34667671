/**
 * Backward solves that do not rebuild the backward matrix (`src/implicit/backward-solver.ts`): a factorisation
 * handed back by the solver (`backwardFactor`), certified by the true residual so that a wrong one fails loudly,
 * and the fixed-point iteration on the adjoint of a contractive `customFixedPoint` layer, with its fallback.
 */
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import {
  ImplicitDiffError,
  ValueError,
  add,
  cos,
  customFixedPoint,
  eye,
  customRoot,
  grad,
  jacfwd,
  jacrev,
  jvp,
  linalg,
  matmul,
  mul,
  reshape,
  stationarity,
  sub,
  sum,
  tanh,
  tensor,
  Tensor,
  type BackwardFactor,
  type ImplicitDiagnostics,
} from "../src/index.js";
import { assertClose, checkDerivatives, randn, rng } from "./helpers.js";

const r = rng(2718);

/** A linear root F(x, A, b) = Ax − b solved exactly; the true backward matrix is A. */
function linearLayer(factorOf: (A: Tensor) => BackwardFactor | undefined, opts: object = {}) {
  const seen: ImplicitDiagnostics[] = [];
  const F = (x: Tensor, A: Tensor, b: Tensor) => sub(matmul(A, x), b);
  const layer = customRoot(F, {
    backwardFactor: (_x: Tensor, A: Tensor) => factorOf(A),
    onDiagnostics: (d) => seen.push(d),
    ...opts,
  })((_init: undefined, A: Tensor, b: Tensor) => linalg.solve(A, b));
  return { layer, seen };
}

/** A "factorisation" of M that solves with `M` itself (exact when M is the true matrix). */
const solveWith = (M: Tensor): BackwardFactor => ({
  name: "test-lu",
  solve: (rhs, transpose) => linalg.solve(transpose ? M.T : M, rhs as Tensor),
});

describe("backwardFactor: a factorisation handed back by the solver", () => {
  const n = 5;
  const M = add(randn(r, [n, n]), mul(4, eye(n)));
  const b = randn(r, [n]);
  const w = randn(r, [n]);

  test("is used in both modes, and gives the rebuilt derivative to 1e-10 and the finite differences", () => {
    const { layer, seen } = linearLayer(solveWith);
    const f = (Mm: Tensor, bb: Tensor) => sum(mul(w, layer(undefined, Mm, bb)));
    const g = grad(f, { argnums: [0, 1] })(M, b) as Tensor[];
    const plain = customRoot((x: Tensor, Mm: Tensor, bb: Tensor) => sub(matmul(Mm, x), bb), { solve: "lu" })(
      (_init: undefined, Mm: Tensor, bb: Tensor) => linalg.solve(Mm, bb),
    );
    const g0 = grad((Mm: Tensor, bb: Tensor) => sum(mul(w, plain(undefined, Mm, bb))), { argnums: [0, 1] })(
      M,
      b,
    ) as Tensor[];
    assert.equal(seen[0]!.linearSolve.solver, "test-lu");
    g.forEach((gi, i) => assertClose(gi, g0[i]!, { rtol: 1e-10, atol: 1e-12 }));
    // closed form: x = M⁻¹b, ∂(wᵀx)/∂b = M⁻ᵀw
    assertClose(g[1]!, linalg.solve(M.T, w), { rtol: 1e-10, atol: 1e-12 });
    const [, t] = jvp(f, [M, b], [randn(r, [n, n]), randn(r, [n])]);
    assert.equal(seen[seen.length - 1]!.mode, "jvp");
    assert.equal(seen[seen.length - 1]!.linearSolve.solver, "test-lu");
    assert.ok(Number.isFinite((t as Tensor).item()));
    checkDerivatives(f, [M, b]);
  });

  test("an approximate factorisation is refined against the true matrix", () => {
    // the factorisation of a perturbed matrix: refinement steps bring the residual to the tolerance
    const { layer, seen } = linearLayer((Mm) => solveWith(add(Mm, mul(1e-4, randn(r, [n, n])))));
    const g = grad((bb: Tensor) => sum(mul(w, layer(undefined, M, bb))))(b) as Tensor;
    assertClose(g, linalg.solve(M.T, w), { rtol: 1e-9, atol: 1e-11 });
    assert.ok(seen[0]!.linearSolve.iterations > 1, "refinement steps ran");
  });

  test("a wrong factorisation is caught: ImplicitDiffError under the default policy", () => {
    const wrong = (Mm: Tensor) => solveWith(add(Mm, mul(2, randn(r, [n, n]))));
    const { layer } = linearLayer(wrong);
    assert.throws(
      () => grad((bb: Tensor) => sum(mul(w, layer(undefined, M, bb))))(b),
      (e: unknown) =>
        e instanceof ImplicitDiffError && /backwardFactor does not solve the backward system/.test(e.message),
    );
    // under "warn", it is reported and the rebuilt solve gives the right derivative
    const warnings: string[] = [];
    const warn = console.warn;
    console.warn = (m: string) => warnings.push(m);
    try {
      const { layer: warned } = linearLayer(wrong, { policy: "warn" });
      const g = grad((bb: Tensor) => sum(mul(w, warned(undefined, M, bb))))(b) as Tensor;
      assertClose(g, linalg.solve(M.T, w), { rtol: 1e-9, atol: 1e-11 });
    } finally {
      console.warn = warn;
    }
    assert.ok(warnings.some((m) => /backwardFactor/.test(m)));
  });

  test("a factorisation returning the wrong structure, and a non-function option, are typed errors", () => {
    const { layer } = linearLayer(() => ({ name: "bad", solve: () => tensor([1, 2]) }));
    assert.throws(() => grad((bb: Tensor) => sum(layer(undefined, M, bb)))(b), ValueError);
    assert.throws(
      () => customRoot((x: Tensor) => x, { backwardFactor: 3 as unknown as () => undefined }),
      /backwardFactor/,
    );
  });
});

describe("customFixedPoint: the fixed-point iteration on the adjoint", () => {
  const d = 40; // above the size where "auto" factorises M rather than iterate
  const W = mul(0.3 / Math.sqrt(d), randn(r, [d, d]));
  const x = randn(r, [d]);
  const c = randn(r, [d]);
  const T = (z: Tensor, Wm: Tensor, xv: Tensor) => tanh(add(matmul(Wm, z), xv));
  const iterate = (_z0: undefined, Wm: Tensor, xv: Tensor) => {
    let z = tensor(new Float64Array(d));
    for (let i = 0; i < 300; i++) z = T(z, Wm, xv);
    return z;
  };
  const layerWith = (opts: object) => {
    const seen: ImplicitDiagnostics[] = [];
    const layer = customFixedPoint(T, { onDiagnostics: (g) => seen.push(g), ...opts })(iterate);
    const f = (Wm: Tensor, xv: Tensor) => sum(mul(c, layer(undefined, Wm, xv)));
    return { f, seen };
  };

  test("a contraction: the default backward is the fixed-point iteration, equal to the dense solve", () => {
    const { f, seen } = layerWith({});
    const g = grad(f, { argnums: [0, 1] })(W, x) as Tensor[];
    assert.equal(seen[0]!.linearSolve.solver, "fixedPoint");
    assert.ok(seen[0]!.linearSolve.iterations > 0 && seen[0]!.linearSolve.converged);
    const dense = layerWith({ solve: "lu" });
    const g0 = grad(dense.f, { argnums: [0, 1] })(W, x) as Tensor[];
    assert.equal(dense.seen[0]!.linearSolve.solver, "lu");
    g.forEach((gi, i) => assertClose(gi, g0[i]!, { rtol: 1e-8, atol: 1e-10 }));
    // closed form: u solves (I − diag(s)W)ᵀu = c with s = 1 − z², and ∂/∂x = s ⊙ u
    const z = iterate(undefined, W, x);
    const s = sub(tensor(1), mul(z, z));
    const J = mul(reshape(s, [d, 1]), W);
    const u = linalg.solve(sub(eye(d), J).T, c);
    assertClose(g[1]!, mul(s, u), { rtol: 1e-8, atol: 1e-10 });
    checkDerivatives(f, [W, x]);
  });

  test("warm start: the next backward starts from the last adjoint", () => {
    const { f, seen } = layerWith({});
    grad(f)(W, x);
    grad(f)(W, add(x, 1e-3)); // a nearby problem: fewer steps from the last adjoint
    const cold = layerWith({});
    grad(cold.f)(W, add(x, 1e-3));
    assert.ok(seen[1]!.linearSolve.iterations < cold.seen[0]!.linearSolve.iterations);
  });

  test("not a contraction: abandoned for the dense solve under auto (reported), an error when forced", () => {
    // x = 2x − θ: the fixed point x = θ, ∂T = 2 (no contraction), I − ∂T = −1 invertible
    const Texp = (v: Tensor, theta: Tensor) => sub(mul(2, v), theta);
    const seen: ImplicitDiagnostics[] = [];
    const layer = customFixedPoint(Texp, { onDiagnostics: (g) => seen.push(g) })(
      (_v: undefined, theta: Tensor) => theta,
    );
    const theta = tensor(Array.from({ length: 10 }, (_, i) => 0.1 * i - 0.4));
    const weights = tensor(Array.from({ length: 10 }, (_, i) => i + 1));
    const g = grad((t: Tensor) => sum(mul(weights, layer(undefined, t))))(theta) as Tensor;
    assertClose(g, weights, { rtol: 1e-12, atol: 1e-12 });
    assert.equal(seen[0]!.linearSolve.solver, "lu");
    assert.ok(seen[0]!.skipped !== undefined && !seen[0]!.skipped.converged);
    const forced = customFixedPoint(Texp, { solve: "fixedPoint" })((_v: undefined, t: Tensor) => t);
    assert.throws(() => grad((t: Tensor) => sum(forced(undefined, t)))(theta), ImplicitDiffError);
  });

  /**
   * T(v, θ) = A v + θ with A = Q diag(λ) Qᵀ symmetric, λ evenly spread over [lo, hi]: the residual ratios of the
   * adjoint iteration rise towards hi (log-convexity), slowly when many eigenvalues sit below hi. The gradient of
   * Σ cᵢ v*ᵢ in θ is (I − A)⁻¹c.
   */
  const spectral = (n: number, lo: number, hi: number, opts: object) => {
    const Q = linalg.qr(randn(r, [n, n])).Q;
    const lam = tensor(Array.from({ length: n }, (_, i) => lo + ((hi - lo) * i) / (n - 1)));
    const A = matmul(mul(Q, reshape(lam, [1, n])), Q.T);
    const I = eye(n);
    const seen: ImplicitDiagnostics[] = [];
    const layer = customFixedPoint((v: Tensor, th: Tensor) => add(matmul(A, v), th), {
      onDiagnostics: (g) => seen.push(g),
      ...opts,
    })((_v: undefined, th: Tensor) => linalg.solve(sub(I, A), th));
    const cv = randn(r, [n]);
    const g = grad((th: Tensor) => sum(mul(cv, layer(undefined, th))))(randn(r, [n])) as Tensor;
    assertClose(g, linalg.solve(sub(I, A), cv), { rtol: 1e-8, atol: 1e-10 });
    return seen[0]!;
  };

  test("a rate creeping towards 1 is abandoned after a few steps, from the trend of the ratios", () => {
    // Ratios start near 0.75 and rise towards 0.9995: a constant-rate prediction would wait until the rate itself
    // is slow (tens of steps with this budget); the rising ratios give it away after four.
    const seen = spectral(60, 0.5, 0.9995, { maxIter: 1000 });
    assert.equal(seen.linearSolve.solver, "lu");
    assert.ok(seen.skipped !== undefined && !seen.skipped.converged);
    assert.ok(seen.skipped.iterations <= 6, `abandoned after ${seen.skipped.iterations} steps`);
  });

  test("a rate rising towards a contraction is kept: the iteration converges", () => {
    const seen = spectral(60, 0, 0.5, {});
    assert.equal(seen.linearSolve.solver, "fixedPoint");
    assert.ok(seen.linearSolve.converged && seen.skipped === undefined);
  });

  test("second derivatives stay exact (the general, differentiable path)", () => {
    // x = ½cos(x) + θ: dx/dθ = 1/(1 + ½sin x), d²x/dθ² = −½cos(x)·x′³
    const Tc = (v: Tensor, theta: Tensor) => add(mul(0.5, cos(v)), theta);
    const layer = customFixedPoint(Tc)((_v: undefined, theta: Tensor) => {
      let v = tensor(0);
      for (let i = 0; i < 200; i++) v = Tc(v, theta);
      return v;
    });
    const theta = tensor(0.3);
    const d2 = grad(grad((t: Tensor) => layer(undefined, t)))(theta) as Tensor;
    const xs = layer(undefined, theta).item();
    const d1 = 1 / (1 + 0.5 * Math.sin(xs));
    assertClose(d2.item(), -0.5 * Math.cos(xs) * d1 ** 3, { rtol: 1e-8, atol: 1e-10 });
  });
});

describe("first-order reverse derivatives: one trace of F in x serves the backward pass", () => {
  // Ridge: F = ∇ₓ(½‖Xx − y‖² + ½λ‖x‖²) = (XᵀX + λI)x − Xᵀy, M = XᵀX + λI; x*(λ) = M⁻¹Xᵀy, dx*/dλ = −M⁻¹x*.
  const m = 30;
  const n = 6;
  const X = randn(r, [m, n]);
  const y = randn(r, [m]);
  const w = randn(r, [n]);
  const gram = matmul(X.T, X);
  const ridgeSolve = (_x0: undefined, lam: Tensor) => linalg.solve(add(gram, mul(lam, eye(n))), matmul(X.T, y));
  const objective = (x: Tensor, lam: Tensor) =>
    add(mul(0.5, sum(mul(sub(matmul(X, x), y), sub(matmul(X, x), y)))), mul(mul(0.5, lam), sum(mul(x, x))));
  /** The layer with F counting its evaluations (each traced evaluation of F, batched or not, counts once). */
  const counted = (opts: object) => {
    const calls = { n: 0 };
    const seen: ImplicitDiagnostics[] = [];
    const F = (x: Tensor, lam: Tensor) => {
      calls.n++;
      return grad(objective)(x, lam) as Tensor;
    };
    const layer = customRoot(F, { onDiagnostics: (d) => seen.push(d), ...opts })(ridgeSolve);
    return { f: (lam: Tensor) => sum(mul(w, layer(undefined, lam))), calls, seen };
  };
  const lam = tensor(0.7);
  const exact = () => {
    const M = add(gram, mul(lam, eye(n)));
    return -sum(mul(linalg.solve(M, w), linalg.solve(M, matmul(X.T, y)))).item();
  };

  for (const [opts, solver] of [
    [{ positiveDefinite: true }, "cholesky"],
    [{ symmetric: true }, "lu"],
    [{}, "lu"],
    [{ positiveDefinite: true, solve: "cg" }, "cg"],
    [{ solve: "gmres" }, "gmres"],
  ] as const) {
    test(`${JSON.stringify(opts)}: the closed form, the forward-mode path and the finite differences; F evaluated once`, () => {
      const { f, calls, seen } = counted(opts);
      const g = grad(f)(lam) as Tensor;
      // F traced once, in x and λ together (λ is smaller than x), by the forward solve: the matrix (or every
      // Krylov matvec) and the final pullback in λ are pullbacks of that trace.
      assert.equal(calls.n, 1);
      assert.equal(seen[0]!.linearSolve.solver, solver);
      assertClose(g.item(), exact(), { rtol: 1e-9 });
      const [, t] = jvp(f, [lam], [tensor(1)]) as [Tensor, Tensor]; // forward mode: JVP matvecs, no trace
      assertClose(t.item(), exact(), { rtol: 1e-9 });
      checkDerivatives(f, [lam]);
    });
  }

  test("a full Jacobian (jacrev: one batched solve) equals the forward-mode one", () => {
    const layer = customRoot(stationarity(objective), { positiveDefinite: true })(ridgeSolve);
    const J = jacrev((l: Tensor) => layer(undefined, l))(lam) as Tensor;
    const Jf = jacfwd((l: Tensor) => layer(undefined, l))(lam) as Tensor;
    assertClose(J, Jf, { rtol: 1e-10, atol: 1e-12 });
  });

  test("a nonsymmetric backward matrix is transposed correctly (LU on the materialised M, GMRES on Mᵀ)", () => {
    const A = add(randn(r, [n, n]), mul(3, eye(n)));
    const F = (x: Tensor, b: Tensor) => sub(matmul(A, add(x, mul(0.1, mul(x, x)))), b);
    for (const solve of ["auto", "gmres"] as const) {
      const layer = customRoot(F, { solve })((_x0: undefined, b: Tensor) => {
        let x = linalg.solve(A, b);
        for (let i = 0; i < 50; i++) x = sub(x, linalg.solve(A, F(x, b)));
        return x;
      });
      const f = (b: Tensor) => sum(mul(w, layer(undefined, b)));
      const b = randn(r, [n]);
      // (∂ₓF)ᵀu = w with ∂ₓF = A·diag(1 + 0.2x), gradient u
      const x = layer(undefined, b);
      const u = linalg.solve(mul(A, add(1, mul(0.2, x))).T, w);
      assertClose(grad(f)(b) as Tensor, u, { rtol: 1e-8, atol: 1e-10 });
      checkDerivatives(f, [b]);
    }
  });

  test("wrong hints still throw, and a singular system with a right hint meets the policy", () => {
    const A = tensor([
      [2, 1],
      [0, 2],
    ]);
    const F = (x: Tensor, b: Tensor) => sub(matmul(A, x), b);
    const solve = (_x0: undefined, b: Tensor) => linalg.solve(A, b);
    for (const hint of ["symmetric", "positiveDefinite"] as const) {
      const layer = customRoot(F, { [hint]: true })(solve);
      assert.throws(
        () => grad((b: Tensor) => sum(layer(undefined, b)))(tensor([1, 1])),
        new RegExp(`\`${hint}\` hint is wrong: the backward matrix is not symmetric`),
      );
    }
    // M = [[1, 1], [1, 1]]: symmetric, positive semidefinite, singular. The Cholesky factorisation fails; the
    // probes then find no wrong hint, so the singular system meets the policy (throw, or least squares).
    const S = tensor([
      [1, 1],
      [1, 1],
    ]);
    const G = (x: Tensor, b: Tensor) => sub(matmul(S, x), b);
    const rhs = tensor([1, 1]);
    const half = (_x0: undefined, _b: Tensor) => tensor([0.5, 0.5]); // a root of Sx = [1, 1]
    const strict = customRoot(G, { positiveDefinite: true })(half);
    assert.throws(() => grad((b: Tensor) => sum(strict(undefined, b)))(rhs), /could not be solved/);
    const seen: ImplicitDiagnostics[] = [];
    const lstsq = customRoot(G, { positiveDefinite: true, policy: "lstsq", onDiagnostics: (d) => seen.push(d) })(half);
    // least squares: u = S⁺·[1, 1] = [0.5, 0.5], θ̄ = u
    assertClose(grad((b: Tensor) => sum(lstsq(undefined, b)))(rhs) as Tensor, [0.5, 0.5], { rtol: 1e-10 });
    assert.ok(seen[0]!.fallback);
  });

  test("F closing over a value differentiated at the level of the arguments is still rejected", () => {
    const solver = (_x0: undefined, a: Tensor) => tensor(Math.sqrt(a.item()));
    assert.throws(
      () =>
        grad((c: Tensor) => {
          const F = (x: Tensor, a: Tensor) => sub(mul(mul(x, x), c), a);
          return customRoot(F)(solver)(undefined, mul(c, 4)) as Tensor;
        })(tensor(1)),
      /closes over a value that is being differentiated/,
    );
  });

  test("the fixed-point adjoint iteration evaluates T twice (arguments larger than x), whatever its number of steps", () => {
    const d = 40;
    const W = mul(0.3 / Math.sqrt(d), randn(r, [d, d]));
    const x = randn(r, [d]);
    const c = randn(r, [d]);
    let calls = 0;
    const T = (z: Tensor, Wm: Tensor, xv: Tensor) => {
      calls++;
      return tanh(add(matmul(Wm, z), xv));
    };
    const seen: ImplicitDiagnostics[] = [];
    const layer = customFixedPoint(T, { onDiagnostics: (g) => seen.push(g) })((
      _z0: undefined,
      Wm: Tensor,
      xv: Tensor,
    ) => {
      let z = tensor(new Float64Array(d));
      for (let i = 0; i < 300; i++) z = T(z, Wm, xv);
      return z;
    });
    grad((Wm: Tensor, xv: Tensor) => sum(mul(c, layer(undefined, Wm, xv))), { argnums: [0, 1] })(W, x);
    assert.ok(seen[0]!.linearSolve.solver === "fixedPoint" && seen[0]!.linearSolve.iterations > 5);
    assert.equal(calls - 300, 2);
  });
});
