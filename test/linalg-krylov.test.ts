import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  Tensor,
  tensor,
  add,
  mul,
  eye,
  matmul,
  matrixTranspose,
  grad,
  sum,
  linalg,
  DifferentiationError,
  NonFiniteError,
  TreeMismatchError,
  ValueError,
} from "../src/index.js";
import { assertClose, randn, rng } from "./helpers.js";

const { LinearOperator, LinearSolveError } = linalg;

function spd(seed: number, n: number): Tensor {
  const M = randn(rng(seed), [n, n]);
  return add(mul(matmul(M, matrixTranspose(M)), 1 / n), eye(n));
}

function symmetricIndefinite(seed: number, n: number): Tensor {
  const M = randn(rng(seed), [n, n]);
  const d = new Float64Array(n * n);
  for (let i = 0; i < n; i++) d[i * n + i] = (i % 2 === 0 ? 1 : -1) * 3;
  return add(mul(add(M, matrixTranspose(M)), 0.5 / Math.sqrt(n)), tensor(d, [n, n]));
}

function nonsymmetric(seed: number, n: number): Tensor {
  return add(mul(randn(rng(seed), [n, n]), 1 / Math.sqrt(n)), mul(eye(n), 3));
}

/** ‖b − A x‖ / ‖b‖ by a dense product. */
function relativeResidual(A: Tensor, x: Tensor, b: Tensor): number {
  const r = add(b, mul(matmul(A, x), -1));
  return Math.sqrt(sum(mul(r, r)).item()) / Math.sqrt(sum(mul(b, b)).item());
}

type Solve = (op: linalg.LinearOperator<any>, b: Tensor, opts?: linalg.KrylovOptions) => linalg.KrylovResult;
const solvers: Record<string, Solve> = {
  cg: linalg.cg,
  minres: linalg.minres,
  gmres: linalg.gmres,
  bicgstab: linalg.bicgstab,
  normalCg: linalg.normalCg,
  lsqr: linalg.lsqr,
};

describe("Krylov solvers against the dense solve", () => {
  const classes: [string, (seed: number, n: number) => Tensor, string[]][] = [
    ["SPD", spd, ["cg", "minres", "gmres", "bicgstab", "lsqr"]],
    ["symmetric indefinite", symmetricIndefinite, ["minres", "gmres", "bicgstab"]],
    ["nonsymmetric", nonsymmetric, ["gmres", "bicgstab", "normalCg", "lsqr"]],
  ];
  for (const [cls, make, names] of classes) {
    for (const n of [5, 60, 500]) {
      test(`${cls}, n = ${n}`, () => {
        const A = make(100 + n, n);
        const b = randn(rng(200 + n), [n]);
        const ref = linalg.solve(A, b);
        const op = LinearOperator.fromMatrix(A);
        for (const name of names) {
          const { value, info } = solvers[name]!(op, b, { rtol: 1e-11 });
          assert.ok(info.converged, name);
          assert.ok(info.iterations > 0 && info.iterations <= 10 * n, `${name}: ${info.iterations} iterations`);
          const x = value as Tensor;
          const rel = relativeResidual(A, x, b);
          if (name === "normalCg" || name === "lsqr") {
            // their test is on Aᵀr; the plain residual follows through the condition number of A
            assert.ok(rel < 1e-8, `${name}: relative residual ${rel}`);
          } else {
            assert.ok(rel <= 1e-11 * 1.0001, `${name}: relative residual ${rel}`);
            assertClose(info.residualNorm / Math.sqrt(sum(mul(b, b)).item()), rel, { rtol: 1e-3, atol: 1e-15 }, name);
          }
          assertClose(x, ref, { rtol: 1e-7, atol: 1e-9 }, `${name} vs dense`);
        }
      });
    }
  }
  test("GMRES with a short restart still converges, in more iterations", () => {
    const A = nonsymmetric(7, 80);
    const b = randn(rng(8), [80]);
    const op = LinearOperator.fromMatrix(A);
    const full = linalg.gmres(op, b, { restart: 80 });
    const short = linalg.gmres(op, b, { restart: 5 });
    assert.ok(short.info.converged && full.info.converged);
    assert.ok(short.info.iterations > full.info.iterations, `${short.info.iterations} vs ${full.info.iterations}`);
    assertClose(short.value as Tensor, full.value as Tensor, { rtol: 1e-8, atol: 1e-10 });
  });
  test("least squares on rectangular systems and the minimum-norm solution", () => {
    const A = randn(rng(9), [20, 6]);
    const b = randn(rng(10), [20]);
    const ref = linalg.lstsq(A, b);
    for (const solve of [linalg.lsqr, linalg.normalCg]) {
      const { value, info } = solve(LinearOperator.fromMatrix(A), b, { rtol: 1e-12 });
      assert.ok(info.converged);
      assertClose(value as Tensor, ref, { rtol: 1e-8, atol: 1e-10 });
    }
    // underdetermined: the solution of smallest norm
    const W = randn(rng(11), [3, 7]);
    const c = randn(rng(12), [3]);
    const xmin = matmul(linalg.pinv(W), c);
    for (const solve of [linalg.lsqr, linalg.normalCg]) {
      assertClose(solve(LinearOperator.fromMatrix(W), c, { rtol: 1e-12 }).value as Tensor, xmin, {
        rtol: 1e-8,
        atol: 1e-10,
      });
    }
  });
  test("neumann: the series value, and divergence raises", () => {
    const A = add(eye(3), mul(randn(rng(13), [3, 3]), 0.05));
    const b = randn(rng(14), [3]);
    const op = LinearOperator.fromMatrix(A);
    // k = 2: x = b + (I − A) b
    const two = linalg.neumann(op, b, { k: 2 }).value as Tensor;
    assertClose(two, add(mul(b, 2), mul(matmul(A, b), -1)), { rtol: 1e-14 });
    const many = linalg.neumann(op, b, { k: 80 });
    assert.ok(many.info.converged);
    assertClose(many.value as Tensor, linalg.solve(A, b), { rtol: 1e-9, atol: 1e-12 });
    // alpha rescales: A = 4I needs alpha near 1/4
    const big = LinearOperator.fromMatrix(mul(eye(3), 4));
    assert.throws(() => linalg.neumann(big, b, { k: 5 }), /diverged/);
    assertClose(linalg.neumann(big, b, { k: 3, alpha: 0.25 }).value as Tensor, mul(b, 0.25), { rtol: 1e-14 });
    assert.throws(() => linalg.neumann(op, b, { k: 0 }), ValueError);
  });
});

describe("preconditioning and warm starts", () => {
  test("Jacobi preconditioning cuts CG iterations on an ill-conditioned, diagonal-heavy system", () => {
    const n = 300;
    const r = rng(21);
    // diagonal spread over 1..1e4, plus a weak symmetric coupling
    const data = new Float64Array(n * n);
    for (let i = 0; i < n; i++) data[i * n + i] = Math.pow(10, (4 * i) / (n - 1));
    for (let i = 0; i + 1 < n; i++) {
      const c = 0.2 * r.uniform(-1, 1);
      data[i * n + i + 1] = c;
      data[(i + 1) * n + i] = c;
    }
    const A = tensor(data, [n, n]);
    const op = LinearOperator.fromMatrix(A, { symmetric: true, positiveDefinite: true });
    const b = randn(r, [n]);
    const plain = linalg.cg(op, b, { rtol: 1e-10 });
    const M = linalg.jacobiPreconditioner(op);
    const pre = linalg.cg(op, b, { rtol: 1e-10, preconditioner: M });
    assert.ok(plain.info.converged && pre.info.converged);
    assert.ok(pre.info.iterations * 3 < plain.info.iterations, `${pre.info.iterations} vs ${plain.info.iterations}`);
    assertClose(pre.value as Tensor, plain.value as Tensor, { rtol: 1e-7, atol: 1e-12 });
    // the other preconditioned solvers, and a function preconditioner
    const inv = (M.matvec as (v: Tensor) => Tensor).bind(M);
    for (const solve of [linalg.minres, linalg.gmres, linalg.bicgstab]) {
      const without = solve(op, b, { rtol: 1e-10 });
      const withM = solve(op, b, { rtol: 1e-10, preconditioner: (v) => inv(v as Tensor) });
      assert.ok(withM.info.converged);
      assert.ok(
        withM.info.iterations < without.info.iterations,
        `${withM.info.iterations} vs ${without.info.iterations}`,
      );
      assertClose(withM.value as Tensor, plain.value as Tensor, { rtol: 1e-6, atol: 1e-12 });
    }
    // the diagonal can be given directly
    const fromDiag = linalg.jacobiPreconditioner(tensor(data.filter((_, k) => k % (n + 1) === 0)));
    assertClose(fromDiag.materialize(), M.materialize(), { rtol: 1e-15 });
    assert.throws(() => linalg.jacobiPreconditioner(tensor([1, 0])), ValueError);
  });
  test("a warm start near the solution cuts iterations", () => {
    const A = spd(31, 200);
    const b = randn(rng(32), [200]);
    const op = LinearOperator.fromMatrix(A);
    for (const [name, solve] of Object.entries(solvers)) {
      const cold = solve(op, b, { rtol: 1e-10 });
      const x0 = add(cold.value as Tensor, mul(randn(rng(33), [200]), 1e-5));
      const warm = solve(op, b, { rtol: 1e-10, x0 });
      assert.ok(warm.info.converged);
      assert.ok(
        warm.info.iterations < cold.info.iterations,
        `${name}: ${warm.info.iterations} vs ${cold.info.iterations}`,
      );
    }
  });
});

describe("operators on pytrees", () => {
  test("a solve on {a: [3], b: [2, 2]} matches the flattened dense solve", () => {
    const n = 7;
    const A = spd(41, n);
    // pytree layout: a = first 3 entries, b = the next 4 as a 2×2 block
    const pack = (v: { a: Tensor; b: Tensor }): Tensor => tensor([...v.a.data, ...v.b.data]);
    const unpack = (x: Tensor) => ({ a: tensor(x.data.slice(0, 3)), b: tensor(x.data.slice(3), [2, 2]) });
    const op = LinearOperator.fromFunction(
      (M: Tensor, v: { a: Tensor; b: Tensor }) => {
        const y = matmul(M, tensor([...v.a.data, ...v.b.data]));
        return { a: tensor(y.data.slice(0, 3)), b: tensor(y.data.slice(3), [2, 2]) };
      },
      A,
      {
        a: tensor([0, 0, 0]),
        b: tensor([
          [0, 0],
          [0, 0],
        ]),
      },
      {
        rmatvec: (M: Tensor, u: { a: Tensor; b: Tensor }) => unpack(matmul(pack(u), M)),
        tags: { symmetric: true, positiveDefinite: true },
      },
    );
    const rhs = {
      a: tensor([1, -2, 3]),
      b: tensor([
        [0.5, 1],
        [-1, 2],
      ]),
    };
    const ref = linalg.solve(A, pack(rhs));
    for (const [name, solve] of Object.entries(solvers)) {
      const { value, info } = solve(op, rhs as never, { rtol: 1e-12 });
      assert.ok(info.converged, name);
      const x = value as { a: Tensor; b: Tensor };
      assert.deepEqual([...x.b.shape], [2, 2]);
      assertClose(pack(x), ref, { rtol: 1e-9, atol: 1e-11 }, name);
    }
  });
});

describe("failures and validation", () => {
  test("non-convergence: LinearSolveError with residual and iterations, or converged: false", () => {
    const A = nonsymmetric(51, 50);
    const b = randn(rng(52), [50]);
    const op = LinearOperator.fromMatrix(A);
    for (const [name, solve] of Object.entries(solvers)) {
      if (name === "cg" || name === "minres") continue;
      assert.throws(
        () => solve(op, b, { maxIter: 2 }),
        (e: unknown) =>
          e instanceof LinearSolveError &&
          e.iterations === 2 &&
          e.residualNorm > 0 &&
          /did not converge/.test(e.message),
        name,
      );
      const { info } = solve(op, b, { maxIter: 2, throwOnFailure: false });
      assert.equal(info.converged, false, name);
      assert.equal(info.iterations, 2, name);
    }
  });
  test("CG stops on an indefinite operator with a clear error", () => {
    const op = LinearOperator.fromMatrix(symmetricIndefinite(53, 20), { symmetric: true });
    assert.throws(() => linalg.cg(op, randn(rng(54), [20])), /not positive definite/);
  });
  test("MINRES on a singular symmetric system does not claim convergence on an inconsistent right-hand side", () => {
    const A = tensor([
      [1, 0, 0],
      [0, 2, 0],
      [0, 0, 0],
    ]);
    const op = LinearOperator.fromMatrix(A, { symmetric: true });
    const consistent = linalg.minres(op, tensor([1, 2, 0]));
    assertClose(consistent.value as Tensor, [1, 1, 0], { rtol: 1e-12, atol: 1e-14 });
    const { info } = linalg.minres(op, tensor([1, 2, 1]), { throwOnFailure: false, maxIter: 20 });
    assert.equal(info.converged, false);
    // no x can remove the null-space component (norm 1) of b
    assert.ok(info.residualNorm >= 1 - 1e-9 && Number.isFinite(info.residualNorm), `${info.residualNorm}`);
  });
  test("bad inputs: non-finite b or x0, wrong layouts, bad options, traced inputs", () => {
    const op = LinearOperator.fromMatrix(spd(55, 3));
    assert.throws(() => linalg.cg(op, tensor([1, Infinity, 0])), NonFiniteError);
    assert.throws(() => linalg.cg(op, tensor([1, 1, 0]), { x0: tensor([NaN, 0, 0]) }), NonFiniteError);
    assert.throws(() => linalg.cg(op, tensor([1, 1])), TreeMismatchError);
    assert.throws(() => linalg.cg(op, tensor([1, 1, 1]), { rtol: -1 }), ValueError);
    assert.throws(() => linalg.gmres(op, tensor([1, 1, 1]), { restart: 0 }), ValueError);
    assert.throws(
      () => linalg.cg(LinearOperator.fromMatrix(randn(rng(56), [3, 2])), tensor([1, 1, 1])),
      /square operator/,
    );
    // the plain solvers do not differentiate: they say so and point to linearSolve
    assert.throws(
      () => grad((b: Tensor) => sum(linalg.cg(op, b).value as Tensor))(tensor([1, 1, 1])),
      DifferentiationError,
    );
    assert.throws(() => grad((b: Tensor) => sum(linalg.cg(op, b).value as Tensor))(tensor([1, 1, 1])), /linearSolve/);
  });
  test("b = 0 gives x = 0 without iterating", () => {
    const { value, info } = linalg.gmres(LinearOperator.fromMatrix(nonsymmetric(57, 4)), tensor([0, 0, 0, 0]));
    assert.deepEqual(Array.from((value as Tensor).data), [0, 0, 0, 0]);
    assert.equal(info.iterations, 0);
    assert.ok(info.converged);
  });
});

describe("a matrix given where an operator is expected", () => {
  const A = tensor([
    [2, 1],
    [1, 3],
  ]);
  const b = tensor([1, 2]);
  const cases: [string, () => unknown][] = [
    ["cg", () => linalg.cg(A as never, b)],
    ["gmres", () => linalg.gmres(A as never, b)],
    ["linearSolve", () => linalg.linearSolve(A as never, b)],
  ];
  for (const [name, call] of cases) {
    test(`${name} names the shape and says how to wrap it`, () => {
      assert.throws(call, (e: unknown) => {
        assert.ok(e instanceof ValueError);
        assert.match(e.message, /op must be a LinearOperator, got a Tensor of shape \[2, 2\]/);
        assert.match(e.message, /LinearOperator\.fromMatrix/);
        return true;
      });
    });
  }
  test("the wrapped matrix solves", () => {
    const x = linalg.cg(linalg.LinearOperator.fromMatrix(A), b, { rtol: 1e-12 }).value;
    assertClose(x.toArray() as number[], [0.2, 0.6], { rtol: 1e-10 });
  });
});
