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
  jvp,
  linalg,
  matmul,
  mul,
  reshape,
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
