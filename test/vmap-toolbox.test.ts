/**
 * Projections, prox operators and losses under `vmap` (issue 11): every public function with its inputs and
 * hyperparameters batched, against a JavaScript loop of the unbatched call, with `grad(vmap(…))` and `vmap(grad(…))`
 * against the loop; argument checks that run per batch element and name it.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  Tensor,
  ValueError,
  NonFiniteError,
  add,
  grad,
  loss,
  matrixTranspose,
  moveAxis,
  projection as P,
  prox,
  square,
  stack,
  sum,
  take,
  tensor,
  vmap,
} from "../src/index.js";
import { forEachElement } from "../src/core/element-values.js";
import { assertClose, randn, rng } from "./helpers.js";

type Axis = number | null;
type Fn = (...xs: Tensor[]) => Tensor;

const element = (x: Tensor, a: Axis, b: number) => (a === null ? x : take(moveAxis(x, a, 0), b, 0));

function loop(f: Fn, args: Tensor[], axes: Axis[]): Tensor {
  const i = axes.findIndex((a) => a !== null);
  const n = args[i]!.shape[axes[i]!]!;
  return stack(Array.from({ length: n }, (_, b) => f(...args.map((x, k) => element(x, axes[k]!, b)))));
}

/**
 * Values, grad(vmap) in every batched argument and vmap(grad) in the first, against loops. `perExample: false`
 * skips vmap(grad) where a part owned elsewhere does not support it yet (named at the call).
 */
function checkBatched(f: Fn, args: Tensor[], axes: Axis[], what: string, perExample = true): void {
  assertClose(vmap(f, { inAxes: axes })(...args) as Tensor, loop(f, args, axes), { rtol: 1e-12, atol: 1e-12 }, what);
  const sq =
    (g: Fn): Fn =>
    (...xs) =>
      sum(square(g(...xs)));
  args.forEach((_, i) => {
    if (axes[i] === null) return;
    const viaVmap = grad(
      sq((...xs) => vmap(f, { inAxes: axes })(...xs) as Tensor),
      { argnums: i },
    )(...args);
    const viaLoop = grad(
      sq((...xs) => loop(f, xs, axes)),
      { argnums: i },
    )(...args);
    assertClose(viaVmap as Tensor, viaLoop as Tensor, { rtol: 1e-9, atol: 1e-12 }, `${what}: grad(vmap) ${i}`);
  });
  if (!perExample) return;
  const perElement = grad(sq(f)) as Fn;
  assertClose(
    vmap(perElement, { inAxes: axes })(...args) as Tensor,
    loop(perElement, args, axes),
    { rtol: 1e-9, atol: 1e-12 },
    `${what}: vmap(grad)`,
  );
}

const r = rng(7);
const X = randn(r, [3, 4]);
const radii = tensor([0.5, 1, 5]);

describe("vmap: projections", () => {
  test("boxes, simplices and balls with a batched radius", () => {
    checkBatched((x) => P.nonNegative(x), [X], [0], "nonNegative");
    checkBatched(
      (x, l, u) => P.box(x, l, u),
      [X, tensor([-0.5, -0.2, -0.1]), tensor([0.5, 0.2, 0.3])],
      [0, 0, 0],
      "box",
    );
    checkBatched((x, s) => P.hypercube(x, s), [X, radii], [0, 0], "hypercube");
    checkBatched((x, s) => P.linfBall(x, s), [moveAxis(X, 0, 1), radii], [1, 0], "linfBall (x on axis 1)");
    checkBatched((x, s) => P.simplex(x, s), [X, radii], [0, 0], "simplex");
    checkBatched((x) => P.sparseSimplex(x, 2), [X], [0], "sparseSimplex");
    checkBatched((x, s) => P.l1Ball(x, s), [X, radii], [0, 0], "l1Ball");
    checkBatched((x, s) => P.l1Sphere(x, s), [X, radii], [0, 0], "l1Sphere");
    checkBatched((x, s) => P.l2Ball(x, s), [X, radii], [0, 0], "l2Ball (inside and outside)");
    checkBatched((x, s) => P.l2Sphere(x, s), [X, radii], [0, 0], "l2Sphere");
    // one element inside the cone, one in the polar cone, one projected onto the boundary
    checkBatched((x, t) => P.secondOrderCone([x, t])[0], [X, tensor([5, -5, 0.2])], [0, 0], "secondOrderCone y");
    checkBatched((x, t) => P.secondOrderCone([x, t])[1], [X, tensor([5, -5, 0.2])], [0, 0], "secondOrderCone s");
  });

  test("affine sets, box sections, isotonic regression, the PSD cone, transport", () => {
    const a = tensor([1, 2, 0, 1]);
    checkBatched((x, b) => P.hyperplane(x, a, b), [X, radii], [0, 0], "hyperplane");
    checkBatched((x, b) => P.halfspace(x, a, b), [X, tensor([0.5, -1, 5])], [0, 0], "halfspace");
    const A = tensor([
      [1, 2, 0, 1],
      [0, 1, 1, 0],
    ]);
    checkBatched((x, b) => P.affineSet(x, A, b), [X, randn(r, [3, 2])], [0, 0], "affineSet");
    checkBatched(
      (x, b) => P.boxSection(x, tensor(-1), tensor(1), tensor([1, 1, 1, 1]), b),
      [X, tensor([0.5, -1, 1])],
      [0, 0],
      "boxSection",
    );
    checkBatched((x) => P.isotonic(x), [X], [0], "isotonic");
    checkBatched(
      (x, lo) => P.isotonic(x, { yMin: lo, yMax: 0.5 }),
      [X, tensor([[-0.5], [-0.2], [-1]])],
      [0, 0],
      "isotonic bounded",
    );
    const S = randn(r, [3, 3, 3]);
    checkBatched((x) => P.psdCone(add(x, matrixTranspose(x))), [S], [0], "psdCone");
    checkBatched(
      (c) => P.transport(c, tensor([0.5, 0.5]), tensor([0.25, 0.75])),
      [randn(r, [3, 2, 2])],
      [0],
      "transport",
      false, // vmap(grad): customRoot's backward reads its residual norm (h11-implicit)
    );
    checkBatched((c) => P.birkhoff(c), [randn(r, [3, 2, 2])], [0], "birkhoff", false); // as transport
  });

  test("checks run per batch element and name it", () => {
    assert.throws(
      () => vmap((x: Tensor, l: Tensor) => P.box(x, l, 0.3))(X, tensor([0, 0.5, 0])),
      (e: Error) => e instanceof ValueError && /lower > upper.*vmap batch element 1/.test(e.message),
    );
    assert.throws(
      () => vmap((x: Tensor, s: Tensor) => P.l2Ball(x, s))(X, tensor([1, -1, 1])),
      (e: Error) => e instanceof ValueError && /radius must be positive.*vmap batch element 1/.test(e.message),
    );
    const bad = tensor([
      [1, 2],
      [3, NaN],
      [4, 5],
    ]);
    assert.throws(
      () => vmap((x: Tensor) => P.simplex(x), { inAxes: 1 })(moveAxis(bad, 0, 1)),
      (e: Error) => e instanceof NonFiniteError && /flat index 1 \(vmap batch element 1\)/.test(e.message),
    );
    assert.throws(
      () =>
        vmap((x: Tensor) => P.l2Sphere(x))(
          tensor([
            [1, 0],
            [0, 0],
          ]),
        ),
      /x is zero \(vmap batch element 1\)/,
    );
  });
});

describe("vmap: prox operators and losses", () => {
  const lam = tensor([0.1, 0.5, 5]);
  test("prox operators with a batched regularisation", () => {
    checkBatched((x, l) => prox.lasso(x, l), [X, lam], [0, 0], "lasso");
    checkBatched((x, l) => prox.nonNegativeLasso(x, l), [X, lam], [0, 0], "nonNegativeLasso");
    checkBatched((x, l) => prox.elasticNet(x, [l, l]), [X, lam], [0, 0], "elasticNet");
    checkBatched((x, l) => prox.groupLasso(x, l), [X, lam], [0, 0], "groupLasso (one element zeroed)");
    checkBatched((x, l) => prox.ridge(x, l), [X, lam], [0, 0], "ridge");
    checkBatched((x, l) => prox.nonNegativeRidge(x, l), [X, lam], [0, 0], "nonNegativeRidge");
  });

  test("losses with batched labels and scores", () => {
    const yb = tensor([0, 1, 1]);
    const sb = tensor([0.3, -1, 2]);
    const yc = tensor([0, 3, 1]);
    for (const [name, f] of [
      ["binaryLogistic", loss.binaryLogistic],
      ["hinge", loss.hinge],
      ["sparsemax", loss.sparsemax],
      ["perceptron", loss.perceptron],
      ["huber", (y: Tensor, s: Tensor) => loss.huber(y, s)],
    ] as const) {
      checkBatched((y, s) => f(y, s), [yb, sb], [0, 0], name);
    }
    for (const [name, f] of [
      ["multiclassLogistic", loss.multiclassLogistic],
      ["multiclassHinge", loss.multiclassHinge],
      ["multiclassSparsemax", loss.multiclassSparsemax],
      ["multiclassPerceptron", loss.multiclassPerceptron],
    ] as const) {
      checkBatched((y, s) => f(y, s), [yc, X], [0, 0], name);
      checkBatched((s) => f(tensor(2), s), [X], [0], `${name}, label shared`);
    }
    assert.throws(
      () =>
        vmap((y: Tensor) => loss.multiclassLogistic(y, X))(
          tensor([
            [0, 1, 2],
            [0, 4, 1],
          ]),
        ),
      /label 4 at flat index 1 \(vmap batch element 1\)/,
    );
  });
});

describe("forEachElement", () => {
  test("hands each element's values in its own layout, under nested vmaps and derivative tracers", () => {
    // x[i, j, k] = 100 i + 10 j + k; vmap over axis 2 outside, axis 0 inside: element (k, i) is x[i, :, k].
    const x = new Tensor(
      Float64Array.from({ length: 2 * 3 * 4 }, (_, f) => {
        const [i, j, k] = [Math.floor(f / 12), Math.floor(f / 4) % 3, f % 4];
        return 100 * i + 10 * j + k;
      }),
      [2, 3, 4],
    );
    const seen: number[][] = [];
    const inner = (v: Tensor) => {
      grad((w: Tensor) => {
        forEachElement(w, (d) => seen.push([...d]));
        return sum(w);
      })(v);
      return v;
    };
    vmap((u: Tensor) => vmap(inner, { inAxes: 0 })(u), { inAxes: 2 })(x);
    const expected: number[][] = [];
    for (let k = 0; k < 4; k++) for (let i = 0; i < 2; i++) expected.push([0, 1, 2].map((j) => 100 * i + 10 * j + k));
    assert.deepEqual(seen, expected);
  });
});
