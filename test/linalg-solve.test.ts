import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  Tensor,
  tensor,
  add,
  mul,
  sin,
  sum,
  eye,
  matmul,
  matrixTranspose,
  grad,
  jvp,
  vjp,
  jacfwd,
  hessian,
  linalg,
  DifferentiationError,
  NonFiniteError,
  ShapeError,
  ValueError,
  type Tree,
} from "../src/index.js";
import { assertClose, checkDerivatives, numericJacobian, randn, rng } from "./helpers.js";

const { LinearOperator, linearSolve, LinearSolveError } = linalg;
type Solver = NonNullable<linalg.LinearSolveOptions["solver"]>;

/** (S + Sᵀ)/2 + shift·I: symmetric for every S, so finite differences in S stay on symmetric matrices. */
function symmetricOf(S: Tensor, shift: number): Tensor {
  return add(mul(add(S, matrixTranspose(S)), 0.5), mul(eye(S.shape[0]!), shift));
}

function spd(seed: number, n: number): Tensor {
  const M = randn(rng(seed), [n, n]);
  return add(matmul(M, matrixTranspose(M)), mul(eye(n), n));
}

/** A symmetric indefinite matrix with eigenvalues bounded away from 0: Q diag(±(1 + |d|)) Qᵀ-like via shifts. */
function symmetricIndefinite(seed: number, n: number): Tensor {
  const M = randn(rng(seed), [n, n]);
  const S = mul(add(M, matrixTranspose(M)), 0.5);
  // S + D with D = diag(±2√n) alternating: strongly indefinite, well conditioned enough for the tests
  const d = new Float64Array(n * n);
  for (let i = 0; i < n; i++) d[i * n + i] = (i % 2 === 0 ? 1 : -1) * 3 * Math.sqrt(n);
  return add(S, tensor(d, [n, n]));
}

function nonsymmetric(seed: number, n: number): Tensor {
  const M = randn(rng(seed), [n, n]);
  return add(mul(M, 1 / Math.sqrt(n)), mul(eye(n), 3));
}

const tight = { rtol: 1e-13 };

describe("linearSolve: solver choice", () => {
  const r = rng(1);
  const cases: [string, linalg.LinearOperator<any>, linalg.LinearSolveOptions, string][] = [
    ["small SPD", LinearOperator.fromMatrix(spd(1, 5), { symmetric: true, positiveDefinite: true }), {}, "cholesky"],
    ["large SPD", LinearOperator.fromMatrix(spd(2, 201), { symmetric: true, positiveDefinite: true }), {}, "cg"],
    ["small symmetric", LinearOperator.fromMatrix(symmetricIndefinite(3, 6), { symmetric: true }), {}, "lu"],
    ["large symmetric", LinearOperator.fromMatrix(symmetricIndefinite(4, 220), { symmetric: true }), {}, "minres"],
    ["small general", LinearOperator.fromMatrix(nonsymmetric(5, 7)), {}, "lu"],
    ["large general", LinearOperator.fromMatrix(nonsymmetric(6, 210)), {}, "gmres"],
    ["small ill-posed", LinearOperator.fromMatrix(nonsymmetric(7, 7)), { wellPosed: false }, "lstsq"],
    ["large ill-posed", LinearOperator.fromMatrix(nonsymmetric(8, 205)), { wellPosed: false }, "lsqr"],
    ["rectangular", LinearOperator.fromMatrix(randn(r, [9, 4])), {}, "lstsq"],
  ];
  for (const [name, op, opts, expected] of cases) {
    test(`${name} → ${expected}`, () => {
      assert.equal(linalg.resolveSolver(op, opts), expected);
      const b = randn(r, [op.outSize]);
      const { value, info } = linearSolve(op, b, opts);
      assert.equal(info.solver, expected);
      assert.equal(info.phase, "solve");
      assert.ok(info.converged);
      const x = value as Tensor;
      if (op.inSize === op.outSize) {
        assertClose(op.matvec(x) as Tensor, b, { rtol: 1e-8, atol: 1e-9 }, name);
      } else {
        const At = op.transpose();
        const normal = At.matvec(add(op.matvec(x) as Tensor, mul(b, -1))) as Tensor;
        assertClose(normal, new Float64Array(op.inSize), { atol: 1e-9 }, name);
      }
    });
  }
  test("explicit solvers are checked against the operator's shape and the solver list", () => {
    const rect = LinearOperator.fromMatrix(randn(r, [4, 3]));
    assert.throws(() => linearSolve(rect, randn(r, [4]), { solver: "cg" }), ShapeError);
    assert.throws(() => linearSolve(rect, randn(r, [4]), { solver: "qr" as Solver }), ValueError);
  });
});

describe("linearSolve: values", () => {
  test("agrees with the dense solve for each solver on its class of systems", () => {
    const classes: [Tensor, Solver[]][] = [
      [spd(11, 30), ["cg", "cholesky", "minres", "gmres", "bicgstab", "lu", "lstsq", "lsqr", "normalCg"]],
      [symmetricIndefinite(12, 30), ["minres", "gmres", "bicgstab", "lu", "lsqr"]],
      [nonsymmetric(13, 30), ["gmres", "bicgstab", "lu", "lstsq", "lsqr", "normalCg"]],
    ];
    const b = randn(rng(14), [30]);
    for (const [A, solvers] of classes) {
      const ref = linalg.solve(A, b);
      for (const solver of solvers) {
        const { value, info } = linearSolve(LinearOperator.fromMatrix(A), b, { solver, ...tight });
        assertClose(value as Tensor, ref, { rtol: 1e-9, atol: 1e-11 }, solver);
        assert.ok(info.residualNorm < 1e-11 * Math.sqrt(30) * 10, `${solver} residual ${info.residualNorm}`);
      }
    }
  });

  test("neumann approximates the solution of a contraction and reports its residual", () => {
    const A = add(eye(4), mul(randn(rng(15), [4, 4]), 0.1));
    const b = randn(rng(16), [4]);
    const { value, info } = linearSolve(LinearOperator.fromMatrix(A), b, { solver: "neumann", neumann: { k: 60 } });
    assert.equal(info.iterations, 60);
    assert.ok(info.converged);
    assertClose(value as Tensor, linalg.solve(A, b), { rtol: 1e-8, atol: 1e-10 });
  });

  test("pytrees in and out, with params given as a pytree", () => {
    // block-diagonal operator on {u: [2], w: [3]} with blocks P.a (2×2) and P.c·I (3×3)
    const params = {
      a: tensor([
        [3, 1],
        [1, 2],
      ]),
      c: tensor(4),
    };
    const op = LinearOperator.fromFunction(
      (p: typeof params, v: { u: Tensor; w: Tensor }) => ({ u: matmul(p.a, v.u), w: mul(p.c, v.w) }),
      params,
      { u: tensor([0, 0]), w: tensor([0, 0, 0]) },
      { tags: { symmetric: true, positiveDefinite: true } },
    );
    const b = { u: tensor([5, 5]), w: tensor([4, 8, 12]) };
    for (const solver of ["cholesky", "cg", "minres", "gmres", "lu", "lsqr"] as const) {
      const x = linearSolve(op, b, { solver }).value as { u: Tensor; w: Tensor };
      assertClose(x.u, [1, 2], { rtol: 1e-9 }, solver);
      assertClose(x.w, [1, 2, 3], { rtol: 1e-9 }, solver);
    }
    // d/dc of sum(x.w) = d/dc sum(b.w / c) = −sum(b.w) / c²
    const g = grad((c: Tensor) => {
      const x = linearSolve(op.withParams({ a: params.a, c }), b, { solver: "cg" }).value as { w: Tensor };
      return sum(x.w);
    })(params.c) as Tensor;
    assertClose(g, -24 / 16, { rtol: 1e-9 });
  });
});

describe("linearSolve: derivatives against finite differences", () => {
  const n = 5;
  const S = randn(rng(21), [n, n]);
  const N = nonsymmetric(22, n);
  const b = randn(rng(23), [n]);
  const symmetricSolvers: Solver[] = ["cg", "cholesky", "minres"];
  const generalSolvers: Solver[] = ["gmres", "bicgstab", "lu"];
  for (const solver of symmetricSolvers) {
    test(`${solver}: with respect to the matrix and b`, () => {
      const f = (s: Tensor, bb: Tensor) => {
        const op = LinearOperator.fromMatrix(symmetricOf(s, 2 * n), { symmetric: true, positiveDefinite: true });
        return linearSolve(op, bb, { solver, ...tight }).value as Tensor;
      };
      checkDerivatives(f, [S, b], {}, solver);
    });
  }
  for (const solver of generalSolvers) {
    test(`${solver}: with respect to the matrix and b`, () => {
      const f = (a: Tensor, bb: Tensor) =>
        linearSolve(LinearOperator.fromMatrix(a), bb, { solver, ...tight }).value as Tensor;
      checkDerivatives(f, [N, b], {}, solver);
      // closed form: ∂x/∂b = A⁻¹
      const J = jacfwd((bb: Tensor) => f(N, bb))(b) as Tensor;
      assertClose(J, linalg.inv(N), { rtol: 1e-9, atol: 1e-12 }, `${solver} ∂x/∂b`);
    });
  }
  test("matrix-free operator from a function of a parameter pytree (gmres, derived transpose)", () => {
    const op = (theta: Tensor, diag: Tensor) =>
      LinearOperator.fromFunction(
        (p: { theta: Tensor; diag: Tensor }, v: Tensor) => add(matmul(p.theta, v), mul(p.diag, v)),
        { theta, diag },
        tensor([0, 0, 0, 0, 0]),
      );
    const f = (theta: Tensor, diag: Tensor, bb: Tensor) =>
      linearSolve(op(theta, diag), bb, { solver: "gmres", ...tight }).value as Tensor;
    checkDerivatives(f, [mul(S, 0.3), add(tensor([3, 3, 3, 3, 3]), randn(rng(24), [5])), b], {}, "fromFunction");
  });
  test("combinators: ridge and scale parameters are differentiable", () => {
    const A = spd(25, 4);
    const bb = randn(rng(26), [4]);
    const f = (rho: Tensor, alpha: Tensor) => {
      const op = linalg.scale(
        linalg.ridge(LinearOperator.fromMatrix(A, { symmetric: true, positiveDefinite: true }), rho),
        alpha,
      );
      return linearSolve(op, bb, { solver: "cg", ...tight }).value as Tensor;
    };
    checkDerivatives(f, [tensor(0.7), tensor(1.3)], {}, "ridge/scale");
    // closed form in alpha: x = A_ρ⁻¹b/α, so ∂x/∂α = −x/α
    const x = f(tensor(0.7), tensor(1.3));
    const dx = jvp((a: Tensor) => f(tensor(0.7), a), [tensor(1.3)], [tensor(1)])[1] as Tensor;
    assertClose(dx, mul(x, -1 / 1.3), { rtol: 1e-9 });
  });
});

describe("linearSolve: second derivatives", () => {
  // φ(θ) = bᵀ A(θ)⁻¹ b with A(θ) = A₀ + diag(θ)² (SPD for all θ)
  const n = 4;
  const A0 = spd(31, n);
  const b = randn(rng(32), [n]);
  const theta0 = randn(rng(33), [n]);
  const make = (solver: Solver) => (theta: Tensor) => {
    const d = new Float64Array(n * n);
    for (let i = 0; i < n; i++) d[i * n + i] = 1;
    const A = add(A0, mul(tensor(d, [n, n]), mul(theta, theta)));
    const op = LinearOperator.fromMatrix(A, { symmetric: true, positiveDefinite: true });
    return sum(mul(b, linearSolve(op, b, { solver, ...tight }).value as Tensor));
  };
  for (const solver of ["cg", "cholesky", "gmres", "lu"] as Solver[]) {
    test(`hessian of bᵀA(θ)⁻¹b (${solver}) against finite differences of the gradient`, () => {
      const phi = make(solver);
      const H = hessian(phi)(theta0) as Tensor;
      const fd = numericJacobian((t: Tensor) => grad(phi)(t) as Tensor, [theta0], 0, 1e-5);
      assertClose(H.data, fd, { rtol: 1e-5, atol: 1e-7 }, solver);
      // symmetric, as a Hessian must be
      for (let i = 0; i < n; i++)
        for (let j = 0; j < i; j++) assertClose(H.data[i * n + j]!, H.data[j * n + i]!, { rtol: 1e-9, atol: 1e-12 });
    });
  }
  test("second derivative in b is zero and in the matrix matches the closed form 2·x xᵀ-type terms", () => {
    // ∂²/∂b² (bᵀA⁻¹b) = A⁻¹ + A⁻ᵀ
    const A = nonsymmetric(34, n);
    const H = hessian((bb: Tensor) =>
      sum(mul(bb, linearSolve(LinearOperator.fromMatrix(A), bb, { solver: "gmres", ...tight }).value as Tensor)),
    )(b) as Tensor;
    const Ai = linalg.inv(A);
    assertClose(H, add(Ai, matrixTranspose(Ai)), { rtol: 1e-9, atol: 1e-12 });
  });
});

describe("linearSolve: onInfo and phases", () => {
  test("reports the primal, tangent and cotangent solves", () => {
    const A = nonsymmetric(41, 4);
    const b = randn(rng(42), [4]);
    const seen: linalg.SolveInfo[] = [];
    const f = (a: Tensor) =>
      linearSolve(LinearOperator.fromMatrix(a), b, { solver: "gmres", onInfo: (i) => seen.push(i) }).value as Tensor;
    f(A);
    assert.deepEqual(
      seen.map((i) => i.phase),
      ["solve"],
    );
    seen.length = 0;
    jvp(f, [A], [randn(rng(43), [4, 4])]);
    assert.deepEqual(
      seen.map((i) => i.phase),
      ["solve", "tangent"],
    );
    seen.length = 0;
    const [, pull] = vjp(f, A);
    pull(randn(rng(44), [4]));
    assert.deepEqual(
      seen.map((i) => i.phase),
      ["solve", "cotangent"],
    );
    assert.ok(seen.every((i) => i.solver === "gmres" && i.converged && i.iterations > 0));
  });
  test("dense rules reuse one factorisation across the primal and its derivative solves", () => {
    const A = spd(45, 6);
    const b = randn(rng(46), [6]);
    const seen: linalg.SolveInfo[] = [];
    const phi = (a: Tensor) =>
      sum(
        linearSolve(LinearOperator.fromMatrix(a, { symmetric: true, positiveDefinite: true }), b, {
          onInfo: (i) => seen.push(i),
        }).value as Tensor,
      );
    hessian(phi)(A);
    assert.ok(seen.length > 2);
    assert.ok(seen.every((i) => i.solver === "cholesky"));
    assert.ok(seen.some((i) => i.phase === "tangent") && seen.some((i) => i.phase === "cotangent"));
  });
});

describe("linearSolve: least squares and pseudo-inverse semantics", () => {
  test("singular consistent system: the minimum-norm solution (dense and matrix-free)", () => {
    // rank 2 in R⁴: A = U Vᵀ
    const U = randn(rng(51), [4, 2]);
    const V = randn(rng(52), [4, 2]);
    const A = matmul(U, matrixTranspose(V));
    const b = matmul(A, randn(rng(53), [4])); // in the range of A
    const ref = matmul(linalg.pinv(A), b);
    for (const solver of ["auto", "lsqr", "normalCg"] as Solver[]) {
      const { value, info } = linearSolve(LinearOperator.fromMatrix(A), b, { wellPosed: false, solver });
      assertClose(value as Tensor, ref, { rtol: 1e-7, atol: 1e-9 }, solver);
      assert.ok(info.converged);
    }
    assert.throws(() => linearSolve(LinearOperator.fromMatrix(A), b, { solver: "lu" }), LinearSolveError);
  });
  test("inconsistent overdetermined system: the least-squares solution", () => {
    const A = randn(rng(54), [8, 3]);
    const b = randn(rng(55), [8]);
    const ref = linalg.lstsq(A, b);
    for (const solver of ["auto", "lsqr", "normalCg"] as Solver[]) {
      const x = linearSolve(LinearOperator.fromMatrix(A), b, { solver, ...tight }).value as Tensor;
      assertClose(x, ref, { rtol: 1e-8, atol: 1e-10 }, solver);
    }
  });
  test("derivatives of least squares (full column rank) match finite differences and the dense lstsq", () => {
    const A = randn(rng(56), [6, 3]);
    const b = randn(rng(57), [6]);
    for (const solver of ["lstsq", "lsqr"] as Solver[]) {
      const f = (a: Tensor, bb: Tensor) =>
        linearSolve(LinearOperator.fromMatrix(a), bb, { solver, ...tight }).value as Tensor;
      checkDerivatives(f, [A, b], {}, solver);
    }
    const g = (a: Tensor) =>
      sum(mul(linearSolve(LinearOperator.fromMatrix(a), b, tight).value as Tensor, tensor([1, -2, 0.5])));
    const gRef = (a: Tensor) => sum(mul(linalg.lstsq(a, b), tensor([1, -2, 0.5])));
    assertClose(grad(g)(A) as Tensor, grad(gRef)(A) as Tensor, { rtol: 1e-8, atol: 1e-10 });
  });
  test("second derivatives of a matrix-free least-squares solve (derived transpose) match finite differences", () => {
    const A = randn(rng(61), [6, 3]);
    const b = randn(rng(62), [6]);
    const theta0 = randn(rng(63), [6, 3]);
    for (const solver of ["lstsq", "lsqr"] as Solver[]) {
      // A(θ) = A ⊙ (1 + sin θ), a rectangular operator given only by its matvec
      const phi = (theta: Tensor) => {
        const op = LinearOperator.fromFunction(
          (p: Tensor, v: Tensor) => matmul(mul(A, add(1, sin(p))), v),
          theta,
          tensor([0, 0, 0]),
          { outExample: tensor([0, 0, 0, 0, 0, 0]) },
        );
        const x = linearSolve(op, b, { solver, ...tight }).value as Tensor;
        return sum(mul(x, x));
      };
      const H = hessian(phi)(theta0) as Tensor;
      const fd = numericJacobian((t: Tensor) => grad(phi)(t) as Tensor, [theta0], 0, 1e-5);
      assertClose(H.data, fd, { rtol: 1e-5, atol: 1e-6 }, solver);
    }
  });
  test("derivatives along a rank-preserving family of singular matrices (null-space term)", () => {
    // A(θ) = U(θ) Vᵀ keeps rank 2; x = A⁺b is differentiable along θ
    const U0 = randn(rng(58), [4, 2]);
    const V = randn(rng(59), [4, 2]);
    const b = randn(rng(60), [4]);
    for (const solver of ["lstsq", "lsqr"] as Solver[]) {
      const f = (u: Tensor, bb: Tensor) =>
        linearSolve(LinearOperator.fromMatrix(matmul(u, matrixTranspose(V))), bb, {
          solver,
          wellPosed: false,
          ...tight,
        }).value as Tensor;
      checkDerivatives(f, [U0, b], { rtol: 1e-5, atol: 1e-6 }, solver);
    }
  });
});

describe("linearSolve: failures", () => {
  test("non-convergence throws LinearSolveError with residual and iterations, or reports it", () => {
    const A = nonsymmetric(61, 40);
    const b = randn(rng(62), [40]);
    const op = LinearOperator.fromMatrix(A);
    let caught: unknown;
    try {
      linearSolve(op, b, { solver: "gmres", maxIter: 3 });
    } catch (e) {
      caught = e;
    }
    assert.ok(caught instanceof LinearSolveError);
    assert.equal(caught.iterations, 3);
    assert.ok(caught.residualNorm > 1e-10 && Number.isFinite(caught.residualNorm));
    const { info } = linearSolve(op, b, { solver: "gmres", maxIter: 3, throwOnFailure: false });
    assert.equal(info.converged, false);
    assert.equal(info.iterations, 3);
    assertClose(info.residualNorm, caught.residualNorm, { rtol: 1e-12 });
  });
  test("singular dense matrices raise; not positive definite raises for Cholesky", () => {
    const sing = LinearOperator.fromMatrix(
      tensor([
        [1, 2],
        [2, 4],
      ]),
      { symmetric: true },
    );
    assert.throws(() => linearSolve(sing, tensor([1, 1])), LinearSolveError);
    const r = linearSolve(sing, tensor([1, 1]), { throwOnFailure: false });
    assert.equal(r.info.converged, false);
    const indefinite = LinearOperator.fromMatrix(
      tensor([
        [1, 2],
        [2, 1],
      ]),
      { symmetric: true, positiveDefinite: true },
    );
    assert.throws(() => linearSolve(indefinite, tensor([1, 1])), /not positive definite/);
    assert.throws(() => linearSolve(indefinite, tensor([1, 0]), { solver: "cg" }), /not positive definite/);
  });
  test("non-finite b raises NonFiniteError; a mismatched b a tree error", () => {
    const op = LinearOperator.fromMatrix(eye(2));
    assert.throws(() => linearSolve(op, tensor([1, NaN])), NonFiniteError);
    assert.throws(() => linearSolve(op, tensor([1, 2, 3])), /b vs the operator's output space/);
  });
  test("an operator closing over a differentiated tensor is rejected, not silently given a zero derivative", () => {
    const b = tensor([1, 2]);
    const f = (theta: Tensor) => {
      const op = LinearOperator.fromFunction((_p: null, v: Tensor) => add(mul(theta, v), v), null, tensor([0, 0]));
      return sum(linearSolve(op, b, { solver: "cg" }).value as Tensor);
    };
    assert.throws(() => grad(f)(tensor(2)), DifferentiationError);
    assert.throws(() => grad(f)(tensor(2)), /pass that tensor through the operator's params|params/);
    assert.throws(() => jvp(f, [tensor(2)], [tensor(1)]), DifferentiationError);
    // passing it through params works, and matches d/dθ Σ b/(θ+1) = −Σb/(θ+1)²
    const g = (theta: Tensor) => {
      const op = LinearOperator.fromFunction((p: Tensor, v: Tensor) => add(mul(p, v), v), theta, tensor([0, 0]));
      return sum(linearSolve(op, b, { solver: "lu" }).value as Tensor);
    };
    assertClose(grad(g)(tensor(2)) as Tensor, -3 / 9, { rtol: 1e-10 });
  });
});

describe("linearSolve: warm start", () => {
  test("x0 is used by the primal solve only and does not change derivatives", () => {
    const A = spd(71, 50);
    const b = randn(rng(72), [50]);
    const op = LinearOperator.fromMatrix(A, { symmetric: true, positiveDefinite: true });
    const cold = linearSolve(op, b, { solver: "cg" });
    const near = add(cold.value as Tensor, mul(randn(rng(73), [50]), 1e-6));
    const warm = linearSolve(op, b, { solver: "cg", x0: near });
    assert.ok(warm.info.iterations < cold.info.iterations, `${warm.info.iterations} vs ${cold.info.iterations}`);
    const gradOf = (x0?: Tree) =>
      grad((bb: Tensor) => sum(linearSolve(op, bb, { solver: "cg", ...tight, ...(x0 ? { x0 } : {}) }).value as Tensor))(
        b,
      ) as Tensor;
    assertClose(gradOf(near), gradOf(), { rtol: 1e-9 });
  });
});
