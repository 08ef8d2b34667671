/**
 * vmap: every primitive with a batching rule (and the per-element fallback) against the JavaScript loop it
 * replaces, over every batch axis; inAxes/outAxes (numbers, negative, null, pytree prefixes); broadcast of
 * batch-independent outputs; error cases; reads of batched values.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  Tensor,
  tensor,
  vmap,
  add,
  sub,
  mul,
  div,
  pow,
  maximum,
  minimum,
  neg,
  reciprocal,
  square,
  sqrt,
  exp,
  log,
  log1p,
  expm1,
  sin,
  cos,
  tan,
  tanh,
  sinh,
  cosh,
  asinh,
  arctan,
  sigmoid,
  softplus,
  relu,
  abs,
  sign,
  greater,
  greaterEqual,
  less,
  lessEqual,
  equal,
  notEqual,
  where,
  clip,
  broadcastTo,
  reshape,
  transpose,
  moveAxis,
  squeeze,
  expandDims,
  tile,
  repeat,
  concatenate,
  stack,
  split,
  matmul,
  zeros,
  sum,
  mean,
  prod,
  max,
  min,
  argmax,
  argmin,
  logsumexp,
  softmax,
  logSoftmax,
  norm,
  cumsum,
  cumprod,
  grad,
  type ReduceOptions,
  BatchingError,
  ShapeError,
  ValueError,
  TreeMismatchError,
  type Shape,
} from "../src/index.js";
import { randn, rng } from "./helpers.js";
import { assertTreeClose, loopRef } from "./vmap-helpers.js";

const r = rng(11);
const B = 3;

/** A random tensor of per-element shape `shape` with a batch of B inserted at `axis`. */
function batched(shape: Shape, axis: number): Tensor {
  const s = [...shape];
  s.splice(axis, 0, B);
  return randn(r, s);
}

/** vmap(f) over args batched along `inAxes` equals the loop, for every output axis. */
function checkAgainstLoop(f: (...xs: Tensor[]) => Tensor, args: Tensor[], inAxes: (number | null)[], msg: string) {
  const ndimOut = (loopRef(f, args, inAxes) as Tensor).ndim;
  for (let outAxis = 0; outAxis < ndimOut; outAxis++) {
    const got = vmap(f, { inAxes, outAxes: outAxis })(...args);
    assertTreeClose(got, loopRef(f, args, inAxes, outAxis), 1e-12, `${msg} outAxes ${outAxis}`);
  }
}

const unaries: [string, (x: Tensor) => Tensor, (x: Tensor) => Tensor][] = [
  ["neg", neg, (x) => x],
  ["reciprocal", reciprocal, (x) => add(abs(x), 0.5)],
  ["square", square, (x) => x],
  ["sqrt", sqrt, (x) => add(abs(x), 0.1)],
  ["exp", exp, (x) => x],
  ["log", log, (x) => add(abs(x), 0.1)],
  ["log1p", log1p, (x) => abs(x)],
  ["expm1", expm1, (x) => x],
  ["sin", sin, (x) => x],
  ["cos", cos, (x) => x],
  ["tan", tan, (x) => x],
  ["tanh", tanh, (x) => x],
  ["sinh", sinh, (x) => x],
  ["cosh", cosh, (x) => x],
  ["asinh", asinh, (x) => x],
  ["arctan", arctan, (x) => x],
  ["sigmoid", sigmoid, (x) => x],
  ["softplus", softplus, (x) => x],
  ["relu", relu, (x) => x],
  ["abs", abs, (x) => x],
  ["sign", sign, (x) => x],
];

const binaries: [string, (a: Tensor, b: Tensor) => Tensor][] = [
  ["add", add],
  ["sub", sub],
  ["mul", mul],
  ["div", (a, b) => div(a, add(abs(b), 0.5))],
  ["pow", (a, b) => pow(add(abs(a), 0.5), b)],
  ["maximum", maximum],
  ["minimum", minimum],
  ["greater", greater],
  ["greaterEqual", greaterEqual],
  ["less", less],
  ["lessEqual", lessEqual],
  ["equal", (a, b) => equal(sign(a), sign(b))],
  ["notEqual", (a, b) => notEqual(sign(a), sign(b))],
  ["clip", (a, b) => clip(a, b, add(b, 0.5))],
];

describe("vmap: elementwise ops against the loop", () => {
  test("unary ops over every batch axis", () => {
    for (const [name, op, domain] of unaries) {
      for (let axis = 0; axis <= 2; axis++) {
        checkAgainstLoop((x) => op(domain(x)), [batched([2, 3], axis)], [axis], `${name} axis ${axis}`);
      }
    }
  });

  test("binary ops: both batched on different axes, one unbatched, broadcasting across ranks", () => {
    for (const [name, op] of binaries) {
      // both batched, per-element shapes [2, 3] and [3] (broadcast), batch axes differ
      checkAgainstLoop(op, [batched([2, 3], 1), batched([3], 1)], [1, 1], `${name} both`);
      checkAgainstLoop(op, [batched([2, 3], 2), batched([2, 3], 0)], [2, 0], `${name} both same shape`);
      // batched argument of lower rank than the unbatched one: the batch axis must not align with theirs
      checkAgainstLoop(op, [batched([3], 0), randn(r, [2, 3])], [0, null], `${name} low-rank batched`);
      checkAgainstLoop(op, [randn(r, [2, 1]), batched([], 0)], [null, 0], `${name} scalar batched`);
      checkAgainstLoop(op, [batched([2, 1], 1), batched([1, 3], 0)], [1, 0], `${name} outer broadcast`);
    }
  });

  test("where with any combination of batched operands", () => {
    const c = (x: Tensor) => greater(x, 0);
    checkAgainstLoop(
      (p, a, b) => where(c(p), a, b),
      [batched([2, 3], 0), batched([3], 0), randn(r, [2, 3])],
      [0, 0, null],
      "where",
    );
    checkAgainstLoop(
      (p, a, b) => where(c(p), a, b),
      [randn(r, [3]), batched([2, 1], 2), batched([], 0)],
      [null, 2, 0],
      "where 2",
    );
  });
});

/** A norm's axis option: one axis or two (more axes are no norm). */
function vectorOrMatrix(o: ReduceOptions | undefined): number | readonly number[] | undefined {
  return Array.isArray(o?.axis) && o.axis.length > 2 ? undefined : o?.axis;
}

describe("vmap: reductions and lane ops against the loop", () => {
  const axisOpts: (ReduceOptions | undefined)[] = [
    undefined,
    { axis: 0 },
    { axis: -1 },
    { axis: [0, 2] },
    { axis: 1, keepdims: true },
    { axis: [0, 1, 2], keepdims: true },
  ];
  const reductions: [string, (x: Tensor, o?: ReduceOptions) => Tensor][] = [
    ["sum", sum],
    ["mean", mean],
    ["prod", prod],
    ["max", max],
    ["min", min],
    ["logsumexp", logsumexp],
    ["norm", (x, o) => norm(x, { axis: vectorOrMatrix(o), keepdims: o?.keepdims })],
    ["norm p=3", (x, o) => norm(x, { ord: 3, axis: typeof o?.axis === "number" ? o.axis : -1 })],
    ["norm ord 1", (x, o) => norm(x, { ord: 1, axis: typeof o?.axis === "number" ? o.axis : 0 })],
    ["norm ord inf, matrix", (x) => norm(x, { ord: Infinity, axis: [0, 2] })],
  ];
  for (const [name, op] of reductions) {
    test(`${name} over every axis option and batch axis`, () => {
      for (const o of axisOpts) {
        for (let axis = 0; axis <= 3; axis++) {
          checkAgainstLoop((x) => op(x, o), [batched([2, 3, 2], axis)], [axis], `${name} ${JSON.stringify(o)} ${axis}`);
        }
      }
    });
  }
  test("argmax and argmin (flattened, per axis, keepdims), ties and NaN", () => {
    const opts = [undefined, { axis: 0 }, { axis: -1, keepdims: true }, { keepdims: true }];
    for (const o of opts) {
      for (let axis = 0; axis <= 2; axis++) {
        const x = batched([3, 2], axis);
        checkAgainstLoop((v) => argmax(v, o), [x], [axis], `argmax ${JSON.stringify(o)} ${axis}`);
        checkAgainstLoop((v) => argmin(v, o), [x], [axis], `argmin ${JSON.stringify(o)} ${axis}`);
      }
    }
    assert.deepEqual(
      vmap((v: Tensor) => argmax(v))(
        tensor([
          [1, 3, 3],
          [NaN, 5, 0],
        ]),
      ).toArray(),
      [1, 0],
    );
    // indices are constants: under grad inside vmap too
    assert.deepEqual(
      vmap(grad((v: Tensor) => mul(sum(v), argmax(v))))(
        tensor([
          [1, 3],
          [4, 0],
        ]),
      ).toArray(),
      [
        [1, 1],
        [0, 0],
      ],
    );
  });
  test("softmax, logSoftmax, cumsum, cumprod along every axis", () => {
    for (let axis = 0; axis <= 2; axis++) {
      for (const a of [0, 1, -1, [0, 1]]) {
        checkAgainstLoop((x) => softmax(x, a), [batched([2, 3], axis)], [axis], `softmax ${a} ${axis}`);
        checkAgainstLoop((x) => logSoftmax(x, a), [batched([2, 3], axis)], [axis], `logSoftmax ${a} ${axis}`);
      }
      for (const a of [undefined, 0, 1]) {
        checkAgainstLoop((x) => cumsum(x, a), [batched([2, 3], axis)], [axis], `cumsum ${a} ${axis}`);
        checkAgainstLoop((x) => cumprod(x, a), [batched([2, 3], axis)], [axis], `cumprod ${a} ${axis}`);
      }
    }
  });
  test("derivatives of batched reductions: ties split per element, as without vmap", () => {
    const X = tensor([
      [3, 1, 3],
      [2, 2, 2],
      [0, 5, 1],
    ]);
    const got = vmap(grad((v: Tensor) => max(v)))(X);
    assert.deepEqual(got.toArray(), [
      [0.5, 0, 0.5],
      [1 / 3, 1 / 3, 1 / 3],
      [0, 1, 0],
    ]);
    for (const [name, op] of reductions) {
      const g = vmap(
        grad((v: Tensor) => sum(op(v, { axis: 0 }))),
        { inAxes: 1, outAxes: 1 },
      );
      const x = batched([2, 3, 2], 1);
      assertTreeClose(
        g(x),
        loopRef(
          grad((v: Tensor) => sum(op(v, { axis: 0 }))),
          [x],
          [1],
          1,
        ) as Tensor,
        1e-12,
        name,
      );
    }
  });
});

describe("vmap: shape ops against the loop", () => {
  const cases: [string, (x: Tensor) => Tensor, Shape][] = [
    ["broadcastTo", (x) => broadcastTo(x, [4, 2, 3]), [2, 3]],
    ["broadcastTo rank", (x) => broadcastTo(x, [2, 3]), [3]],
    ["reshape", (x) => reshape(x, [3, 2]), [2, 3]],
    ["reshape -1", (x) => reshape(x, [-1]), [2, 3]],
    ["transpose", (x) => transpose(x), [2, 3, 4]],
    ["transpose perm", (x) => transpose(x, [1, 2, 0]), [2, 3, 4]],
    ["moveAxis", (x) => moveAxis(x, 0, -1), [2, 3, 4]],
    ["squeeze", (x) => squeeze(x), [2, 1, 3]],
    ["expandDims", (x) => expandDims(x, [0, -1]), [2, 3]],
    ["tile", (x) => tile(x, [2, 1]), [2, 3]],
    ["repeat", (x) => repeat(x, 2, 1), [2, 3]],
    ["split/slice", (x) => split(x, [1], 1)[1]!, [2, 3]],
    ["concatenate with a constant", (x) => concatenate([x, zeros([2, 1]), x], 1), [2, 3]],
  ];
  for (const [name, op, shape] of cases) {
    test(name, () => {
      for (let axis = 0; axis <= shape.length; axis++)
        checkAgainstLoop(op, [batched(shape, axis)], [axis], `${name} ${axis}`);
    });
  }
  test("concatenate and stack of batched and unbatched tensors", () => {
    const args = [batched([2, 3], 1), randn(r, [2, 3]), batched([2, 3], 0)];
    for (const axis of [0, 1, -1]) {
      checkAgainstLoop((a, b, c) => concatenate([a, b, c], axis), args, [1, null, 0], `concatenate ${axis}`);
      checkAgainstLoop((a, b, c) => stack([a, b, c], axis), args, [1, null, 0], `stack ${axis}`);
    }
  });
});

describe("vmap: the per-element fallback (primitives without a rule)", () => {
  test("matmul, batched on either side or both, matches the loop", () => {
    checkAgainstLoop(matmul, [batched([2, 3], 2), randn(r, [3, 4])], [2, null], "left");
    checkAgainstLoop(matmul, [randn(r, [2, 3]), batched([3], 0)], [null, 0], "right vector");
    checkAgainstLoop(matmul, [batched([2, 3], 0), batched([3, 2], 1)], [0, 1], "both");
  });
  test("a batch of 0 elements keeps the per-element output shape", () => {
    const out = vmap((a: Tensor) => matmul(a, tensor([[1], [2]])))(zeros([0, 3, 2]));
    assert.deepEqual(out.shape, [0, 3, 1]);
    assert.deepEqual(vmap((a: Tensor) => add(a, 1))(zeros([0, 2])).shape, [0, 2]);
  });
});

describe("vmap: inAxes and outAxes", () => {
  test("negative axes, null and pytree prefixes of the arguments", () => {
    const w = { a: randn(r, [2]), b: [randn(r, [3, 2]), randn(r, [])] };
    const f = (p: typeof w, x: Tensor) => add(mul(p.a, x), mul(p.b[1]!, sum0(p.b[0]!)));
    const sum0 = (t: Tensor) => reshape(t, [6]).sum().reshape([]);
    const xs = randn(r, [2, 4]);
    const got = vmap(f, { inAxes: [null, -1] })(w, xs);
    const ref = loopRef((x) => f(w, x), [xs], [-1]) as Tensor;
    assertTreeClose(got, ref);
    // a prefix that batches only p.b[0] along axis 1
    const wb = { a: w.a, b: [randn(r, [3, 4, 2]), w.b[1]!] };
    const got2 = vmap(f, { inAxes: [{ a: null, b: [1, null] }, null] })(wb, tensor([1, 2]));
    const ref2 = loopRef((b0) => f({ a: w.a, b: [b0, w.b[1]!] }, tensor([1, 2])), [wb.b[0]!], [1]) as Tensor;
    assertTreeClose(got2, ref2);
  });

  test("outAxes as a pytree, null for a batch-independent output, broadcast of independent outputs", () => {
    const x = randn(r, [4, 2]);
    const c = tensor([1, 2, 3]);
    const [s, k, e] = vmap((v: Tensor) => [mul(v, 2), c, exp(v)], { outAxes: [1, null, -1] })(x) as Tensor[];
    assertTreeClose(s!, transpose(mul(x, 2)));
    assert.equal(k, c);
    assertTreeClose(e!, transpose(exp(x)));
    // an output that does not depend on the batch is broadcast along it (JAX's outAxes 0)
    assertTreeClose(vmap((_v: Tensor) => c, { inAxes: 0 })(x) as Tensor, broadcastTo(c, [4, 3]));
    assertTreeClose(vmap((v: Tensor) => ({ y: v, z: 5 }))(x).z, tensor([5, 5, 5, 5]));
  });

  test("errors name vmap, the argument path and the sizes", () => {
    const f = (a: Tensor, b: Tensor) => add(a, b);
    assert.throws(
      () => vmap(f)(zeros([3, 2]), zeros([4, 2])),
      (e) =>
        e instanceof ShapeError &&
        /vmap/.test(e.message) &&
        /args\[0\] has 3/.test(e.message) &&
        /args\[1\] has 4/.test(e.message),
    );
    assert.throws(
      () => vmap(f, { inAxes: [0, 2] })(zeros([3, 2]), zeros([3, 2])),
      (e) => e instanceof ShapeError && /inAxes 2 for args\[1\]/.test(e.message) && /\[-2, 1\]/.test(e.message),
    );
    assert.throws(
      () => vmap(f)(tensor(1), zeros([3])),
      (e) => e instanceof ShapeError && /args\[0\]/.test(e.message) && /a scalar has no axis/.test(e.message),
    );
    assert.throws(
      () => vmap(f, { outAxes: 3 })(zeros([3, 2]), zeros([3, 2])),
      (e) => e instanceof ShapeError && /outAxes 3/.test(e.message),
    );
    assert.throws(
      () => vmap(f, { inAxes: [0] })(zeros([3]), zeros([3])),
      (e) => e instanceof TreeMismatchError && /inAxes/.test(e.message),
    );
    assert.throws(
      () => vmap(f, { inAxes: null })(zeros([3]), zeros([3])),
      (e) => e instanceof ValueError && /no argument is batched/.test(e.message),
    );
    assert.throws(() => vmap(f, { inAxes: [0, 0.5] })(zeros([3]), zeros([3])), ValueError);
    assert.throws(() => vmap(f, { inAxes: "0" as unknown as number }), ValueError);
    assert.throws(
      () => vmap(f, { outAxes: null })(zeros([3]), zeros([3])),
      (e) => e instanceof ValueError && /depends on the batch/.test(e.message),
    );
    assert.throws(() => vmap(f, { inAxis: 0 } as never), ValueError);
    assert.throws(
      () => vmap(f, { inAxes: 0 })(zeros([3]), 2 as unknown as Tensor),
      (e) => e instanceof ShapeError && /args\[1\]/.test(e.message),
    );
  });
});

describe("vmap: reading the numbers of a batched tensor throws", () => {
  test("item, toArray, data, toFloat64Array, toJSON and kernels without a rule", () => {
    const reads: ((x: Tensor) => unknown)[] = [
      (x) => x.item(),
      (x) => x.toArray(),
      (x) => x.data[0],
      (x) => x.toFloat64Array(),
      (x) => JSON.stringify(x),
      (x) => x.raw[0],
      (x) => x.raw.slice(),
    ];
    for (const read of reads) {
      assert.throws(() => vmap((x: Tensor) => (read(x), x))(tensor([1, 2])), BatchingError);
      // also through a transform above vmap's level
      assert.throws(() => vmap((x: Tensor) => (read(mul(x, 1)), x))(tensor([[1, 2]])), BatchingError);
    }
  });
  test("size, shape and printing see one element", () => {
    vmap(
      (x: Tensor) => {
        assert.deepEqual(x.shape, [2]);
        assert.equal(x.size, 2);
        assert.match(String(x), /batched\(3 elements along axis 1/);
        return x;
      },
      { inAxes: 1 },
    )(zeros([2, 3]));
  });
});
