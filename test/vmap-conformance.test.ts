/**
 * vmap conformance: the semantics of JAX's batching tests (tests/batching_test.py, lax_vmap_test.py,
 * lax_vmap_op_test.py) restated with diffopt's names — in_axes/out_axes combinations, nested vmaps over different
 * axes, closures over batched values, vmap of Jacobians, empty and one-element batches, ties, stability, linear
 * algebra over every batch axis, random draws — each compared with the JavaScript loop of the unbatched function
 * (to 1e-12, relative) and, for derivatives, in both nesting orders against central finite differences.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  ShapeError,
  Tensor,
  abs,
  add,
  arange,
  argmax,
  argmin,
  argsort,
  at,
  broadcastTo,
  cumprod,
  cumsum,
  div,
  dot,
  equal,
  exp,
  eye,
  grad,
  greater,
  hessian,
  jacfwd,
  jacrev,
  jvp,
  linalg,
  logsumexp,
  matmul,
  matmulNT,
  max,
  maximum,
  mean,
  min,
  moveAxis,
  mul,
  neg,
  ones,
  pow,
  prod,
  random,
  reshape,
  sin,
  slice,
  softmax,
  sort,
  square,
  stack,
  sub,
  sum,
  take,
  tanh,
  tensor,
  transpose,
  valueAndGrad,
  vdot,
  vjp,
  vmap,
  where,
  zeros,
  type Tree,
} from "../src/index.js";
import { flatten, unflatten } from "../src/core/tree.js";
import { checkDerivatives, randn, rng } from "./helpers.js";
import { elementAt } from "./vmap-helpers.js";

type Axis = number | null;
type Fn = (...xs: Tensor[]) => Tree;

/** Asserts two pytrees have the same structure, shapes and values (NaN matching NaN), to `rtol` relative. */
function assertSame(actual: Tree, expected: Tree, rtol = 1e-12, what = ""): void {
  const [la, da] = flatten(actual);
  const [le, de] = flatten(expected);
  assert.deepEqual(da, de, `${what}: tree structure`);
  la.forEach((a, k) => {
    const e = le[k]!;
    assert.deepEqual(a.shape, e.shape, `${what} (leaf ${k}): shape`);
    const x = a.toFloat64Array();
    const y = e.toFloat64Array();
    for (let i = 0; i < x.length; i++) {
      if (Number.isNaN(y[i]!) && Number.isNaN(x[i]!)) continue;
      if (x[i] === y[i]) continue;
      const err = Math.abs(x[i]! - y[i]!);
      if (!(err <= rtol * Math.max(Math.abs(y[i]!), 1e-300) || err <= rtol * 1e-3)) {
        assert.fail(`${what} (leaf ${k}) entry ${i}: ${x[i]} vs ${y[i]} (|diff| ${err.toExponential(2)})`);
      }
    }
  });
}

/** `f` applied by a JavaScript loop over the batch (argument i sliced along inAxes[i]), outputs stacked on `outAxis`. */
function loop(f: Fn, args: Tensor[], inAxes: Axis[], outAxis = 0): Tree {
  const i0 = inAxes.findIndex((a) => a !== null);
  const ax0 = inAxes[i0]!;
  const size = args[i0]!.shape[ax0 < 0 ? ax0 + args[i0]!.ndim : ax0]!;
  const outs = Array.from({ length: size }, (_, b) =>
    flatten(f(...args.map((x, i) => (inAxes[i] === null ? x : elementAt(x, inAxes[i]!, b))))),
  );
  const stacked = outs[0]![0].map((_, k) => stack(outs.map((o) => o[0][k]!)));
  return unflatten(
    outs[0]![1],
    stacked.map((s) => moveAxis(s, 0, outAxis)),
  );
}

/** vmap(f) over `inAxes` equals the loop, for every output axis (negative ones included). */
function matchesLoop(f: Fn, args: Tensor[], inAxes: Axis[], what: string, rtol = 1e-12): void {
  const ref = loop(f, args, inAxes);
  assertSame(vmap(f, { inAxes })(...args) as Tree, ref, rtol, what);
  const [leaves] = flatten(ref);
  if (leaves.length !== 1) return;
  for (let o = -leaves[0]!.ndim; o < leaves[0]!.ndim; o++) {
    assertSame(
      vmap(f, { inAxes, outAxes: o })(...args) as Tree,
      loop(f, args, inAxes, o),
      rtol,
      `${what} outAxes ${o}`,
    );
  }
}

const r = rng(20261202);
/** A random tensor of per-element `shape` with a batch of `size` inserted at `axis`. */
function batchAt(shape: number[], axis: number, size = 3): Tensor {
  const s = [...shape];
  s.splice(axis, 0, size);
  return randn(r, s);
}

describe("ported from JAX batching_test.py", () => {
  test("a constant function (and a number) is broadcast along the batch", () => {
    assertSame(vmap((_x: Tensor) => 3 as never)(ones([4])) as Tensor, tensor([3, 3, 3, 3]));
    assertSame(
      vmap((_x: Tensor) => tensor([1, 2]), { outAxes: 1 })(ones([4])),
      broadcastTo(tensor([[1], [2]]), [2, 4]),
    );
    assertSame(vmap(grad((_x: Tensor) => tensor(1)))(ones([3, 2])), zeros([3, 2]));
  });

  test("nested batching: matvec = vmap(vdot, [0, null]), matmat = vmap(matvec, [null, 1], outAxes 1)", () => {
    const matvec = vmap(vdot, { inAxes: [0, null] });
    const matmat = vmap(matvec, { inAxes: [null, 1], outAxes: 1 });
    const A = randn(r, [4, 3]);
    const B = randn(r, [3, 2]);
    assertSame(matmat(A, B), matmul(A, B), 1e-14);
  });

  test("per-example gradients of a two-layer network with parameters and data as pytrees", () => {
    type Params = [Tensor, Tensor][];
    const predict = (params: Params, input: Tensor) => {
      let h = input;
      let out = input;
      for (const [W, b] of params) {
        out = add(matmul(W, h), b);
        h = tanh(out);
      }
      return out;
    };
    const loss = (params: Params, data: [Tensor, Tensor]) => sum(square(sub(predict(params, data[0]), data[1])));
    const sizes = [3, 2, 4];
    const params: Params = [0, 1].map((l) => [randn(r, [sizes[l + 1]!, sizes[l]!]), randn(r, [sizes[l + 1]!])]);
    const batch: [Tensor, Tensor] = [randn(r, [5, 3]), randn(r, [5, 4])];
    const got = vmap((data: [Tensor, Tensor]) => grad(loss)(params, data))(batch) as unknown as Params;
    got.forEach(([dW, db], l) => {
      assert.deepEqual(dW.shape, [5, ...params[l]![0].shape]);
      assert.deepEqual(db.shape, [5, ...params[l]![1].shape]);
    });
    const ref = loop((x, y) => grad(loss)(params, [x, y]) as unknown as Tree, batch, [0, 0]);
    assertSame(got as unknown as Tree, ref, 1e-12, "per-example grads");
    // the same with inAxes as a prefix tree: parameters shared, data batched
    const viaPrefix = vmap(grad(loss), { inAxes: [null, [0, 0]] })(params, batch) as unknown as Tree;
    assertSame(viaPrefix, ref, 1e-12, "prefix inAxes");
  });

  test("Jacobians built by hand: vmap of the pullback (outAxes = ndim y) and of the pushforward (outAxes [null, 0])", () => {
    const A = randn(r, [4, 3]);
    const b = randn(r, [4]);
    const f = (x: Tensor) => tanh(add(matmul(A, x), b));
    const x = randn(r, [3]);
    const [, pullback] = vjp(f, x);
    const jacBwd = vmap((ct: Tensor) => (pullback(ct) as Tensor[])[0]!, { outAxes: 0 })(eye(4));
    const [y, jacFwd] = vmap((v: Tensor) => jvp(f, [x], [v]) as [Tensor, Tensor], { outAxes: [null, 1] })(
      eye(3),
    ) as Tensor[];
    assertSame(y!, f(x));
    assertSame(jacBwd, jacFwd!, 1e-14);
    assertSame(jacFwd!, jacfwd(f)(x), 1e-14);
    assertSame(jacBwd, jacrev(f)(x), 1e-14);
  });

  test("hessian of sum(max(x, 0)²) + t (batching_test testHessian), and its vmap over a batch of points", () => {
    const fun = (x: Tensor) => sum(pow(maximum(x, 0), 2));
    const x = tensor([-1, -0.5, 0, 0.5, 1]);
    // at the tie x = 0, diffopt's maximum gives the derivative to its first operand (documented), where JAX
    // splits it (0.5 there): 2 at the middle entry
    assertSame(hessian(fun)(x), mul(eye(5), tensor([0, 0, 2, 2, 2])));
    const xs = stack([x, neg(x)]);
    matchesLoop(hessian(fun), [xs], [0], "vmap(hessian)");
  });

  test("dynamic indexing: an index shared, batched with the tensor, or batched alone (testDynamicSlice)", () => {
    const x = reshape(arange(30), [10, 3]);
    assertSame(vmap((v: Tensor) => take(v, 1))(x), slice(x, null, 1));
    const idx = tensor([0, 1, 2, 1, 0, 0, 1, 2, 1, 0]);
    const rows = tensor([0, 4, 8, 10, 12, 15, 19, 23, 25, 27]);
    assertSame(vmap((v: Tensor, i: Tensor) => take(v, i))(x, idx), rows);
    assertSame(vmap((i: Tensor) => take(tensor([5, 6, 7]), i))(idx), take(tensor([5, 6, 7]), idx));
  });

  test("dynamic update: at(...).set with the index shared or batched (testDynamicUpdateSlice)", () => {
    const x = randn(r, [10, 3]);
    const y = randn(r, [10]);
    const got = vmap((v: Tensor, u: Tensor) => at(v, 1).set(u))(x, y);
    matchesLoop((v, u) => at(v, 1).set(u), [x, y], [0, 0], "set at a shared index");
    assertSame(slice(got, null, 1), y);
    const idx = tensor([0, 1, 2, 1, 0, 0, 1, 2, 1, 0]);
    const base = randn(r, [3]);
    matchesLoop((u, i) => at(base, i).set(u), [y, idx], [0, 0], "set at a batched index");
  });

  test("index add with only the indices batched gives the identity (testIndexAddBatchedIndexesOnly)", () => {
    const got = vmap((x: Tensor, i: Tensor, v: Tensor) => at(x, i).add(v), { inAxes: [null, 0, null] })(
      zeros([10]),
      arange(10),
      tensor(1),
    );
    assertSame(got, eye(10));
  });

  test("sort along each axis with the batch on either axis, and outAxes 1 (testSort)", () => {
    const v = reshape(tensor([11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0]), [3, 4]);
    const rev = (t: Tensor, axis: number) => take(t, arange(t.shape[axis]! - 1, -1, -1), axis);
    assertSame(vmap((t: Tensor) => sort(t, 0))(v), rev(v, 1));
    assertSame(vmap((t: Tensor) => sort(t, -1))(v), rev(v, 1));
    assertSame(vmap((t: Tensor) => sort(t, 0), { inAxes: 1 })(v), transpose(rev(v, 0)));
    assertSame(vmap((t: Tensor) => sort(t, 0), { inAxes: 1, outAxes: 1 })(v), rev(v, 0));
  });

  test("sorting values by keys (argsort then take), keys and values batched on different axes (testSortKeyVal)", () => {
    const k = reshape(tensor([11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0]), [3, 4]);
    const v = randn(r, [3, 4]);
    const sortKV = (keys: Tensor, vals: Tensor) => {
      const order = argsort(keys, 0);
      return [take(keys, order), take(vals, order)];
    };
    for (const [inAxes, args] of [
      [
        [0, 0],
        [k, v],
      ],
      [
        [1, 1],
        [k, v],
      ],
      [
        [0, 1],
        [k, transpose(v)],
      ],
      [
        [null, 0],
        [slice(k, 0), v],
      ],
      [
        [1, null],
        [transpose(k), slice(v, 0)],
      ],
    ] as [Axis[], Tensor[]][]) {
      matchesLoop(sortKV, args, inAxes, `sort_key_val inAxes ${JSON.stringify(inAxes)}`);
    }
  });

  test("transposes and permutations with the batch on axis 0 or 2 (testTranspose, testTransposePermutation)", () => {
    const x = reshape(arange(36), [4, 3, 3]);
    assertSame(vmap((t: Tensor) => add(t, transpose(t)))(x), add(x, transpose(x, [0, 2, 1])));
    const y = reshape(arange(360), [6, 3, 4, 5]);
    assertSame(vmap((t: Tensor) => transpose(t, [1, 0, 2]))(y), transpose(y, [0, 2, 1, 3]));
    assertSame(vmap((t: Tensor) => transpose(t, [1, 2, 0]))(y), transpose(y, [0, 2, 3, 1]));
    const z = reshape(arange(360), [3, 4, 6, 5]);
    assertSame(vmap((t: Tensor) => transpose(t, [1, 2, 0]), { inAxes: 2 })(z), transpose(z, [2, 1, 3, 0]));
  });

  test("grad of a vmapped Cholesky-based loss equals the loop of grads (testIssue354)", () => {
    const m = randn(r, [8, 4]);
    const psd = matmul(transpose(m), m);
    const vec = randn(r, [4]);
    const f = (scale: Tensor) => mul(-0.5, sum(square(matmul(linalg.cholesky(mul(scale, psd)).L, vec))));
    const scales = tensor([[0.1], [0.2], [0.3], [0.4], [0.5]]);
    const got = grad((s: Tensor) => sum(vmap(f)(s) as Tensor))(scales);
    assertSame(got, loop(grad(f), [scales], [0]), 1e-12);
  });

  test("empty tuples among the arguments and outputs (testEmptyTuples); any over booleans (testAny)", () => {
    assertSame(vmap((x: Tensor, _e: []) => add(x, 1))(tensor([0, 1]), []), tensor([1, 2]));
    const [y, e] = vmap((x: Tensor) => [add(x, 1), []])(tensor([0, 1])) as [Tensor, []];
    assertSame(y, tensor([1, 2]));
    assert.deepEqual(e, []);
    assertSame(
      vmap((x: Tensor) => max(x))(
        tensor([
          [1, 0],
          [0, 0],
        ]),
      ),
      tensor([1, 0]),
    );
  });

  test("negative in/out axes (testNegativeAxes)", () => {
    const x = reshape(arange(60), [3, 4, 5]);
    assertSame(vmap((t: Tensor) => sum(t), { inAxes: -3 })(x), sum(x, { axis: [1, 2] }));
    assertSame(vmap((t: Tensor) => sum(t), { inAxes: -2 })(x), sum(x, { axis: [0, 2] }));
    assertSame(vmap((t: Tensor) => t, { outAxes: -3 })(x), x);
    assertSame(vmap((t: Tensor) => t, { outAxes: -2 })(x), transpose(x, [1, 0, 2]));
    assertSame(vmap((t: Tensor) => t, { outAxes: -1 })(x), transpose(x, [1, 2, 0]));
  });
});

describe("inAxes and outAxes trees", () => {
  test("dict arguments with per-key axes (negative, null), nested lists, and a prefix axis for a subtree", () => {
    const p = { w: batchAt([2], 1), b: randn(r, [2]), deep: [batchAt([2, 2], 2), { s: batchAt([], 0) }] };
    const f = (q: typeof p) =>
      add(mul(q.w, q.b), add(sum(q.deep[0] as Tensor, { axis: 0 }), (q.deep[1] as { s: Tensor }).s));
    const got = vmap(f, { inAxes: [{ w: -1, b: null, deep: [-1, 0] }] })(p);
    const ref = loop(
      (w, d0, s) => f({ w, b: p.b, deep: [d0, { s }] }),
      [p.w, p.deep[0] as Tensor, (p.deep[1] as { s: Tensor }).s],
      [1, 2, 0],
    );
    assertSame(got, ref);
  });

  test("outAxes as a tree: an axis per output, null for an unbatched one, numbers in objects", () => {
    const x = batchAt([2, 3], 0);
    const out = vmap((v: Tensor) => ({ a: v, b: { c: sum(v, { axis: 0 }), d: tensor(2) }, e: [exp(v)] }), {
      outAxes: { a: 2, b: { c: -1, d: null }, e: 1 },
    })(x);
    assertSame(out.a, moveAxis(x, 0, 2));
    assertSame(out.b.c, moveAxis(sum(x, { axis: 1 }), 0, -1));
    assertSame(out.b.d, tensor(2));
    assertSame(out.e[0]!, moveAxis(exp(x), 0, 1));
  });

  test("the same tensor passed twice, batched along different axes", () => {
    const x = reshape(arange(9), [3, 3]);
    assertSame(vmap((a: Tensor, b: Tensor) => sub(a, b), { inAxes: [0, 1] })(x, x), sub(x, transpose(x)));
  });
});

describe("nested vmaps and closures over batched values", () => {
  test("vmap(vmap(f, inAxes 1), inAxes 0) and other axis pairs equal the double loop", () => {
    const x = batchAt([4, 5], 0, 2);
    const f = (t: Tensor) => mul(sin(t), sum(t));
    for (const [outer, inner] of [
      [0, 1],
      [0, 0],
      [1, 0],
      [2, 1],
      [-1, -1],
    ] as const) {
      const got = vmap(vmap(f, { inAxes: inner }), { inAxes: outer })(x);
      const ref = loop((o) => loop(f, [o], [inner]), [x], [outer]);
      assertSame(got, ref, 1e-12, `axes ${outer}, ${inner}`);
    }
  });

  test("three levels over different axes, with the middle one moving its output axis", () => {
    const x = randn(r, [2, 3, 4, 5]);
    const f = (t: Tensor) => sum(square(t));
    const got = vmap(vmap(vmap(f, { inAxes: 1 }), { inAxes: 2, outAxes: 1 }), { inAxes: 0 })(x);
    const ref = loop((a) => loop((b) => loop(f, [b], [1]), [a], [2], 1), [x], [0]);
    assertSame(got, ref);
  });

  test("an inner vmap closing over the outer batched value (an outer product of batches)", () => {
    const X = randn(r, [3, 2]);
    const Y = randn(r, [4, 2]);
    const got = vmap((x: Tensor) => vmap((y: Tensor) => dot(x, y))(Y))(X);
    assertSame(got, matmulNT(X, Y), 1e-14);
    // and a grad inside the inner vmap, differentiating in the inner value only
    const g = vmap((x: Tensor) => vmap(grad((y: Tensor) => mul(sum(mul(x, y)), sum(y))))(Y))(X);
    const gRef = loop(
      (x) =>
        loop(
          grad((y: Tensor) => mul(sum(mul(x, y)), sum(y))),
          [Y],
          [0],
        ),
      [X],
      [0],
    );
    assertSame(g, gRef);
  });

  test("grad inside vmap closing over the batched value, and vmap inside grad closing over the traced one", () => {
    const A = randn(r, [3, 2]);
    const x0 = tensor([0.3, -0.7]);
    const got = vmap((a: Tensor) => grad((x: Tensor) => sum(mul(a, exp(x))))(x0))(A);
    assertSame(got, mul(A, exp(x0)));
    const g = grad((w: Tensor) => sum(vmap((a: Tensor) => sum(mul(w, sin(a))))(A) as Tensor))(x0);
    assertSame(g, sum(sin(A), { axis: 0 }));
  });
});

describe("vmap of Jacobians, Hessians and gradients with auxiliary outputs", () => {
  const f = (x: Tensor) => mul(sin(x), sum(square(x)));
  const s = (x: Tensor) => sum(mul(sin(x), x));
  test("vmap(jacfwd), vmap(jacrev), vmap(hessian) over either axis equal the loop", () => {
    for (const ax of [0, 1]) {
      const xs = batchAt([3], ax);
      matchesLoop(jacfwd(f), [xs], [ax], `jacfwd ax ${ax}`);
      matchesLoop(jacrev(f), [xs], [ax], `jacrev ax ${ax}`);
      matchesLoop(hessian(s), [xs], [ax], `hessian ax ${ax}`);
    }
  });

  test("jacfwd and jacrev of a vmapped function are block diagonal with the per-element Jacobians", () => {
    const xs = batchAt([3], 0, 2);
    const J = jacfwd(vmap(f))(xs);
    assertSame(jacrev(vmap(f))(xs), J, 1e-13);
    for (let b = 0; b < 2; b++) {
      for (let c = 0; c < 2; c++) {
        const block = slice(slice(J, b), null, c);
        assertSame(block, b === c ? jacfwd(f)(slice(xs, b)) : zeros([3, 3]), 1e-13);
      }
    }
  });

  test("grad and valueAndGrad with hasAux and argnums under vmap", () => {
    const xs = batchAt([2], 0);
    const withAux = (x: Tensor) => [s(x), mul(x, 2)] as [Tensor, Tensor];
    const [g, aux] = vmap(grad(withAux, { hasAux: true }))(xs) as unknown as [Tensor, Tensor];
    assertSame(g, loop(grad(s), [xs], [0]));
    assertSame(aux, mul(xs, 2));
    const [[v, aux2], g2] = vmap(valueAndGrad(withAux, { hasAux: true }))(xs) as unknown as [[Tensor, Tensor], Tensor];
    assertSame(v, loop(s, [xs], [0]));
    assertSame(aux2, mul(xs, 2));
    assertSame(g2, g);
    const two = (w: Tensor, x: Tensor) => sum(mul(w, sin(x)));
    const w = randn(r, [2]);
    const grads = vmap(grad(two, { argnums: [0, 1] }), { inAxes: [null, 0] })(w, xs) as unknown as Tree;
    assertSame(
      grads,
      loop((x) => grad(two, { argnums: [0, 1] })(w, x) as unknown as Tree, [xs], [0]),
    );
  });

  test("derivatives in both nesting orders against central finite differences", () => {
    const g = (x: Tensor) => sum(mul(exp(mul(x, 0.5)), sin(x)));
    for (const ax of [0, 1]) {
      const xs = batchAt([3], ax, 2);
      // grad(vmap): the Jacobian of the batched values; vmap(grad): the Jacobian is the per-element Hessians
      checkDerivatives((x) => vmap(g, { inAxes: ax })(x), [xs], {}, `vmap(g) ax ${ax}`);
      checkDerivatives((x) => vmap(grad(g), { inAxes: ax, outAxes: ax })(x), [xs], {}, `vmap(grad(g)) ax ${ax}`);
      checkDerivatives((x) => grad((y: Tensor) => sum(vmap(g, { inAxes: ax })(y)))(x), [xs], {}, `grad(vmap) ax ${ax}`);
    }
  });
});

describe("batch sizes 0 and 1, scalar outputs", () => {
  const fns: [string, (x: Tensor) => Tensor][] = [
    ["elementwise", (x) => mul(sin(x), 2)],
    ["reduction to a scalar", (x) => sum(x)],
    ["softmax", (x) => softmax(x)],
    ["sort", (x) => sort(x)],
    ["argmax", (x) => argmax(x)],
    ["cumsum", (x) => cumsum(x)],
    ["outer product", (x) => matmul(reshape(x, [3, 1]), reshape(x, [1, 3]))],
  ];
  for (const [name, fn] of fns) {
    test(`${name}: an empty batch keeps the per-element shape; a batch of one equals the single call`, () => {
      const one = randn(r, [3]);
      const out0 = vmap(fn)(zeros([0, 3]));
      assert.deepEqual(out0.shape, [0, ...fn(one).shape]);
      assertSame(vmap(fn, { inAxes: 1 })(reshape(one, [3, 1])), reshape(fn(one), [1, ...fn(one).shape]));
      assert.deepEqual(vmap(grad((x: Tensor) => sum(fn(x))))(zeros([0, 3])).shape, [0, 3]);
    });
  }
  test("scalar outputs stack to a vector at outAxes 0 or -1", () => {
    const xs = randn(r, [4, 3]);
    assertSame(vmap((x: Tensor) => sum(x), { outAxes: -1 })(xs), sum(xs, { axis: 1 }));
    assertSame(vmap((x: Tensor) => sum(x), { inAxes: 1 })(xs), sum(xs, { axis: 0 }));
  });
});

describe("op semantics that a batch must not change", () => {
  test("argmax/argmin: the first of tied entries, per element, flattened or per axis with keepdims", () => {
    const ties = tensor([
      [1, 3, 3, 0],
      [2, 2, 2, 2],
      [5, 1, 5, 5],
    ]);
    assertSame(vmap((x: Tensor) => argmax(x))(ties), tensor([1, 0, 0]));
    assertSame(vmap((x: Tensor) => argmin(x))(ties), tensor([3, 0, 1]));
    assertSame(vmap((x: Tensor) => argmax(x), { inAxes: 1 })(ties), tensor([2, 0, 2, 2]));
    const t3 = tensor([
      [
        [1, 1],
        [0, 0],
      ],
      [
        [2, 1],
        [1, 1],
      ],
    ]);
    for (const ax of [0, 1, 2]) {
      matchesLoop((x) => argmax(x, { axis: -1, keepdims: true }), [t3], [ax], `argmax keepdims ax ${ax}`);
      matchesLoop((x) => argmin(x, { axis: 0 }), [t3], [ax], `argmin ax ${ax}`);
    }
  });

  test("sort and argsort are stable (equal keys keep their order), NaN last, with the batch on any axis", () => {
    const keys = tensor([
      [1, 1, 0, 1],
      [2, 0, 2, 0],
      [3, 3, 3, 3],
      [NaN, 1, NaN, 0],
    ]);
    assertSame(
      vmap((x: Tensor) => argsort(x))(keys),
      tensor([
        [2, 0, 1, 3],
        [1, 3, 0, 2],
        [0, 1, 2, 3],
        [3, 1, 0, 2],
      ]),
    );
    for (const ax of [0, 1]) {
      matchesLoop((x) => argsort(x), [keys], [ax], `argsort ax ${ax}`);
      matchesLoop((x) => sort(x), [keys], [ax], `sort ax ${ax}`);
    }
  });

  test("cumulative ops along an axis next to, before or after the batch axis", () => {
    for (const ax of [0, 1, 2]) {
      const x = batchAt([3, 4], ax);
      for (const axis of [0, 1, -1]) {
        matchesLoop((v) => cumsum(v, axis), [x], [ax], `cumsum ax ${ax} axis ${axis}`);
        matchesLoop((v) => cumprod(v, axis), [x], [ax], `cumprod ax ${ax} axis ${axis}`);
      }
      matchesLoop((v) => cumsum(v), [x], [ax], `cumsum flattened ax ${ax}`);
    }
  });

  test("reductions with keepdims and axis lists (negative axes included)", () => {
    const reductions: [string, (x: Tensor, o: { axis?: number | number[]; keepdims?: boolean }) => Tensor][] = [
      ["sum", sum],
      ["mean", mean],
      ["prod", prod],
      ["max", max],
      ["min", min],
      ["logsumexp", logsumexp],
    ];
    for (const [name, red] of reductions) {
      for (const ax of [0, 1, 3]) {
        const x = batchAt([2, 3, 4], ax);
        for (const opts of [{}, { keepdims: true }, { axis: 1, keepdims: true }, { axis: [0, -1] }, { axis: -2 }]) {
          matchesLoop((v) => red(v, opts), [x], [ax], `${name} ${JSON.stringify(opts)} ax ${ax}`);
        }
      }
    }
  });

  test("reshape with -1, and shapes with a zero-length axis per element", () => {
    for (const ax of [0, 1, 2]) {
      const x = batchAt([4, 6], ax);
      for (const shape of [[-1], [2, -1], [-1, 3, 2], [24, 1, -1]]) {
        matchesLoop((v) => reshape(v, shape), [x], [ax], `reshape ${JSON.stringify(shape)} ax ${ax}`);
      }
    }
    assert.deepEqual(vmap((v: Tensor) => reshape(v, [-1, 5]))(zeros([3, 0, 5])).shape, [3, 0, 5]);
    // -1 beside a 0 is ambiguous, under vmap as without (NumPy's rule)
    assert.throws(() => vmap((v: Tensor) => reshape(v, [5, 0, -1]))(zeros([3, 0, 5])), ShapeError);
    assert.throws(() => reshape(zeros([0, 5]), [5, 0, -1]), ShapeError);
    assertSame(vmap((v: Tensor) => sum(v))(zeros([3, 0])), zeros([3]));
  });

  test("where with only the condition batched, and with each operand batched in turn", () => {
    const c = tensor([
      [1, 0, 1],
      [0, 0, 1],
    ]);
    const a = randn(r, [3]);
    const b = randn(r, [2, 3]);
    assertSame(vmap((cc: Tensor) => where(cc, a, -1))(c), where(c, a, -1));
    matchesLoop((cc, bb) => where(cc, a, bb), [c, b], [0, 0], "condition and b");
    matchesLoop((cc) => where(cc, b, a), [tensor([1, 0, 1])], [0], "scalar condition, matrix operand");
    matchesLoop((bb) => where(greater(a, 0), bb, neg(bb)), [b], [0], "only a value batched");
  });

  test("broadcasting a batched operand against an unbatched one of lower or higher rank", () => {
    const lower = randn(r, [3]);
    const higher = randn(r, [4, 1, 2]);
    for (const ax of [0, 1]) {
      matchesLoop((v) => add(v, higher), [batchAt([2], ax)], [ax], `vector + rank 3, ax ${ax}`);
      matchesLoop((v) => mul(v, lower), [batchAt([4, 3], ax)], [ax], `matrix * vector, ax ${ax}`);
      matchesLoop((v) => div(higher, add(abs(v), 1)), [batchAt([], 0)], [0], "scalar batch / rank 3");
    }
  });

  test("matmul with the batch on either side, vector operands and stacks of matrices", () => {
    const M = randn(r, [4, 5]);
    const v5 = randn(r, [5]);
    const S = randn(r, [2, 3, 4]);
    const cases: [string, Fn, Tensor[], Axis[]][] = [
      ["batched vector @ matrix", (v) => matmul(v, M), [batchAt([4], 1)], [1]],
      ["matrix @ batched vector", (v) => matmul(M, v), [batchAt([5], 0)], [0]],
      ["batched matrix @ vector", (m) => matmul(m, v5), [batchAt([4, 5], 2)], [2]],
      [
        "vector @ vector, both batched on different axes",
        (a, b) => matmul(a, b),
        [batchAt([5], 0), batchAt([5], 1)],
        [0, 1],
      ],
      ["stack of matrices @ shared matrix", (a) => matmul(a, transpose(M)), [batchAt([2, 3, 5], 1)], [1]],
      ["shared stack @ batched matrix", (b) => matmul(S, b), [batchAt([4, 2], 2)], [2]],
      [
        "both batched, broadcasting stacks",
        (a, b) => matmul(a, b),
        [batchAt([2, 3, 4], 0), batchAt([1, 4, 2], 3)],
        [0, 3],
      ],
    ];
    for (const [name, f, args, inAxes] of cases) matchesLoop(f, args, inAxes, name, 1e-13);
  });
});

describe("dense linear algebra over every batch axis", () => {
  const spd = (a: Tensor) => add(matmulNT(a, a), mul(eye(3), 3));
  const dominant = (a: Tensor) => add(a, mul(eye(3), 3));
  const fns: [string, (a: Tensor) => Tree][] = [
    [
      "solve",
      (a) =>
        linalg.solve(
          dominant(a),
          tensor([
            [1, 0],
            [0, 1],
            [1, 1],
          ]),
        ),
    ],
    ["cholesky", (a) => linalg.cholesky(spd(a)).L],
    ["cholesky solve", (a) => linalg.cholesky(spd(a)).solve(tensor([1, 2, 3]))],
    [
      "qr",
      (a) => {
        const { Q, R } = linalg.qr(a);
        return [Q, R];
      },
    ],
    [
      "svd values and |u|",
      (a) => {
        const { u, s } = linalg.svd(a);
        return [s, abs(u)];
      },
    ],
    [
      "eigh values and |vectors|",
      (a) => {
        const { eigenvalues, eigenvectors } = linalg.eigh(spd(a));
        return [eigenvalues, abs(eigenvectors)];
      },
    ],
    ["det", (a) => linalg.det(a)],
    [
      "slogdet",
      (a) => {
        const { sign, logabsdet } = linalg.slogdet(a);
        return [sign, logabsdet];
      },
    ],
    ["inv", (a) => linalg.inv(dominant(a))],
    ["pinv", (a) => linalg.pinv(a)],
    ["lstsq", (a) => linalg.lstsq(a, tensor([1, 0, 2]))],
    [
      "triangularSolve",
      (a) => linalg.triangularSolve(dominant(a), tensor([1, 2, 3]), { lower: false, transpose: true }),
    ],
  ];
  for (const [name, fn] of fns) {
    test(`${name}: values and per-example gradients against the loop, batch on axis 0, 1 or 2`, () => {
      for (const ax of [0, 1, 2]) {
        const A = batchAt([3, 3], ax, 4);
        matchesLoop(fn, [A], [ax], `${name} ax ${ax}`, 1e-11);
        const l = (a: Tensor) => flatten(fn(a))[0].reduce((acc: Tensor, t) => add(acc, sum(mul(t, sin(t)))), tensor(0));
        matchesLoop(grad(l), [A], [ax], `grad ${name} ax ${ax}`, 1e-10);
      }
    });
  }

  test("a shared matrix with a batch of right-hand sides, and both batched on different axes", () => {
    const A = add(randn(r, [3, 3]), mul(eye(3), 3));
    matchesLoop((b) => linalg.solve(A, b), [batchAt([3], 1)], [1], "shared A");
    matchesLoop(
      (a, b) => linalg.solve(a, b),
      [add(batchAt([3, 3], 2), mul(eye(3), 3)), batchAt([3, 2], 0)],
      [2, 0],
      "both",
    );
    matchesLoop((b) => linalg.triangularSolve(A, b, { lower: true }), [batchAt([3, 2], 2)], [2], "triangular, shared");
  });

  test("derivatives of batched factorisations against finite differences, both nesting orders", () => {
    const A = add(batchAt([3, 3], 0, 2), mul(eye(3), 3));
    const g = (a: Tensor) => linalg.slogdet(spd(a)).logabsdet;
    checkDerivatives((a) => vmap(g)(a), [A], { rtol: 1e-5 }, "vmap(slogdet)");
    checkDerivatives((a) => vmap(grad(g))(a), [A], { rtol: 1e-5 }, "vmap(grad(slogdet))");
    const h = (a: Tensor) => sum(linalg.solve(dominant(a), tensor([1, -1, 2])));
    checkDerivatives(
      (a) => vmap(grad(h), { inAxes: 2, outAxes: 2 })(a),
      [moveAxis(A, 0, 2)],
      { rtol: 1e-5 },
      "vmap(grad(solve))",
    );
  });
});

describe("random draws under vmap", () => {
  test("a key closed over gives every element the same draws, as the loop does", () => {
    const key = random.key(42);
    const xs = randn(r, [3, 2]);
    const f = (x: Tensor) => add(x, random.normal(key, [2]));
    matchesLoop(f, [xs], [0], "closed-over key");
    const rows = vmap((_x: Tensor) => random.uniform(key, [4]))(xs);
    assertSame(slice(rows, 0), slice(rows, 2));
  });

  test("bernoulli with a batched p compares one set of draws with each element's p (the loop's result)", () => {
    const key = random.key(7);
    const p = tensor([
      [0.1, 0.9, 0.5],
      [0.5, 0.5, 0.5],
      [1, 0, 0.25],
    ]);
    matchesLoop((q) => random.bernoulli(key, q, [3]), [p], [0], "bernoulli");
    matchesLoop((q) => random.bernoulli(key, q, [3]), [p], [1], "bernoulli, batch on axis 1");
  });

  test("per-element draws come from samples drawn outside vmap and passed batched", () => {
    const key = random.key(3);
    const noise = random.normal(key, [5, 2]);
    const mu = tensor([1, -1]);
    const got = vmap((e: Tensor) => add(mu, e))(noise);
    assertSame(got, add(mu, noise));
    // distinct rows (not one draw broadcast)
    assert.ok(!(equal(slice(got, 0), slice(got, 1)).toArray() as number[]).every((v) => v === 1));
  });
});
