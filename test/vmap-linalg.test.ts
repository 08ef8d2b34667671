/**
 * Dense and iterative linear algebra under `vmap` (issue 11): every linalg function with the matrix batched, the
 * right-hand side batched, or both, against a JavaScript loop of the unbatched call; derivatives of vmapped calls
 * against the loop; one factorisation for a batch of right-hand sides.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  BatchingError,
  tensor,
  Tensor,
  add,
  eye,
  grad,
  linalg,
  matmul,
  matrixTranspose,
  moveAxis,
  mul,
  square,
  stack,
  sum,
  take,
  vmap,
  type Tree,
} from "../src/index.js";
import { flatten, unflatten } from "../src/core/tree.js";
import { factorizationCount } from "../src/linalg/dense/factored.js";
import { assertClose, randn, rng } from "./helpers.js";

type Axis = number | null;
type Fn = (...xs: Tensor[]) => Tree;

function element(x: Tensor, axis: Axis, b: number): Tensor {
  return axis === null ? x : take(moveAxis(x, axis, 0), b, 0);
}

/** f over the batch by a loop: per-element outputs (pytrees) stacked leaf by leaf along axis 0. */
function loop(f: Fn, args: Tensor[], inAxes: Axis[]): Tree {
  const i = inAxes.findIndex((a) => a !== null);
  const size = args[i]!.shape[inAxes[i]!]!;
  const outs = Array.from({ length: size }, (_, b) => flatten(f(...args.map((x, k) => element(x, inAxes[k]!, b)))));
  return unflatten(
    outs[0]![1],
    outs[0]![0].map((_, k) => stack(outs.map((o) => o[0][k]!))),
  );
}

function assertTreeClose(a: Tree, b: Tree, rtol: number, what: string): void {
  const [la] = flatten(a);
  const [lb] = flatten(b);
  assert.equal(la.length, lb.length, `${what}: number of outputs`);
  la.forEach((l, k) => assertClose(l, lb[k]!, { rtol, atol: rtol }, `${what} (output ${k})`));
}

/** Sum of squares of every output leaf: a scalar loss of a pytree. */
function loss(t: Tree): Tensor {
  return flatten(t)[0].reduce((s: Tensor, l) => add(s, sum(square(l))), sum(eye(1)) as Tensor);
}

/** vmap(f) against the loop, values and grad(vmap(f)) in each batched argument. */
function checkBatched(f: Fn, args: Tensor[], inAxes: Axis[], what: string, rtol = 1e-10): void {
  assertTreeClose(vmap(f, { inAxes })(...args) as Tree, loop(f, args, inAxes), rtol, `${what}: value`);
  args.forEach((_, i) => {
    if (inAxes[i] === null) return;
    const g1 = grad((...xs: Tensor[]) => loss(vmap(f, { inAxes })(...xs) as Tree), { argnums: i })(...args) as Tensor;
    const g2 = grad((...xs: Tensor[]) => loss(loop(f, xs, inAxes)), { argnums: i })(...args) as Tensor;
    assertClose(g1, g2, { rtol: 1e-8, atol: 1e-10 }, `${what}: grad(vmap) in argument ${i}`);
  });
}

const r = rng(1111);
/** A batch of well-conditioned matrices (diagonally dominant), batch axis first. */
function matrices(b: number, n: number, m = n): Tensor {
  return add(randn(r, [b, n, m]), mul(eye(n, m), 4));
}
/** Symmetric positive definite matrices. */
function spd(b: number, n: number): Tensor {
  const x = randn(r, [b, n, n]);
  return add(matmul(x, matrixTranspose(x)), mul(eye(n), n));
}

describe("vmap: dense solves and factorisations", () => {
  const As = matrices(4, 3);
  const A = take(As, 0, 0);
  const bs = randn(r, [4, 3]);
  const Bs = randn(r, [3, 4, 2]);
  test("solve: the matrix, the right-hand side or both batched", () => {
    const solve = (a: Tensor, b: Tensor) => linalg.solve(a, b);
    checkBatched(solve, [As, bs], [0, 0], "solve both");
    checkBatched(solve, [A, bs], [null, 0], "solve b batched");
    checkBatched(solve, [A, Bs], [null, 1], "solve matrix b batched on axis 1");
    checkBatched(solve, [moveAxis(As, 0, 2), take(bs, 0, 0)], [2, null], "solve A batched on its last axis");
    const P = spd(4, 3);
    checkBatched((a, b) => linalg.solve(a, b, { assumeA: "pos" }), [P, bs], [0, 0], "solve pos");
  });

  test("a batch of right-hand sides is one factorisation and per-example gradients reuse it", () => {
    const before = factorizationCount();
    const x = vmap((b: Tensor) => linalg.solve(A, b), { inAxes: 0 })(randn(r, [50, 3])) as Tensor;
    assert.equal(factorizationCount() - before, 1);
    assert.deepEqual([...x.shape], [50, 3]);
    const perExample = vmap(grad((b: Tensor) => sum(square(linalg.solve(A, b)))))(bs) as Tensor;
    const looped = loop(grad((b: Tensor) => sum(square(linalg.solve(A, b)))) as Fn, [bs], [0]) as Tensor;
    assertClose(perExample, looped, { rtol: 1e-10 }, "vmap(grad) in b");
  });

  test("per-example gradients in a batched matrix (vmap of grad) for solve, inv, triangularSolve, eigh", () => {
    const b = take(bs, 0, 0);
    const P = spd(4, 3);
    const fs: [string, (a: Tensor) => Tensor, Tensor][] = [
      ["solve", (a) => sum(square(linalg.solve(a, b))), As],
      ["solve pos", (a) => sum(square(linalg.solve(a, b, { assumeA: "pos" }))), P],
      ["inv", (a) => sum(square(linalg.inv(a))), As],
      ["triangularSolve", (a) => sum(square(linalg.triangularSolve(a, b, { lower: true }))), As],
      ["eigh", (a) => sum(square(linalg.eigh(a).eigenvalues)), P],
    ];
    for (const [what, f, xs] of fs) {
      assertClose(vmap(grad(f))(xs) as Tensor, loop(grad(f) as Fn, [xs], [0]) as Tensor, { rtol: 1e-9 }, what);
    }
  });

  test("inv, det, slogdet, lu, cholesky", () => {
    checkBatched((a) => linalg.inv(a), [As], [0], "inv");
    checkBatched((a) => linalg.det(a), [moveAxis(As, 0, 1)], [1], "det (batch on axis 1)");
    checkBatched((a) => linalg.slogdet(a), [As], [0], "slogdet");
    const P = spd(3, 4);
    checkBatched((a) => linalg.cholesky(a).L, [P], [0], "cholesky L");
    checkBatched((a, b) => linalg.cholesky(a).solve(b), [P, randn(r, [3, 4])], [0, 0], "cholesky solve");
    checkBatched((a) => linalg.cholesky(a).logdet(), [P], [0], "cholesky logdet");
    checkBatched((b) => linalg.lu(A).solve(b), [bs], [0], "lu(A).solve, b batched");
    checkBatched((a) => linalg.lu(a).det(), [As], [0], "lu(A).det, A batched");
    assert.throws(() => vmap((a: Tensor) => linalg.lu(a).factors.lu)(As), BatchingError);
  });

  test("triangularSolve with the matrix shared or batched", () => {
    const T = linalg.cholesky(spd(1, 3).reshape([3, 3])).L;
    const Ts = vmap((a: Tensor) => linalg.cholesky(a).L)(spd(4, 3)) as Tensor;
    const f = (t: Tensor, b: Tensor) => linalg.triangularSolve(t, b, { lower: true });
    checkBatched(f, [T, bs], [null, 0], "triangularSolve b batched");
    checkBatched(f, [Ts, bs], [0, 0], "triangularSolve both");
    const g = (t: Tensor, b: Tensor) => linalg.triangularSolve(t, b, { lower: true, transpose: true });
    checkBatched(g, [Ts, randn(r, [3, 2])], [0, null], "triangularSolve T batched, transposed");
  });

  test("qr, svd, svdvals, eigh, lstsq, pinv", () => {
    const tall = matrices(3, 4, 2);
    checkBatched((a) => linalg.qr(a), [tall], [0], "qr");
    checkBatched((a) => linalg.svdvals(a), [tall], [0], "svdvals");
    // singular vectors are defined up to sign: compare the sign-free product U·diag(s)·Vᵀ and s
    checkBatched(
      (a) => {
        const { u, s, vt } = linalg.svd(a);
        return [s, matmul(mul(u, s), vt)];
      },
      [tall],
      [0],
      "svd",
    );
    checkBatched((a) => linalg.eigh(a).eigenvalues, [spd(3, 3)], [0], "eigh");
    checkBatched((a, b) => linalg.lstsq(a, b), [tall, randn(r, [3, 4])], [0, 0], "lstsq both");
    checkBatched((a, b) => linalg.lstsq(a, b), [take(tall, 0, 0), randn(r, [3, 4])], [null, 0], "lstsq b batched");
    checkBatched((a) => linalg.pinv(a), [tall], [0], "pinv");
  });
});

describe("vmap: linear operators, linearSolve and Krylov solvers", () => {
  const P = spd(4, 3);
  const A = take(P, 0, 0);
  const bs = randn(r, [4, 3]);
  test("matvec of a batched operator or vector", () => {
    const mv = (a: Tensor, v: Tensor) => linalg.LinearOperator.fromMatrix(a).matvec(v);
    checkBatched(mv, [P, bs], [0, 0], "matvec both");
    checkBatched(mv, [A, bs], [null, 0], "matvec v batched");
    checkBatched(
      (a, v) => linalg.LinearOperator.fromMatrix(a).rmatvec(v),
      [P, take(bs, 0, 0)],
      [0, null],
      "rmatvec A batched",
    );
  });

  test("linearSolve: dense and iterative, operator shared or batched", () => {
    const tags = { symmetric: true, positiveDefinite: true };
    for (const solver of ["cholesky", "lu", "cg", "minres", "gmres"] as const) {
      const f = (a: Tensor, b: Tensor) =>
        linalg.linearSolve(linalg.LinearOperator.fromMatrix(a, tags), b, { solver, rtol: 1e-12 }).value;
      checkBatched(f, [A, bs], [null, 0], `linearSolve ${solver}, b batched`, 1e-8);
      checkBatched(f, [P, bs], [0, 0], `linearSolve ${solver}, both batched`, 1e-8);
    }
    const { info } = vmap((b: Tensor) => {
      const res = linalg.linearSolve(linalg.LinearOperator.fromMatrix(A, tags), b, { solver: "cg" });
      assert.equal(res.info.converged, true);
      assert.ok(res.info.iterations > 0 && res.info.iterations <= 3 * 3);
      return { info: res.info.iterations };
    })(bs) as { info: Tensor };
    assert.deepEqual([...info.shape], [4]);
  });

  test("combinators, iterative refinement and the Jacobi preconditioner with batched parameters", () => {
    const tags = { symmetric: true, positiveDefinite: true };
    const rhos = tensor([0.5, 1, 2, 4]);
    checkBatched((s, b) => linalg.scale(linalg.LinearOperator.fromMatrix(A), s).matvec(b), [rhos, bs], [0, 0], "scale");
    // tags derived from a batched value hold for every element (here ρ > 0 throughout: positive definite)
    const ridged = (s: Tensor) => linalg.ridge(linalg.LinearOperator.fromMatrix(A, tags), s);
    vmap((s: Tensor) => {
      assert.equal(ridged(s).tags.positiveDefinite, true);
      return s;
    })(rhos);
    checkBatched((s, b) => linalg.linearSolve(ridged(s), b).value, [rhos, bs], [0, 0], "linearSolve of a ridge");
    checkBatched((d, b) => linalg.diagonal(d).matvec(b), [add(bs, 3), bs], [0, 0], "diagonal operator");
    const refine = (a: Tensor, b: Tensor) =>
      linalg.iterativeRefinement(linalg.LinearOperator.fromMatrix(a, tags), b, {
        ridge: 1,
        inner: { solver: "cholesky" },
      }).value;
    checkBatched(refine, [P, bs], [0, 0], "iterativeRefinement", 1e-8);
    const jacobiCg = (a: Tensor, b: Tensor) => {
      const op = linalg.LinearOperator.fromMatrix(a, tags);
      return linalg.cg(op, b, { preconditioner: linalg.jacobiPreconditioner(op), rtol: 1e-12 }).value;
    };
    const xs = vmap(jacobiCg)(P, bs) as Tensor;
    assertClose(
      xs,
      loop(jacobiCg, [P, bs], [0, 0]) as Tensor,
      { rtol: 1e-9 },
      "cg with a batched Jacobi preconditioner",
    );
  });

  test("cg, minres, gmres on a batch of right-hand sides, with a summed-up info", () => {
    const op = linalg.LinearOperator.fromMatrix(A, { symmetric: true, positiveDefinite: true });
    for (const solve of [linalg.cg, linalg.minres, linalg.gmres]) {
      let iterations = -1;
      const xs = vmap((b: Tensor) => {
        const res = solve(op, b, { rtol: 1e-12 });
        assert.equal(res.info.converged, true);
        iterations = res.info.iterations;
        return res.value;
      })(bs) as Tensor;
      assert.ok(iterations > 0);
      assertClose(xs, loop((b) => solve(op, b, { rtol: 1e-12 }).value, [bs], [0]) as Tensor, { rtol: 1e-8 });
    }
  });
});
