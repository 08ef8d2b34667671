/**
 * BlockCoordinateDescent's composite-linear paths (issue 12): the plain-value sweep (Float64Arrays, when nothing is
 * traced), the traced sweep (ops, for unrolling), the declared quadratic h and the generic path (a full gradient
 * per block) take the same steps; unrolled derivatives through them match finite differences, including when the
 * block prox closes over a traced value (the plain sweep hands over to the traced one); a wrong quadratic
 * declaration and a prox returning the wrong shape are typed errors.
 */
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import {
  BlockCoordinateDescent,
  ShapeError,
  ValueError,
  grad,
  log1p,
  exp,
  matmul,
  mul,
  objective,
  projection,
  prox,
  square,
  stopGradient,
  sub,
  sum,
  tensor,
  vmap,
  zerosLike,
  type Tensor,
} from "../src/index.js";
import { assertClose, checkDerivatives, randn, rng } from "./helpers.js";

const A = randn(rng(11), [7, 5]);
const y = randn(rng(12), [7, 3]);
const B = randn(rng(13), [5, 3]).mul(0.1);
const x0 = zerosLike(randn(rng(14), [5, 3]));

/** Softplus loss h(z) = Σ log(1 + exp(z − y))·w: not quadratic, so every block step differentiates h. */
const softplusParts = (A_: Tensor, y_: Tensor, w: Tensor) => ({
  matrix: A_,
  h: (z: Tensor) => mul(w, sum(log1p(exp(sub(z, y_))))),
  linear: B,
});
const softplus = objective.compositeLinear(softplusParts);
/** The same function without its structure: the generic path. */
const softplusGeneric = (x: Tensor, A_: Tensor, y_: Tensor, w: Tensor) => softplus(x, A_, y_, w);

/** ½θ‖A x − y‖² + ⟨B, x⟩, with and without the quadratic declaration. */
const lsParts = (declare: boolean) => (A_: Tensor, y_: Tensor, th: Tensor) => ({
  matrix: A_,
  h: (z: Tensor) => mul(sum(square(sub(z, y_))), mul(th, 0.5)),
  linear: B,
  ...(declare ? { quadratic: { center: y_, curvature: th } } : {}),
});
const lsDeclared = objective.compositeLinear(lsParts(true));
const lsUndeclared = objective.compositeLinear(lsParts(false));
const lsGeneric = (x: Tensor, A_: Tensor, y_: Tensor, th: Tensor) => lsUndeclared(x, A_, y_, th);

const rowLipschitz = (scale: number) => [...sum(square(A), { axis: 0 }).data].map((v) => v * scale);

function sameRun(
  a: { params: unknown; state: { lipschitz: number[]; error: number; value: number; iterNum: number } },
  b: typeof a,
): void {
  assertClose(a.params as Tensor, b.params as Tensor, { rtol: 1e-12, atol: 1e-13 });
  assert.deepEqual(a.state.lipschitz, b.state.lipschitz);
  assertClose(a.state.error, b.state.error, { rtol: 1e-9 });
  assertClose(a.state.value, b.state.value, { rtol: 1e-12 });
  assert.equal(a.state.iterNum, b.state.iterNum);
}

describe("BlockCoordinateDescent composite paths", () => {
  const lasso = (row: Tensor, l: Tensor, s: number) => prox.lasso(row, l, s);
  for (const lipschitz of [rowLipschitz(0.3), undefined]) {
    const which = lipschitz ? "fixed L_j" : "backtracked L_j";
    test(`a general h: the plain sweep takes the generic path's steps (${which})`, () => {
      const opts = { blockProx: lasso, lipschitz, maxIter: 6, tol: 0 };
      const args = [tensor(0.05), A, y, tensor(1.5)] as const;
      const fast = new BlockCoordinateDescent({ fun: softplus, ...opts }).run(x0, ...args);
      const slow = new BlockCoordinateDescent({ fun: softplusGeneric, ...opts }).run(x0, ...args);
      sameRun(fast, slow);
    });
    test(`a declared quadratic h: the same steps as undeclared and generic (${which})`, () => {
      const L = lipschitz?.map((v) => v * 2);
      const opts = { blockProx: lasso, lipschitz: L, maxIter: 6, tol: 0 };
      const args = [tensor(0.3), A, y, tensor(0.8)] as const;
      const declared = new BlockCoordinateDescent({ fun: lsDeclared, ...opts }).run(x0, ...args);
      const undeclared = new BlockCoordinateDescent({ fun: lsUndeclared, ...opts }).run(x0, ...args);
      const generic = new BlockCoordinateDescent({ fun: lsGeneric, ...opts }).run(x0, ...args);
      sameRun(declared, undeclared);
      sameRun(declared, generic);
    });
  }

  test("step by step, the plain sweep and the traced sweep (under grad) give the same iterates and state", () => {
    const solver = new BlockCoordinateDescent({ fun: lsDeclared, blockProx: lasso, maxIter: 3, tol: 0 });
    const args = [tensor(0.3), A, y] as const;
    const plainState = solver.init(x0, ...args, tensor(0.8));
    const plain = solver.update(x0, plainState, ...args, tensor(0.8));
    let traced: ReturnType<typeof solver.update> | undefined;
    grad((th: Tensor) => {
      const st = solver.init(x0, ...args, th);
      const r = solver.update(x0, st, ...args, th);
      traced = { params: stopGradient(r.params), state: r.state };
      return sum(r.params as Tensor);
    })(tensor(0.8));
    sameRun(plain, traced!);
  });

  test("unrolled derivatives through the traced sweep: a general h, a declared quadratic (first and second order)", () => {
    const L = rowLipschitz(1);
    const unrolled = (fun: typeof softplus | typeof lsDeclared) =>
      new BlockCoordinateDescent({ fun, blockProx: lasso, lipschitz: L, maxIter: 3, tol: 0, implicitDiff: false });
    const soft = unrolled(softplus);
    checkDerivatives((w: Tensor) => sum(square(soft.run(x0, tensor(0.05), A, y, w).params as Tensor)), [tensor(1.5)]);
    const ls = unrolled(lsDeclared);
    const hyper = (th: Tensor) => sum(square(ls.run(x0, tensor(0.3), A, y, th).params as Tensor));
    checkDerivatives(hyper, [tensor(0.8)]);
    checkDerivatives((th: Tensor) => grad(hyper)(th) as Tensor, [tensor(0.8)], { rtol: 1e-4 });
  });

  test("a block prox closing over a traced value: the plain sweep hands over to the traced one (exact derivative)", () => {
    const L = rowLipschitz(1);
    const hyper = (l1: Tensor) => {
      const solver = new BlockCoordinateDescent({
        fun: lsDeclared,
        blockProx: (row: Tensor, _h: null, s: number) => prox.lasso(row, l1, s),
        lipschitz: L,
        maxIter: 3,
        tol: 0,
        implicitDiff: false,
      });
      return sum(square(solver.run(x0, null, A, y, tensor(0.8)).params as Tensor));
    };
    checkDerivatives(hyper, [tensor(0.2)]);
    // and the value is the plain run's
    const plain = new BlockCoordinateDescent({ fun: lsDeclared, blockProx: lasso, lipschitz: L, maxIter: 3, tol: 0 });
    const ref = sum(square(plain.run(x0, tensor(0.2), A, y, tensor(0.8)).params as Tensor));
    assertClose(hyper(tensor(0.2)), ref, { rtol: 1e-12 });
  });

  test("under vmap over θ: the same solutions as a loop", () => {
    const L = rowLipschitz(2);
    const solver = new BlockCoordinateDescent({ fun: lsDeclared, blockProx: lasso, lipschitz: L, maxIter: 4, tol: 0 });
    const thetas = tensor([0.5, 0.8, 1.3]);
    const batched = vmap((th: Tensor) => solver.run(x0, tensor(0.3), A, y, th).params as Tensor)(thetas);
    [0.5, 0.8, 1.3].forEach((th, i) => {
      const one = solver.run(x0, tensor(0.3), A, y, tensor(th)).params as Tensor;
      assertClose(tensor(batched.data.slice(i * 15, (i + 1) * 15), [5, 3]), one, { rtol: 1e-12, atol: 1e-14 });
    });
  });

  test("the multiclass SVM dual (declared quadratic) takes the generic path's steps", () => {
    const X = randn(rng(21), [12, 4]).mul(0.5);
    const Y = tensor(Array.from({ length: 12 }, (_, i) => [0, 1, 2].map((c) => (c === i % 3 ? 1 : 0))));
    const init = tensor(new Float64Array(36).fill(1 / 3), [12, 3]);
    const generic = (b: Tensor, th: Tensor, d: [Tensor, Tensor]) => objective.multiclassLinearSvmDual(b, th, d);
    const opts = { blockProx: (row: Tensor) => projection.simplex(row), maxIter: 5, tol: 0 };
    const fast = new BlockCoordinateDescent({ fun: objective.multiclassLinearSvmDual, ...opts });
    const slow = new BlockCoordinateDescent({ fun: generic, ...opts });
    sameRun(fast.run(init, null, tensor(0.7), [X, Y]), slow.run(init, null, tensor(0.7), [X, Y]));
  });

  test("a quadratic declaration that disagrees with h is a ValueError; a prox of the wrong shape a ShapeError", () => {
    const wrong = objective.compositeLinear((A_: Tensor, y_: Tensor) => ({
      matrix: A_,
      h: (z: Tensor) => sum(square(sub(z, y_))).mul(0.5),
      quadratic: { center: y_, curvature: 2 },
    }));
    const solver = new BlockCoordinateDescent({ fun: wrong, blockProx: (row: Tensor) => row, maxIter: 2, tol: 0 });
    assert.throws(
      () => solver.run(x0, null, A, y),
      (e: unknown) => e instanceof ValueError && /declare h quadratic/.test(e.message),
    );
    const badCenter = objective.compositeLinear((A_: Tensor) => ({
      matrix: A_,
      h: (z: Tensor) => sum(square(z)),
      quadratic: { center: tensor([[1, 2]]), curvature: 2 },
    }));
    assert.throws(
      () => new BlockCoordinateDescent({ fun: badCenter, blockProx: (row: Tensor) => row }).run(x0, null, A),
      (e: unknown) => e instanceof ShapeError && /center/.test(e.message),
    );
    const flat = new BlockCoordinateDescent({
      fun: lsDeclared,
      blockProx: (row: Tensor) => sum(row),
      lipschitz: rowLipschitz(1),
      maxIter: 1,
      tol: 0,
    });
    assert.throws(
      () => flat.run(x0, null, A, y, tensor(1)),
      (e: unknown) => e instanceof ShapeError && /blockProx must return a block of the shape/.test(e.message),
    );
    // the least-squares solution is found through the declared path
    const ls = new BlockCoordinateDescent({
      fun: lsDeclared,
      blockProx: (row: Tensor) => row,
      tol: 1e-12,
      maxIter: 5000,
    });
    const xs = ls.run(x0, null, A, y, tensor(1)).params as Tensor;
    assertClose(matmul(matmul(A.T, A), xs), sub(matmul(A.T, y), B), { atol: 1e-9 });
  });
});
