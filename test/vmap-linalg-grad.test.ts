/**
 * Derivatives of dense linear algebra with the matrix batched by `vmap` (issue 11): `vmap(grad(f))` and
 * `grad(vmap(f))` where f factorises a batched matrix, each against a JavaScript loop of the unbatched gradient and
 * against central finite differences of the batched function (elements are independent, so the gradient of the
 * sum over the batch is the batch of per-element gradients).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  BatchingError,
  DifferentiationError,
  add,
  eye,
  grad,
  hessian,
  linalg,
  matmul,
  matrixTranspose,
  mul,
  square,
  sum,
  tensor,
  vmap,
} from "../src/index.js";
import {
  BoxOSQP,
  EqualityConstrainedQP,
  InteriorPointQP,
  OSQP,
  ValueError,
  at,
  projection,
  reshape,
  stack,
  take,
} from "../src/index.js";
import type { BatchStates, Tensor } from "../src/index.js";
import { assertClose, numericJacobian, randn, rng } from "./helpers.js";
import { loopRef } from "./vmap-helpers.js";

const r = rng(11);

/** A batch of `size` well-conditioned n×n matrices: symmetric positive definite when `spd`, general otherwise. */
function batchOf(size: number, n: number, spd: boolean): Tensor {
  const g = randn(r, [size, n, n]);
  if (!spd) return add(g, mul(2, eye(n)));
  return add(matmul(g, matrixTranspose(g)), mul(n, eye(n)));
}

/**
 * The per-element gradient of the scalar `f` over the batch `xs`: by vmap(grad(f)), by grad of the vmapped sum,
 * by a loop of grad(f), and by central finite differences of the vmapped sum; all must agree.
 */
function checkBatchedGrad(f: (x: Tensor) => Tensor, xs: Tensor, rtol = 1e-6): void {
  const reference = loopRef(grad(f), [xs], [0]) as Tensor;
  const perExample = vmap(grad(f))(xs) as Tensor;
  assertClose(perExample, reference, { rtol: 1e-10, atol: 1e-12 }, "vmap(grad(f)) against the loop");
  const total = (x: Tensor) => sum(vmap(f)(x) as Tensor);
  assertClose(grad(total)(xs), reference, { rtol: 1e-10, atol: 1e-12 }, "grad(vmap(f)) against the loop");
  const fd = tensor(numericJacobian(total, [xs]), xs.shape);
  assertClose(perExample, fd, { rtol, atol: rtol }, "vmap(grad(f)) against finite differences");
}

describe("vmap(grad) through factorisations of a batched matrix", () => {
  test("cholesky: the factor, solve and logdet", () => {
    const As = batchOf(3, 3, true);
    const b = tensor([1, -2, 0.5]);
    checkBatchedGrad((a) => sum(square(linalg.cholesky(a).L)), As);
    checkBatchedGrad((a) => sum(square(linalg.cholesky(a).solve(b))), As);
    checkBatchedGrad((a) => linalg.cholesky(a).logdet(), As);
  });
});

describe("vmap(grad) through determinants of a batched matrix", () => {
  test("det and slogdet (general matrices, both signs of the determinant)", () => {
    const As = batchOf(3, 3, false);
    const flipped = tensor(
      As.data.map((v, i) => (i < 9 && i % 3 === 0 ? -v : v)),
      As.shape,
    );
    checkBatchedGrad((a) => linalg.det(a), flipped);
    checkBatchedGrad((a) => linalg.slogdet(a).logabsdet, flipped);
    checkBatchedGrad((a) => mul(linalg.slogdet(a).sign, linalg.slogdet(a).logabsdet), flipped);
    // the sign stays a plain value under grad (readable), and batched under vmap
    const signed = (a: Tensor) => mul(linalg.slogdet(a).sign.item(), linalg.slogdet(a).logabsdet);
    const first = take(flipped, 0, 0);
    assertClose(
      grad(signed)(first),
      grad((a: Tensor) => mul(linalg.slogdet(a).sign, linalg.slogdet(a).logabsdet))(first),
    );
    const sign = (a: Tensor) => linalg.slogdet(a).sign;
    assertClose(vmap(sign)(flipped) as Tensor, loopRef(sign, [flipped], [0]) as Tensor, { rtol: 0, atol: 0 });
  });
});

describe("vmap(grad) through least squares with a batched matrix", () => {
  test("lstsq (tall, with a residual) and pinv (tall and wide), with respect to A", () => {
    const tall = randn(r, [3, 4, 2]);
    const b = tensor([1, -1, 2, 0.5]);
    checkBatchedGrad((a) => sum(square(linalg.lstsq(a, b))), tall);
    checkBatchedGrad((a) => sum(square(linalg.pinv(a))), tall);
    checkBatchedGrad((a) => sum(square(linalg.pinv(a))), randn(r, [2, 2, 3]));
  });

  test("lstsq with both A and b batched, gradient with respect to each", () => {
    const As = randn(r, [3, 4, 2]);
    const bs = randn(r, [3, 4]);
    const f = (a: Tensor, b: Tensor) => sum(square(linalg.lstsq(a, b)));
    const g = vmap(grad(f, { argnums: [0, 1] })) as (a: Tensor, b: Tensor) => Tensor[];
    const [gA, gb] = g(As, bs);
    const [refA, refB] = loopRef(
      (a, b) => grad(f, { argnums: [0, 1] })(a, b) as Tensor[],
      [As, bs],
      [0, 0],
    ) as Tensor[];
    assertClose(gA!, refA!, { rtol: 1e-10, atol: 1e-12 });
    assertClose(gb!, refB!, { rtol: 1e-10, atol: 1e-12 });
    const fdB = tensor(
      numericJacobian((x: Tensor) => sum(vmap(f)(As, x) as Tensor), [bs]),
      bs.shape,
    );
    assertClose(gb!, fdB, { rtol: 1e-6, atol: 1e-6 });
  });

  test("a rank-deficient element is named in the derivative's error", () => {
    const As = tensor([
      [
        [1, 0],
        [0, 1],
        [1, 1],
      ],
      [
        [1, 2],
        [2, 4],
        [3, 6],
      ],
    ]);
    assert.throws(
      () => vmap(grad((a: Tensor) => sum(square(linalg.pinv(a)))))(As),
      (e: Error) => e instanceof DifferentiationError && /rank 1 \(vmap batch element 1\)/.test(e.message),
    );
  });
});

describe("vmap(grad) through qr of a batched matrix", () => {
  test("Q and R of tall and square matrices", () => {
    const w = tensor([
      [1, -2],
      [0.5, 3],
      [2, 1],
    ]);
    checkBatchedGrad((a) => add(sum(mul(linalg.qr(a).Q, w)), sum(square(linalg.qr(a).R))), randn(r, [3, 3, 2]));
    checkBatchedGrad((a) => sum(mul(linalg.qr(a).Q, matmul(a, a))), batchOf(2, 3, false));
  });
});

describe("vmap(grad) through singular and eigen vectors of a batched matrix", () => {
  // Functions of the projectors u·uᵀ and v·vᵀ (invariant to the vectors' signs), weighted so no symmetry hides an error.
  const weights = (k: number) =>
    tensor(
      Array.from({ length: k * k }, (_, i) => 1 + 0.3 * i),
      [k, k],
    );
  const projected = (q: Tensor, k: number) =>
    sum(mul(matmul(mul(q, tensor([1, 2, 3].slice(0, q.shape[1]))), matrixTranspose(q)), weights(k)));

  test("svd: u (tall, with the complement term), vt (wide), s", () => {
    checkBatchedGrad((a) => add(projected(linalg.svd(a).u, 3), sum(linalg.svd(a).s)), randn(r, [3, 3, 2]));
    checkBatchedGrad((a) => projected(matrixTranspose(linalg.svd(a).vt), 3), randn(r, [2, 2, 3]));
  });

  test("eigh: the eigenvectors of symmetric matrices", () => {
    checkBatchedGrad((a) => projected(linalg.eigh(a).eigenvectors, 3), batchOf(3, 3, true));
  });

  test("repeated singular values in one element: the derivative's error names it", () => {
    const As = tensor([
      [
        [3, 0],
        [0, 1],
      ],
      [
        [2, 0],
        [0, 2],
      ],
    ]);
    assert.throws(
      () => vmap(grad((a: Tensor) => sum(linalg.svd(a).u)))(As),
      (e: Error) => e instanceof DifferentiationError && /repeated.*\(vmap batch element 1\)/.test(e.message),
    );
  });
});

describe("lu of a batched matrix", () => {
  test("solve, solveTranspose, inv, det, slogdet: values against the loop, gradients against the loop and finite differences", () => {
    const As = batchOf(3, 3, false);
    const b = tensor([1, -2, 0.5]);
    const B = tensor([
      [1, 0],
      [2, -1],
      [0, 3],
    ]);
    const methods: [string, (a: Tensor) => Tensor][] = [
      ["solve", (a) => linalg.lu(a).solve(b)],
      ["solve (matrix)", (a) => linalg.lu(a).solve(B)],
      ["solveTranspose", (a) => linalg.lu(a).solveTranspose(b)],
      ["inv", (a) => linalg.lu(a).inv()],
      ["det", (a) => linalg.lu(a).det()],
      ["slogdet", (a) => linalg.lu(a).slogdet().logabsdet],
    ];
    for (const [what, f] of methods) {
      assertClose(vmap(f)(As) as Tensor, loopRef(f, [As], [0]) as Tensor, { rtol: 1e-12, atol: 1e-12 }, what);
      checkBatchedGrad((a) => sum(square(f(a))), As);
    }
  });

  test("the factors and the singular flag are one matrix's plain values: a BatchingError naming the remedy", () => {
    const As = batchOf(2, 2, false);
    for (const read of [(a: Tensor) => linalg.lu(a).factors.lu, (a: Tensor) => linalg.lu(a).singular]) {
      assert.throws(
        () => vmap(read as unknown as (a: Tensor) => Tensor)(As),
        (e: Error) => e instanceof BatchingError && /lu\(A\)\.(factors|singular).*outside vmap/.test(e.message),
      );
    }
  });
});

describe("second derivatives of factorisations of a batched matrix", () => {
  test("vmap(hessian(f)) for cholesky, slogdet, lstsq and qr against the loop of hessian", () => {
    const P = batchOf(2, 2, true);
    const b = tensor([1, -2]);
    const fs = [
      (a: Tensor) => linalg.cholesky(a).logdet(),
      (a: Tensor) => linalg.slogdet(a).logabsdet,
      (a: Tensor) => sum(square(linalg.lstsq(a, b))),
      (a: Tensor) => sum(square(linalg.qr(a).R)),
    ];
    for (const f of fs) {
      assertClose(vmap(hessian(f))(P) as Tensor, loopRef(hessian(f), [P], [0]) as Tensor, { rtol: 1e-9, atol: 1e-12 });
    }
    // d²/dA² log det A = −A⁻ᵀ ⊗ A⁻ᵀ (as a map dA ↦ −A⁻ᵀ dAᵀ A⁻ᵀ): ∂²/∂Aᵢⱼ∂Aₖₗ = −(A⁻¹)ₗᵢ (A⁻¹)ⱼₖ
    const H = vmap(hessian((a: Tensor) => linalg.slogdet(a).logabsdet))(P) as Tensor;
    const inv = vmap((a: Tensor) => linalg.inv(a))(P) as Tensor;
    const Hd = H.data;
    const I = inv.data;
    for (let e = 0; e < 2; e++) {
      for (let q = 0; q < 16; q++) {
        const [i, j, k, l] = [(q >> 3) & 1, (q >> 2) & 1, (q >> 1) & 1, q & 1];
        const expected = -I[e * 4 + l * 2 + i]! * I[e * 4 + j * 2 + k]!;
        assertClose(Hd[e * 16 + q]!, expected, { rtol: 1e-9, atol: 1e-12 }, `element ${e} entry ${q}`);
      }
    }
  });
});

describe("QP solvers and the polyhedron projection under vmap", () => {
  // min ½xᵀQx + cᵀx s.t. x₁ + x₂ ≤ h₀, −x₁ ≤ h₁: elements with different (strictly complementary) active sets.
  const Q = tensor([
    [2, 0.5],
    [0.5, 1],
  ]);
  const G = tensor([
    [1, 1],
    [-1, 0],
  ]);
  const c0 = tensor([1, -2]);
  const h0 = tensor([1, 0]);
  const cs = tensor([
    [1, -2],
    [-2, 0.5],
    [0.3, 0.3],
  ]);
  const hs = tensor([
    [1, 0],
    [0.5, 0.2],
    [2, 1],
  ]);
  const weights = tensor([1, -2]);

  for (const make of [() => new InteriorPointQP({ tol: 1e-10 }), () => new OSQP({ tol: 1e-10 })]) {
    const solver = make();
    test(`${solver.name}.run with a batch of c or of h: solutions, per-element states and gradients`, () => {
      const byC = (c: Tensor) => solver.run(undefined, { Q, c, G, h: h0 }).params.primal;
      const byH = (h: Tensor) => solver.run(undefined, { Q, c: c0, G, h }).params.primal;
      for (const [f, xs] of [
        [byC, cs],
        [byH, hs],
      ] as const) {
        assertClose(vmap(f)(xs) as Tensor, loopRef(f, [xs], [0]) as Tensor, { rtol: 1e-8, atol: 1e-9 });
        const loss = (x: Tensor) => sum(mul(f(x), weights));
        const total = (x: Tensor) => sum(vmap(loss)(x) as Tensor);
        const g = grad(total)(xs);
        assertClose(g, loopRef(grad(loss), [xs], [0]) as Tensor, { rtol: 1e-8, atol: 1e-9 }, "grad(vmap) vs loop");
        assertClose(g, tensor(numericJacobian(total, [xs]), xs.shape), { rtol: 1e-5, atol: 1e-6 }, "vs differences");
      }
      let batch: BatchStates | undefined;
      vmap((c: Tensor) => {
        const { params, state } = solver.run(undefined, { Q, c, G, h: h0 });
        batch = state.batch;
        return params.primal;
      })(cs);
      assert.deepEqual(batch!.status, ["converged", "converged", "converged"]);
      assert.equal(batch!.iterNum.length, 3);
    });
  }

  test("BoxOSQP and EqualityConstrainedQP with a batch of c: solutions and grad(vmap) against the loop", () => {
    const box = new BoxOSQP({ tol: 1e-10 });
    const eq = new EqualityConstrainedQP();
    const fs = [
      (c: Tensor) => box.run(undefined, { Q, c, A: eye(2), l: tensor([-1, -1]), u: tensor([0.5, 1]) }).params.primal,
      (c: Tensor) => eq.run(undefined, { Q, c, A: tensor([[1, 2]]), b: tensor([1]) }).params.primal,
    ];
    for (const f of fs) {
      assertClose(vmap(f)(cs) as Tensor, loopRef(f, [cs], [0]) as Tensor, { rtol: 1e-8, atol: 1e-9 });
      const loss = (c: Tensor) => sum(mul(f(c), weights));
      const g = grad((c: Tensor) => sum(vmap(loss)(c) as Tensor))(cs);
      assertClose(g, loopRef(grad(loss), [cs], [0]) as Tensor, { rtol: 1e-8, atol: 1e-9 });
    }
  });

  test("an infeasible element: its status (throwOnFailure: false) or an error naming it; the others solved", () => {
    // x₁ + x₂ ≤ h₀ and −x₁ − x₂ ≤ h₁: infeasible when h₀ + h₁ < 0 (element 1).
    const G2 = tensor([
      [1, 1],
      [-1, -1],
    ]);
    const hb = tensor([
      [1, 1],
      [-1, -1],
      [0.5, 2],
    ]);
    const lenient = new InteriorPointQP({ throwOnFailure: false });
    let batch: BatchStates | undefined;
    const xs = vmap((h: Tensor) => {
      const { params, state } = lenient.run(undefined, { Q, c: c0, G: G2, h });
      batch = state.batch;
      return params.primal;
    })(hb) as Tensor;
    assert.deepEqual(batch!.status, ["converged", "primalInfeasible", "converged"]);
    assert.deepEqual(batch!.failed, [1]);
    const solo = (h: Tensor) => new InteriorPointQP().run(undefined, { Q, c: c0, G: G2, h }).params.primal;
    assertClose(stack([take(xs, 0, 0), take(xs, 2, 0)]), stack([solo(take(hb, 0, 0)), solo(take(hb, 2, 0))]), {
      rtol: 1e-8,
      atol: 1e-9,
    });
    assert.throws(() => vmap(solo)(hb), /batch element 1 of 3.*primalInfeasible/);
  });

  test("vmap(grad(f)) through a QP run: per-element gradients, as the loop (test/qp-vmap-grad.test.ts for more)", () => {
    const solver = new InteriorPointQP();
    const loss = (c: Tensor) => sum(solver.run(undefined, { Q, c, G, h: h0 }).params.primal);
    assertClose(vmap(grad(loss))(cs), loopRef(grad(loss), [cs], [0]) as Tensor, { rtol: 1e-10, atol: 1e-12 });
  });

  test("projection.polyhedron with a batch of points or of right-hand sides", () => {
    const xs = tensor([
      [2, 2],
      [-1, 3],
      [0.2, 0.1],
    ]);
    const byX = (x: Tensor) => projection.polyhedron(x, { G, h: h0 });
    const byH = (h: Tensor) => projection.polyhedron(tensor([2, 2]), { G, h });
    for (const [f, args] of [
      [byX, xs],
      [byH, hs],
    ] as const) {
      assertClose(vmap(f)(args) as Tensor, loopRef(f, [args], [0]) as Tensor, { rtol: 1e-8, atol: 1e-9 });
      const loss = (x: Tensor) => sum(mul(f(x), weights));
      const total = (x: Tensor) => sum(vmap(loss)(x) as Tensor);
      assertClose(grad(total)(args), loopRef(grad(loss), [args], [0]) as Tensor, { rtol: 1e-8, atol: 1e-9 });
      assertClose(grad(total)(args), tensor(numericJacobian(total, [args]), args.shape), { rtol: 1e-5, atol: 1e-6 });
    }
  });
});

describe("at(x, …) with a batch of index arrays", () => {
  const x = tensor([
    [1, 2, 3, 4],
    [5, 6, 7, 8],
  ]);
  const idx = tensor([
    [0, 2],
    [1, -1],
    [3, 0],
  ]);
  const v = tensor([10, 20]);

  test("get, set, add, mul along either axis against the loop, with gradients in x and the value", () => {
    const ops: [string, (i: Tensor, xx: Tensor, val: Tensor) => Tensor][] = [
      ["get axis 1", (i, xx) => at(xx, null, i).get()],
      ["set axis 1", (i, xx, val) => at(xx, null, i).set(val)],
      ["add axis 1", (i, xx, val) => at(xx, null, i).add(val)],
      ["mul axis 1", (i, xx, val) => at(xx, null, i).mul(val)],
      ["get flat", (i, xx) => at(reshape(xx, [8]), add(i, 4)).get()],
      ["set axis 0", (i, xx, val) => at(matrixTranspose(xx), i).set(reshape(val, [2, 1]))],
    ];
    for (const [what, f] of ops) {
      assertClose(
        vmap(f, { inAxes: [0, null, null] })(idx, x, v) as Tensor,
        loopRef(f, [idx, x, v], [0, null, null]) as Tensor,
        { rtol: 0, atol: 0 },
        what,
      );
      for (const argnum of [1, 2]) {
        const loss = (i: Tensor, xx: Tensor, val: Tensor) => sum(square(f(i, xx, val)));
        const g = vmap(grad(loss, { argnums: argnum }), { inAxes: [0, null, null] })(idx, x, v) as Tensor;
        assertClose(
          g,
          loopRef(grad(loss, { argnums: argnum }), [idx, x, v], [0, null, null]) as Tensor,
          { rtol: 1e-12, atol: 0 },
          what,
        );
        const total = (arg: Tensor) => {
          const args = [idx, x, v];
          args[argnum] = arg;
          return sum(vmap(loss, { inAxes: [0, null, null] })(...(args as [Tensor, Tensor, Tensor])) as Tensor);
        };
        const fd = numericJacobian(total, [[idx, x, v][argnum]!]);
        assertClose(
          sum(g, { axis: 0 }),
          tensor(fd, [x, v][argnum - 1]!.shape),
          { rtol: 1e-6, atol: 1e-6 },
          `${what} fd`,
        );
      }
    }
  });

  test("repeated indices: add accumulates; set names the batch element; other axes must be whole", () => {
    const rep = tensor([
      [0, 1],
      [2, 2],
    ]);
    assertClose(
      vmap((i: Tensor) => at(x, null, i).add(1))(rep) as Tensor,
      loopRef((i: Tensor) => at(x, null, i).add(1), [rep], [0]) as Tensor,
      { rtol: 0, atol: 0 },
    );
    assert.throws(
      () => vmap((i: Tensor) => at(x, null, i).set(0))(rep),
      (e: Error) => e instanceof ValueError && /repeats an index.*\(vmap batch element 1\)/.test(e.message),
    );
    assert.throws(
      () => vmap((i: Tensor) => at(x, 0, i).get())(idx),
      (e: Error) => e instanceof ValueError && /other axes must be taken whole/.test(e.message),
    );
  });
});
