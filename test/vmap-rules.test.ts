/**
 * Batching rules of the indexing, ordering, diagonal and matrix-product ops (issue 11): every op under `vmap`,
 * over each meaningful axis and with some arguments unbatched (`inAxes` null), against a JavaScript loop of the
 * unbatched call; derivatives of vmapped calls (`grad(vmap(…))`, `vmap(grad(…))`) against the loop too.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  Tensor,
  argsort,
  at,
  diag,
  diagonal,
  grad,
  matmul,
  matmulNT,
  matmulTN,
  moveAxis,
  mul,
  dot,
  outer,
  scatterAdd,
  slice,
  sort,
  square,
  stack,
  sum,
  take,
  tensor,
  trace,
  tril,
  triu,
  vmap,
  ValueError,
} from "../src/index.js";
import { assertClose, randn, rng } from "./helpers.js";

type Axis = number | null;

/** Element `b` of `x` along `axis` (x itself when the axis is null). */
function element(x: Tensor, axis: Axis, b: number): Tensor {
  if (axis === null) return x;
  return take(moveAxis(x, axis, 0), b, 0);
}

/** f over the batch by a loop: per-element calls stacked along axis 0. */
function loop(f: (...xs: Tensor[]) => Tensor, args: Tensor[], inAxes: Axis[]): Tensor {
  const size = args[inAxes.findIndex((a) => a !== null)]!.shape[inAxes.find((a) => a !== null)!]!;
  const outs: Tensor[] = [];
  for (let b = 0; b < size; b++) outs.push(f(...args.map((x, i) => element(x, inAxes[i]!, b))));
  return stack(outs, 0);
}

/** vmap(f) against the loop, values and the gradient of a scalar function of the batched output. */
function checkBatched(f: (...xs: Tensor[]) => Tensor, args: Tensor[], inAxes: Axis[], what: string): void {
  const batched = vmap(f, { inAxes })(...args) as Tensor;
  assertClose(batched, loop(f, args, inAxes), { rtol: 1e-12, atol: 1e-12 }, `${what}: value`);
  // grad(vmap(f)) in every batched argument against the loop's gradient.
  const loss =
    (g: (...xs: Tensor[]) => Tensor) =>
    (...xs: Tensor[]) =>
      sum(square(g(...xs)));
  args.forEach((_, i) => {
    if (inAxes[i] === null && i > 0) return;
    const viaVmap = grad(
      loss((...xs) => vmap(f, { inAxes })(...xs) as Tensor),
      { argnums: i },
    )(...args) as Tensor;
    const viaLoop = grad(
      loss((...xs) => loop(f, xs, inAxes)),
      { argnums: i },
    )(...args) as Tensor;
    assertClose(viaVmap, viaLoop, { rtol: 1e-10, atol: 1e-12 }, `${what}: grad(vmap) in argument ${i}`);
  });
}

/** vmap(grad(g)) against a loop of grad(g), batching argument 0 along `axis`. */
function checkPerExampleGrad(g: (...xs: Tensor[]) => Tensor, args: Tensor[], inAxes: Axis[], what: string): void {
  const perElement = grad(g) as (...xs: Tensor[]) => Tensor;
  const batched = vmap(perElement, { inAxes })(...args) as Tensor;
  assertClose(batched, loop(perElement, args, inAxes), { rtol: 1e-10, atol: 1e-12 }, `${what}: vmap(grad)`);
}

const r = rng(11);

describe("vmap: indexing (gather / scatter)", () => {
  const x = randn(r, [3, 4, 5]);
  test("slice, take and at over every axis", () => {
    for (const axis of [0, 1, 2]) {
      checkBatched((v) => slice(v, 1, [null, null, -1]), [x], [axis], `slice axis ${axis}`);
      checkBatched((v) => take(v, [2, 0, 2], 1), [x], [axis], `take axis ${axis}`);
      checkBatched((v) => at(v, 0).add(mul(v.slice(1), 2)), [x], [axis], `at.add axis ${axis}`);
      checkBatched((v) => at(v, null, new Int32Array([1, 0])).set(1), [x], [axis], `at.set axis ${axis}`);
    }
    checkPerExampleGrad((v) => sum(square(take(v, [1, 1, 0], 0))), [x], [2], "take");
  });

  test("scatterAdd with the target or the updates unbatched", () => {
    const target = randn(r, [4, 3]);
    const updates = randn(r, [5, 2, 3]);
    const f = (t: Tensor, u: Tensor) => scatterAdd(t, [3, 3], u, 0);
    checkBatched(f, [target, updates], [null, 0], "scatterAdd (updates batched)");
    checkBatched(f, [randn(r, [4, 5, 3]), updates], [1, 0], "scatterAdd (both batched)");
    checkBatched(f, [randn(r, [4, 3, 2]), randn(r, [2, 3])], [2, null], "scatterAdd (target batched)");
  });

  test("take and scatterAdd with a batch of index arrays", () => {
    const table = randn(r, [4, 3]);
    const idx = tensor([
      [0, 3],
      [-1, 1],
      [2, 2],
    ]);
    checkBatched((t, i) => take(t, i, 0), [table, idx], [null, 0], "take (index batched)");
    checkBatched((t, i) => take(t, i, 1), [randn(r, [3, 4, 3]), tensor([[0], [2], [-3]])], [0, 0], "take (both)");
    checkBatched((t, i) => take(t, i), [table, idx], [null, 0], "take (flat, index batched)");
    const u = randn(r, [3, 2, 3]);
    checkBatched((t, i, v) => scatterAdd(t, i, v, 0), [table, idx, u], [null, 0, 0], "scatterAdd (index batched)");
    assert.throws(() => vmap((i: Tensor) => take(table, i, 0))(tensor([[0, 4]])), ValueError);
  });
});

describe("vmap: sort and argsort", () => {
  const x = randn(r, [3, 4, 5]);
  test("over every batch axis and sort axis", () => {
    for (const bax of [0, 1, 2]) {
      for (const sax of [0, 1]) {
        checkBatched((v) => sort(v, sax), [x], [bax], `sort batch ${bax} axis ${sax}`);
        const batched = vmap((v: Tensor) => argsort(v, sax), { inAxes: bax })(x) as Tensor;
        assertClose(
          batched,
          loop((v) => argsort(v, sax), [x], [bax]),
          {},
          `argsort batch ${bax} axis ${sax}`,
        );
      }
    }
    checkPerExampleGrad((v) => sum(mul(sort(v), tensor([[1, 2, 3, 4, 5]]))), [x], [0], "sort");
  });
});

describe("vmap: diagonals and bands", () => {
  const x = randn(r, [3, 4, 4]);
  test("diagonal, diag, trace, triu, tril over every axis", () => {
    for (const axis of [0, 1, 2]) {
      checkBatched((v) => diagonal(v, 1), [x], [axis], `diagonal axis ${axis}`);
      checkBatched((v) => diag(v), [x], [axis], `diag of a matrix axis ${axis}`);
      checkBatched((v) => trace(v), [x], [axis], `trace axis ${axis}`);
      checkBatched((v) => triu(v, 1), [x], [axis], `triu axis ${axis}`);
      checkBatched((v) => tril(v, -1), [x], [axis], `tril axis ${axis}`);
    }
    checkBatched((v) => diag(v, -1), [randn(r, [3, 2])], [1], "diag of a vector");
    checkPerExampleGrad((v) => sum(square(triu(v))), [x], [2], "triu");
  });
});

describe("vmap: matrix products", () => {
  const A = randn(r, [3, 4]);
  const As = randn(r, [5, 3, 4]);
  const B = randn(r, [4, 2]);
  const Bs = randn(r, [5, 4, 2]);
  test("matmul with either side or both batched, on any axis", () => {
    checkBatched(matmul, [As, B], [0, null], "matmul A batched");
    checkBatched(matmul, [moveAxis(As, 0, 2), B], [2, null], "matmul A batched on its last axis");
    checkBatched(matmul, [A, Bs], [null, 0], "matmul B batched");
    checkBatched(matmul, [A, moveAxis(Bs, 0, 1)], [null, 1], "matmul B batched on axis 1");
    checkBatched(matmul, [As, Bs], [0, 0], "matmul both batched");
    checkBatched(matmul, [moveAxis(As, 0, 1), moveAxis(Bs, 0, 2)], [1, 2], "matmul both batched, other axes");
    checkBatched(matmul, [A, randn(r, [5, 4])], [null, 0], "matrix-vector, vector batched");
    checkBatched(matmul, [randn(r, [5, 4]), randn(r, [5, 4])], [0, 0], "vector-vector (dot) both batched");
    checkBatched(matmul, [randn(r, [5, 2, 3, 4]), B], [0, null], "stacked matrices batched, B not");
    checkBatched(matmul, [randn(r, [2, 3, 4]), Bs], [null, 0], "stacked matrices unbatched, B batched");
    checkPerExampleGrad((w, xb) => sum(square(matmul(xb, w))), [randn(r, [5, 4]), As], [0, null], "matmul");
  });

  test("matmulTN, matmulNT, dot, outer", () => {
    const Ct = randn(r, [4, 3]);
    const Cts = randn(r, [5, 4, 3]);
    checkBatched(matmulTN, [Cts, B], [0, null], "matmulTN A batched");
    checkBatched(matmulTN, [Ct, Bs], [null, 0], "matmulTN B batched");
    checkBatched(matmulTN, [Cts, Bs], [0, 0], "matmulTN both");
    const D = randn(r, [2, 4]);
    const Ds = randn(r, [5, 2, 4]);
    checkBatched(matmulNT, [As, D], [0, null], "matmulNT A batched");
    checkBatched(matmulNT, [A, Ds], [null, 0], "matmulNT B batched");
    checkBatched(matmulNT, [A, moveAxis(Ds, 0, 2)], [null, 2], "matmulNT B batched on its last axis");
    checkBatched(matmulNT, [As, Ds], [0, 0], "matmulNT both");
    checkBatched(dot, [randn(r, [5, 4]), randn(r, [4])], [0, null], "dot of vectors");
    checkBatched(outer, [randn(r, [3, 5]), randn(r, [2])], [1, null], "outer");
  });

  test("a batch of size 0", () => {
    const out = vmap(matmul, { inAxes: [null, 0] })(A, Bs.slice([0, 0])) as Tensor;
    assert.deepEqual([...out.shape], [0, 3, 2]);
  });
});
