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

describe("full Jacobians above the dense threshold: Krylov solves until materialising pays", () => {
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
