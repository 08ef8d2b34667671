/**
 * The QP layers' backward pass reuses the solver's KKT factorisation (`backwardFactor`): the reused
 * factorisation gives the derivatives of the rebuilt backward matrix (to 1e-10), in both modes, the finite
 * differences of re-solved problems, and the rebuilt path still serves what the factorisation does not cover.
 */
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import {
  BoxOSQP,
  EqualityConstrainedQP,
  InteriorPointQP,
  OSQP,
  add,
  eye,
  grad,
  jvp,
  linalg,
  matmul,
  mul,
  sum,
  Tensor,
  ValueError,
  type BoxQPProblem,
  type ImplicitDiagnostics,
  type QPProblem,
} from "../src/index.js";
import { assertClose, checkDerivatives, randn, rng } from "./helpers.js";

const r = rng(4242);

/** A strictly convex QP with n variables, m inequalities (some active) and p equalities. */
function randomQP(n: number, m: number, p: number): Required<QPProblem> & { Q: Tensor; A: Tensor; G: Tensor } {
  const M = randn(r, [n, n]);
  const x0 = randn(r, [n]);
  const G = randn(r, [m, n]);
  const A = randn(r, [p, n]);
  // h = Gx₀ + slack with zero slack on the first half of the rows: those are active at a point near x₀
  const gx = matmul(G, x0).data;
  const h = new Tensor(
    gx.map((v, i) => v + (i < m / 2 ? -0.5 : 1)),
    [m],
  );
  return {
    Q: add(mul(matmul(M, M.T), 1 / n), eye(n)),
    c: randn(r, [n]),
    A,
    b: matmul(A, x0),
    G,
    h,
  };
}

/**
 * A strictly convex box QP l ≤ Ax ≤ u with n variables and m rows: row 0 an equality (unless `equality` is
 * false: finite differences in l and u must keep l ≤ u), the others a band around
 * Ax₀, crossed by the unconstrained minimiser on some rows at the upper and some at the lower bound.
 */
function randomBox(n: number, m: number, equality = true): BoxQPProblem & { Q: Tensor; A: Tensor } {
  const M = randn(r, [n, n]);
  const A = randn(r, [m, n]);
  const ax = matmul(A, randn(r, [n])).data;
  const half = (i: number) => (i === 0 && equality ? 0 : 1);
  const l = ax.map((v, i) => v - half(i));
  const u = ax.map((v, i) => v + half(i));
  return {
    Q: add(mul(matmul(M, M.T), 1 / n), eye(n)),
    c: mul(3, randn(r, [n])),
    A,
    l: new Tensor(l, [m]),
    u: new Tensor(u, [m]),
  };
}

/** The solvers' backward solver names, recorded through onDiagnostics. */
function recorder(): { seen: string[]; opts: { onDiagnostics: (d: ImplicitDiagnostics) => void } } {
  const seen: string[] = [];
  return { seen, opts: { onDiagnostics: (d) => seen.push(d.linearSolve.solver) } };
}

describe("QP backward: the solver's KKT factorisation is reused", () => {
  const pr = randomQP(8, 6, 2);
  const w = randn(r, [8]);
  const loss =
    (solver: InteriorPointQP) =>
    (Q: Tensor, c: Tensor, A: Tensor, b: Tensor, G: Tensor, h: Tensor): Tensor =>
      sum(mul(w, solver.run(undefined, { Q, c, A, b, G, h }).params.primal));
  const args: [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor] = [pr.Q, pr.c, pr.A, pr.b, pr.G, pr.h];

  test("InteriorPointQP: reused and rebuilt backward give the same gradient in every input (1e-10)", () => {
    const reused = recorder();
    const rebuilt = recorder();
    const argnums = [0, 1, 2, 3, 4, 5];
    const gReused = grad(loss(new InteriorPointQP({ implicit: reused.opts })), { argnums })(...args) as Tensor[];
    const gRebuilt = grad(loss(new InteriorPointQP({ implicit: { ...rebuilt.opts, solve: "lu" } })), { argnums })(
      ...args,
    ) as Tensor[];
    assert.deepEqual(reused.seen, ["kkt-lu"]);
    assert.deepEqual(rebuilt.seen, ["lu"]);
    const { state } = new InteriorPointQP().run(undefined, pr);
    assert.ok(state.polished, "the solution is the polished one");
    assert.ok(
      state.active.some((a) => a === 1),
      "some inequalities are active",
    );
    gReused.forEach((g, i) => assertClose(g, gRebuilt[i]!, { rtol: 1e-10, atol: 1e-10 }, `argument ${i}`));
  });

  test("OSQP reuses its polishing factorisation (same gradient as the rebuilt backward, 1e-10)", () => {
    const reused = recorder();
    const run = (o: object) => (Q: Tensor, c: Tensor, A: Tensor, b: Tensor, G: Tensor, h: Tensor) =>
      sum(mul(w, new OSQP({ tol: 1e-8, implicit: o }).run(undefined, { Q, c, A, b, G, h }).params.primal));
    const argnums = [0, 1, 2, 3, 4, 5];
    const g1 = grad(run(reused.opts), { argnums })(...args) as Tensor[];
    const g2 = grad(run({ solve: "lu" }), { argnums })(...args) as Tensor[];
    assert.deepEqual(reused.seen, ["kkt-lu"]);
    g1.forEach((g, i) => assertClose(g, g2[i]!, { rtol: 1e-10, atol: 1e-10 }, `argument ${i}`));
  });

  test("BoxOSQP reuses its polishing factorisation: rows at either bound and an equality row (1e-10, both modes)", () => {
    const bp = randomBox(7, 6);
    const v = randn(r, [7]);
    const run = (o: object) => (Q: Tensor, c: Tensor, A: Tensor, l: Tensor, u: Tensor) =>
      sum(mul(v, new BoxOSQP({ tol: 1e-8, implicit: o }).run(undefined, { Q, c, A, l, u }).params.primal));
    const bargs: [Tensor, Tensor, Tensor, Tensor, Tensor] = [bp.Q, bp.c, bp.A, bp.l, bp.u];
    const { state } = new BoxOSQP({ tol: 1e-8 }).run(undefined, bp);
    assert.ok(state.polished, "the solution is the polished one");
    assert.ok(state.active.includes(1) && state.active.includes(-1), "rows active at both bounds");
    assert.ok(state.active.includes(0), "some rows inactive");
    const reused = recorder();
    const argnums = [0, 1, 2, 3, 4];
    const g1 = grad(run(reused.opts), { argnums })(...bargs) as Tensor[];
    const g2 = grad(run({ solve: "lu" }), { argnums })(...bargs) as Tensor[];
    assert.deepEqual(reused.seen, ["kkt-lu"]);
    g1.forEach((g, i) => assertClose(g, g2[i]!, { rtol: 1e-10, atol: 1e-10 }, `argument ${i}`));
    const tangents = bargs.map((a) => randn(r, a.shape)) as typeof bargs;
    const forward = recorder();
    const [, t1] = jvp(run(forward.opts), bargs, tangents);
    const [, t2] = jvp(run({ solve: "lu" }), bargs, tangents);
    assert.deepEqual(forward.seen, ["kkt-lu"]);
    assertClose(t1 as Tensor, t2 as Tensor, { rtol: 1e-10, atol: 1e-10 });
  });

  test("BoxOSQP: the reused backward matches finite differences of re-solved problems", () => {
    const bp = randomBox(4, 4, false);
    const v = randn(r, [4]);
    const f = (c: Tensor, l: Tensor, u: Tensor, A: Tensor) =>
      sum(mul(v, new BoxOSQP({ tol: 1e-9 }).run(undefined, { ...bp, c, l, u, A }).params.primal));
    const { active } = new BoxOSQP({ tol: 1e-9 }).run(undefined, bp).state;
    assert.ok(active.includes(1) || active.includes(-1), "some rows at a bound");
    checkDerivatives(f, [bp.c, bp.l, bp.u, bp.A], { rtol: 1e-5, atol: 1e-6 });
  });

  test("InteriorPointQP: forward mode reuses it too, and agrees with the rebuilt path", () => {
    const reused = recorder();
    const tangents = args.map((a) => randn(r, a.shape)) as typeof args;
    const [, tReused] = jvp(loss(new InteriorPointQP({ implicit: reused.opts })), args, tangents);
    const [, tRebuilt] = jvp(loss(new InteriorPointQP({ implicit: { solve: "lu" } })), args, tangents);
    assert.deepEqual(reused.seen, ["kkt-lu"]);
    assertClose(tReused as Tensor, tRebuilt as Tensor, { rtol: 1e-10, atol: 1e-10 });
  });

  test("InteriorPointQP: the reused backward matches finite differences of re-solved problems", () => {
    const small = randomQP(4, 4, 1);
    const v = randn(r, [4]);
    const f = (c: Tensor, h: Tensor, G: Tensor) =>
      sum(mul(v, new InteriorPointQP().run(undefined, { ...small, c, h, G }).params.primal));
    checkDerivatives(f, [small.c, small.h, small.G], { rtol: 1e-5, atol: 1e-6 });
  });

  test("EqualityConstrainedQP (and InteriorPointQP without inequalities) reuse [[Q, Aᵀ], [A, 0]]", () => {
    const { Q, c, A, b } = randomQP(6, 2, 3);
    const v = randn(r, [6]);
    for (const make of [
      (o: object) => new EqualityConstrainedQP({ implicit: o }),
      (o: object) => new InteriorPointQP({ implicit: o }),
    ]) {
      const reused = recorder();
      const f = (o: object) => (Q: Tensor, c: Tensor, A: Tensor, b: Tensor) =>
        sum(mul(v, make(o).run(undefined, { Q, c, A, b }).params.primal));
      const argnums = [0, 1, 2, 3];
      const g1 = grad(f(reused.opts), { argnums })(Q, c, A, b) as Tensor[];
      const g2 = grad(f({ solve: "lu" }), { argnums })(Q, c, A, b) as Tensor[];
      assert.deepEqual(reused.seen, ["kkt-lu"]);
      g1.forEach((g, i) => assertClose(g, g2[i]!, { rtol: 1e-10, atol: 1e-10 }, `argument ${i}`));
    }
  });

  test("without polishing, or with operators, the backward matrix is rebuilt (and still right)", () => {
    const plain = recorder();
    const gNoPolish = grad(loss(new InteriorPointQP({ polish: false, implicit: plain.opts })), { argnums: [1] })(
      ...args,
    ) as Tensor[];
    assert.notDeepEqual(plain.seen, ["kkt-lu"]);
    const gReused = grad(loss(new InteriorPointQP()), { argnums: [1] })(...args) as Tensor[];
    // the unpolished point is exact to the interior-point tolerance only
    assertClose(gNoPolish[0]!, gReused[0]!, { rtol: 1e-4, atol: 1e-5 });

    const { Q, c, A, b } = randomQP(5, 2, 2);
    const ops = recorder();
    const Qop = linalg.LinearOperator.fromMatrix(Q, { symmetric: true });
    const v = randn(r, [5]);
    const gOp = grad((cc: Tensor) =>
      sum(
        mul(v, new EqualityConstrainedQP({ implicit: ops.opts }).run(undefined, { Q: Qop, c: cc, A, b }).params.primal),
      ),
    )(c) as Tensor;
    const gDense = grad((cc: Tensor) =>
      sum(mul(v, new EqualityConstrainedQP().run(undefined, { Q, c: cc, A, b }).params.primal)),
    )(c) as Tensor;
    assert.notDeepEqual(ops.seen, ["kkt-lu"]);
    assertClose(gOp, gDense, { rtol: 1e-8, atol: 1e-10 });
  });

  test("InteriorPointQP materialises operators up to maxOperatorEntries (same derivatives), and refuses larger ones", () => {
    const { Q, c, A, b, G, h } = randomQP(5, 4, 1);
    const v = randn(r, [5]);
    const ops = (Qt: Tensor, Gt: Tensor): QPProblem => ({
      Q: linalg.LinearOperator.fromMatrix(Qt),
      c,
      A,
      b,
      G: linalg.LinearOperator.fromMatrix(Gt),
      h,
    });
    const seen = recorder();
    const viaOps = (Qt: Tensor, Gt: Tensor) =>
      sum(mul(v, new InteriorPointQP({ implicit: seen.opts }).run(undefined, ops(Qt, Gt)).params.primal));
    const dense = (Qt: Tensor, Gt: Tensor) =>
      sum(
        mul(
          v,
          new InteriorPointQP({ implicit: { solve: "lu" } }).run(undefined, { Q: Qt, c, A, b, G: Gt, h }).params.primal,
        ),
      );
    assert.ok(new InteriorPointQP().run(undefined, ops(Q, G)).state.active.includes(1), "some inequalities are active");
    const g1 = grad(viaOps, { argnums: [0, 1] })(Q, G) as Tensor[];
    const g2 = grad(dense, { argnums: [0, 1] })(Q, G) as Tensor[];
    assert.deepEqual(seen.seen, ["kkt-lu"]);
    g1.forEach((g, i) => assertClose(g, g2[i]!, { rtol: 1e-10, atol: 1e-10 }, `argument ${i}`));
    checkDerivatives(viaOps, [Q, G], { rtol: 1e-5, atol: 1e-6 });
    // 4 × 5 = 20 entries in G (and 25 in Q) exceed a limit of 20 only for Q
    assert.throws(
      () => new InteriorPointQP({ maxOperatorEntries: 20 }).run(undefined, ops(Q, G)),
      (e: unknown) =>
        e instanceof ValueError &&
        /^InteriorPointQP: problem\.Q is a LinearOperator of 5 × 5 = 25 entries.*Use OSQP/.test(e.message),
    );
    assert.throws(
      () => new InteriorPointQP({ maxOperatorEntries: 0 }),
      /InteriorPointQP: maxOperatorEntries must be positive/,
    );
    // the remedy: OSQP runs on matvecs only, whatever the size (and polishes matrix-free: exact, not to tol)
    const xOsqp = new OSQP().run(undefined, ops(Q, G)).params.primal;
    assertClose(xOsqp, new InteriorPointQP().run(undefined, ops(Q, G)).params.primal, { rtol: 1e-9, atol: 1e-10 });
  });

  test("second derivatives take the differentiable general path", () => {
    const { Q, c, A, b } = randomQP(4, 2, 1);
    const v = randn(r, [4]);
    // x*(c) is affine in c, so the gradient of ½‖x*‖² is linear in c: its Hessian is JᵀJ with J = ∂x*/∂c
    const xOf = (cc: Tensor) => new EqualityConstrainedQP().run(undefined, { Q, c: cc, A, b }).params.primal;
    const gradOf = grad((cc: Tensor) => mul(0.5, sum(mul(xOf(cc), xOf(cc)))));
    const [, hv] = jvp(gradOf, [c], [v]);
    const eps = 1e-5;
    const fd = mul(
      1 / (2 * eps),
      add(gradOf(add(c, mul(eps, v))) as Tensor, mul(-1, gradOf(add(c, mul(-eps, v))) as Tensor)),
    );
    assertClose(hv as Tensor, fd, { rtol: 1e-6, atol: 1e-8 });
  });
});
