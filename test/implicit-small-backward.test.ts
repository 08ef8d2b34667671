/**
 * The first-order reverse path of a small implicit layer whose arguments hold no more numbers than x: F is traced
 * in (x, θ) together, one pullback batched over the identity gives ∂ₓF (the dense backward matrix) and the rows of
 * ∂θF, and θ̄ = −uᵀ∂θF is a product with those rows instead of a second backward pass (root.ts, `traceInX`).
 * Every test here takes that path (plain values, args ≤ x, a dense solve) and checks the derivative against a
 * closed form and central finite differences, with a non-symmetric F and pytree arguments (one of them unused,
 * one a matrix), for a fixed point (M = −∂ₓF), batched cotangents (`jacrev`), under `vmap`, and to second order.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  Tensor,
  add,
  customFixedPoint,
  customRoot,
  customVjp,
  eye,
  grad,
  hessian,
  jacfwd,
  jacrev,
  linalg,
  matmul,
  mul,
  stationarity,
  sub,
  sum,
  square,
  tensor,
  vdot,
  vmap,
  type ImplicitDiagnostics,
} from "../src/index.js";
import { assertClose, numericJacobian, randn, rng } from "./helpers.js";

const r = rng(1313);

describe("ridge with λ as the only argument (the peers benchmark's layer)", () => {
  const d = 6;
  const X = randn(r, [40, d]);
  const y = randn(r, [40]);
  const Xv = randn(r, [12, d]);
  const yv = randn(r, [12]);
  // X and y are plain constants of F; λ (1 number) is the argument, so F is traced in (w, λ) together.
  const inner = (w: Tensor, l: Tensor) =>
    add(mul(0.5, sum(square(sub(matmul(X, w), y)))), mul(mul(0.5, l), sum(square(w))));
  const hessianAt = (l: Tensor) => add(matmul(X.T, X), mul(l, eye(d)));
  const ridge = (l: Tensor) => linalg.solve(hessianAt(l), matmul(X.T, y));
  const outer = (w: Tensor) => mul(0.5, sum(square(sub(matmul(Xv, w), yv))));
  const diagnostics: ImplicitDiagnostics[] = [];
  const layer = customRoot(stationarity(inner), {
    positiveDefinite: true,
    onDiagnostics: (dd) => diagnostics.push(dd),
  })((_init: undefined, l: Tensor) => ridge(l));
  const hyper = grad((l: Tensor) => outer(layer(undefined, l)));
  /** dL/dλ = −(H⁻¹g)ᵀw with g = ∇outer(w). */
  const closedForm = (l: Tensor) => {
    const w = ridge(l);
    return -vdot(linalg.solve(hessianAt(l), grad(outer)(w) as Tensor), w).item();
  };

  test("hypergradient = −(H⁻¹g)ᵀw and central differences, by the dense Cholesky solve", () => {
    diagnostics.length = 0;
    const lam = tensor(0.3);
    const got = (hyper(lam) as Tensor).item();
    assertClose(got, closedForm(lam), { rtol: 1e-10 });
    assertClose(
      [got],
      numericJacobian((l: Tensor) => outer(ridge(l)), [lam], 0, 1e-6),
      { rtol: 1e-6 },
    );
    assert.equal(diagnostics.length, 1);
    assert.equal(diagnostics[0]!.linearSolve.solver, "cholesky");
  });

  test("under vmap: one hypergradient per λ, each the closed form", () => {
    const lams = tensor([0.05, 0.3, 2]);
    const got = vmap(hyper)(lams) as Tensor;
    assertClose(
      got,
      [...lams.data].map((v) => closedForm(tensor(v))),
      { rtol: 1e-10 },
    );
  });

  test("second order (the general path): d²L/dλ² against central differences of the closed form", () => {
    const lam = tensor(0.3);
    const h = 1e-4;
    const fd = (closedForm(tensor(0.3 + h)) - closedForm(tensor(0.3 - h))) / (2 * h);
    assertClose((hessian((l: Tensor) => outer(layer(undefined, l)))(lam) as Tensor).item(), fd, { rtol: 1e-6 });
    assertClose((jacfwd(hyper)(lam) as Tensor).item(), fd, { rtol: 1e-6 });
  });
});

describe("non-symmetric F with pytree arguments (LU)", () => {
  const n = 6;
  const A0 = add(mul(3, eye(n)), mul(0.5, randn(r, [n, n])));
  const B = randn(r, [n, 2]);
  const e = randn(r, [n]);
  const c = randn(r, [n]);
  type Theta = { s: Tensor; v: Tensor; M: Tensor; unused: Tensor };
  // F(x, θ) = (A0 + sI)x + x³/10 − Bv − ⟨M, [1, 2]⟩e: ∂ₓF is not symmetric and depends on x; θ holds 6 numbers,
  // as many as x, one leaf of them (`unused`) does not enter F and one (`M`) is a 1×2 matrix.
  const F = (x: Tensor, th: Theta) =>
    sub(
      add(matmul(add(A0, mul(th.s, eye(n))), x), mul(0.1, mul(x, mul(x, x)))),
      add(matmul(B, th.v), mul(sum(mul(th.M, tensor([[1, 2]]))), e)),
    );
  /** Newton's method on plain values. */
  const newton = (_init: undefined, th: Theta) => {
    let x = tensor(new Float64Array(n));
    for (let i = 0; i < 30; i++) {
      const J = jacfwd((z: Tensor) => F(z, th))(x) as Tensor;
      x = sub(x, linalg.solve(J, F(x, th)));
    }
    return x;
  };
  const theta: Theta = {
    s: tensor(0.4),
    v: tensor([0.5, -1]),
    M: tensor([[0.3, -0.2]]),
    unused: tensor([0.7]),
  };
  const diagnostics: ImplicitDiagnostics[] = [];
  const layer = customRoot(F, { onDiagnostics: (dd) => diagnostics.push(dd) })(newton);
  const loss = (th: Theta) => vdot(c, layer(undefined, th));
  /** Central differences of ⟨c, x*(θ)⟩ along every entry of every leaf, solving on plain values. */
  const finiteDifferences = (key: keyof Theta) =>
    numericJacobian((leaf: Tensor) => vdot(c, newton(undefined, { ...theta, [key]: leaf })), [theta[key]], 0, 1e-6);

  test("∇θ⟨c, x*⟩ = −(∂θF)ᵀ(∂ₓF)⁻ᵀc leaf by leaf, against central differences; exact zero for the unused leaf", () => {
    diagnostics.length = 0;
    const g = grad(loss)(theta) as Theta;
    assert.equal(diagnostics[0]!.linearSolve.solver, "lu");
    for (const key of ["s", "v", "M"] as const) {
      assert.deepEqual(g[key].shape, theta[key].shape);
      assertClose(g[key].data, finiteDifferences(key), { rtol: 1e-6, atol: 1e-9 }, key);
    }
    assert.deepEqual([...g.unused.data], [0]);
    // The closed form with an independent dense solve: u = (∂ₓF)⁻ᵀc, θ̄ = −(∂θF)ᵀu.
    const x = newton(undefined, theta);
    const Jx = jacfwd((z: Tensor) => F(z, theta))(x) as Tensor;
    const u = linalg.solve(Jx.T, c);
    const Jv = jacfwd((v: Tensor) => F(x, { ...theta, v }))(theta.v) as Tensor;
    assertClose(g.v, mul(-1, matmul(u, Jv)), { rtol: 1e-10 });
  });

  test("jacrev (batched cotangents through the rows of ∂θF) equals jacfwd", () => {
    const solveV = (v: Tensor) => layer(undefined, { ...theta, v });
    const Jr = jacrev(solveV)(theta.v) as Tensor;
    const Jf = jacfwd(solveV)(theta.v) as Tensor;
    assert.deepEqual(Jr.shape, [n, 2]);
    assertClose(Jr, Jf, { rtol: 1e-10, atol: 1e-13 });
  });

  test("under vmap over θ.v: each element's gradient is its own", () => {
    const vs = tensor([
      [0.5, -1],
      [1, 0.2],
    ]);
    const gv = (v: Tensor) => (grad(loss)({ ...theta, v }) as Theta).v;
    const batched = vmap(gv)(vs) as Tensor;
    for (let i = 0; i < 2; i++) {
      const v = tensor([vs.data[2 * i]!, vs.data[2 * i + 1]!]);
      assertClose(batched.data.slice(2 * i, 2 * i + 2), gv(v).data, { rtol: 1e-12 });
    }
  });
});

describe("fixed point x = T(x, θ) with θ as large as x: M = I − ∂ₓT = −∂ₓF", () => {
  const n = 5; // below the fixed-point iteration's minimum: the dense path
  const R = randn(r, [n, n]);
  const A = add(matmul(R.T, R), mul(n, eye(n)));
  const eta = 1 / (2 * n + linalg.norm(A).item());
  // A gradient step on ½xᵀAx − θᵀx, which is a contraction; its fixed point is x* = A⁻¹θ.
  const T = (x: Tensor, th: Tensor) => sub(x, mul(eta, sub(matmul(A, x), th)));
  const c = randn(r, [n]);
  const diagnostics: ImplicitDiagnostics[] = [];
  const layer = customFixedPoint(T, { onDiagnostics: (dd) => diagnostics.push(dd) })((_init: undefined, th: Tensor) =>
    linalg.solve(A, th),
  );

  test("∇θ⟨c, x*⟩ = A⁻ᵀc", () => {
    diagnostics.length = 0;
    const th = randn(r, [n]);
    const g = grad((t: Tensor) => vdot(c, layer(undefined, t)))(th) as Tensor;
    assertClose(g, linalg.solve(A.T, c), { rtol: 1e-10 });
    assert.equal(diagnostics[0]!.linearSolve.solver, "lu");
  });
});

describe("a condition whose pullback reads plain numbers (cannot batch)", () => {
  const n = 4;
  const R = randn(r, [n, n]);
  const A = add(matmul(R.T, R), mul(n, eye(n)));
  // x³ with a hand-written reverse rule that reads its cotangent's values: its pullback cannot run under vmap.
  const cube = customVjp(
    (x: Tensor) => mul(x, mul(x, x)),
    (x: Tensor) => [mul(x, mul(x, x)), x],
    (x: Tensor, g: Tensor) => [tensor(g.data.map((gi, i) => 3 * gi * x.data[i]! ** 2))],
  );
  const F = (x: Tensor, th: Tensor) => sub(add(matmul(A, x), cube(x)), th);
  const newton = (_init: undefined, th: Tensor) => {
    let x = tensor(new Float64Array(n));
    for (let i = 0; i < 40; i++) {
      const J = add(A, mul(3, mul(eye(n), square(x))));
      x = sub(x, linalg.solve(J, F(x, th)));
    }
    return x;
  };
  const layer = customRoot(F)(newton);
  const c = randn(r, [n]);

  test("the gradient is still (A + 3 diag(x*²))⁻ᵀc, and central differences", () => {
    const th = randn(r, [n]);
    const g = grad((t: Tensor) => vdot(c, layer(undefined, t)))(th) as Tensor;
    const x = newton(undefined, th);
    assertClose(g, linalg.solve(add(A, mul(3, mul(eye(n), square(x)))).T, c), { rtol: 1e-10 });
    assertClose(
      g.data,
      numericJacobian((t: Tensor) => vdot(c, newton(undefined, t)), [th], 0, 1e-6),
      {
        rtol: 1e-6,
        atol: 1e-9,
      },
    );
  });
});
