/**
 * vmap against hostile input: argument and output trees that are not pytrees, malformed inAxes/outAxes/axisSize,
 * no batched argument, empty batches through computations that reject zeros, batched indices out of range,
 * control flow on batched values, exceptions thrown inside f. Every error is typed and names vmap (or the op), the
 * argument's path and a remedy; after any of them, unrelated transforms still work.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  BatchingError,
  stack,
  maximum,
  slice,
  concatenate,
  cos,
  reshape,
  sin,
  vjp,
  DifferentiationError,
  ShapeError,
  Tensor,
  TreeMismatchError,
  ValueError,
  add,
  at,
  eye,
  grad,
  hessian,
  linalg,
  mul,
  neg,
  ones,
  random,
  scatterAdd,
  stopGradient,
  sum,
  take,
  tensor,
  vmap,
  where,
  greater,
  zeros,
} from "../src/index.js";
import { perElement } from "../src/core/vmap.js";
import { assertTreeClose } from "./vmap-helpers.js";

/** Asserts `fn` throws an instance of `type` whose message matches every pattern. */
function throwsWith(fn: () => unknown, type: new (...a: never[]) => Error, ...patterns: RegExp[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(
      e instanceof type,
      `expected ${type.name}, got ${(e as Error).constructor.name}: ${(e as Error).message}`,
    );
    for (const p of patterns) assert.match((e as Error).message, p);
    return true;
  });
}

const X = tensor([
  [1, 2],
  [3, 4],
  [5, 6],
]);

describe("vmap: arguments and outputs that are not pytrees of tensors", () => {
  test("strings, booleans, symbols, functions, class instances, typed arrays: a TreeMismatchError naming the path", () => {
    const id = (_a: unknown, x: Tensor) => x;
    const cases: [unknown, RegExp][] = [
      ["abc", /the string "abc"/],
      [true, /the boolean true/],
      [Symbol("s"), /the symbol/],
      [(x: Tensor) => x, /a function/],
      [new Date(0), /a Date/],
      [new Map(), /a Map/],
      [new Float64Array([1, 2, 3]), /a Float64Array.*wrap it with tensor/],
    ];
    for (const [bad, pattern] of cases) {
      for (const inAxes of [0, [null, 0]] as const) {
        throwsWith(
          () => vmap(id, { inAxes: inAxes as never })(bad, X),
          TreeMismatchError,
          /^vmap: args\[0\] is/,
          pattern,
        );
      }
      // deep inside a tree
      throwsWith(() => vmap((p: { a: unknown[] }) => p)({ a: [X, bad] }), TreeMismatchError, /args\[0\]\.a\[1\] is/);
      // as (part of) an output
      throwsWith(() => vmap((x: Tensor) => [x, bad] as never)(X), TreeMismatchError, /^vmap: output\[1\] is/, pattern);
    }
  });

  test("a random key is named with the remedy (close over it, or draw outside)", () => {
    const k = random.key(0);
    throwsWith(
      () => vmap((_k: unknown, x: Tensor) => x, { inAxes: [null, 0] })(k, X),
      TreeMismatchError,
      /PRNGKey/,
      /draw outside vmap/,
    );
    throwsWith(
      () => vmap((ks: unknown) => ks as never)(random.split(k, 3)),
      TreeMismatchError,
      /args\[0\]\[0\] is a PRNGKey/,
    );
    // the remedy works: the samples drawn outside are batched, one row per element
    const draws = random.normal(k, [3, 2]);
    assertTreeClose(vmap((e: Tensor, x: Tensor) => add(x, e))(draws, X), add(X, draws));
  });

  test("numbers: a plain number has no axis (the message says to wrap an array of numbers with tensor)", () => {
    throwsWith(
      () => vmap((a: unknown) => a as never)([1, 2, 3]),
      ShapeError,
      /args\[0\]\[0\], which is a number/,
      /tensor\(\.\.\.\)/,
    );
    throwsWith(
      () => vmap((x: Tensor, c: Tensor) => mul(x, c))(X, 2 as never),
      ShapeError,
      /args\[1\], which is a number/,
    );
    // with inAxes null a number is a shared scalar, and a number output is broadcast
    assertTreeClose(vmap((x: Tensor, c: Tensor) => mul(x, c), { inAxes: [0, null] })(X, 2 as never), mul(X, 2));
    assertTreeClose(vmap((_x: Tensor) => 3 as never)(X) as Tensor, tensor([3, 3, 3]));
  });

  test("cyclic arguments are a ValueError, not a stack overflow; null, undefined and empty nodes pass through", () => {
    const cyc: unknown[] = [X];
    cyc.push(cyc);
    throwsWith(() => vmap((a: unknown) => a as never)(cyc), ValueError, /args\[0\]\[1\] contains itself/);
    const out = vmap((x: Tensor, _n: null, _u: undefined, _e: []) => ({ y: add(x, 1), n: null, e: [], o: {} }))(
      X,
      null,
      undefined,
      [],
    );
    assertTreeClose(out.y, add(X, 1));
    assert.equal(out.n, null);
    assert.deepEqual(out.e, []);
    assert.deepEqual(out.o, {});
    // objects without a prototype are plain objects, as for tree.flatten
    const bare = Object.assign(Object.create(null) as Record<string, Tensor>, { a: X });
    const spec = Object.assign(Object.create(null) as Record<string, number>, { a: 1 });
    assertTreeClose(vmap((p: Record<string, Tensor>) => p.a!, { inAxes: [spec] })(bare), X.transpose());
  });
});

describe("vmap: malformed inAxes, outAxes and axisSize", () => {
  const f = (a: Tensor, b: Tensor) => add(a, b);
  test("non-integer axes (NaN, ±Infinity, fractions, strings, booleans, bigints) are ValueErrors", () => {
    for (const bad of [NaN, Infinity, -Infinity, 0.5]) {
      throwsWith(() => vmap(f, { inAxes: bad })(X, X), ValueError, /inAxes .* for args\[0\] is not an integer/);
      throwsWith(() => vmap(f, { outAxes: bad })(X, X), ValueError, /outAxes .* for output is not an integer/);
    }
    for (const bad of ["0", true, 1n, undefined as unknown as number, () => 0]) {
      throwsWith(() => vmap(f, { inAxes: [0, bad as never] }), ValueError, /^vmap: inAxes must be an axis/);
      throwsWith(() => vmap(f, { outAxes: { a: bad } as never }), ValueError, /^vmap: outAxes must be an axis/);
    }
  });

  test("out-of-range axes (JAX: rank at least |axis|) are ShapeErrors giving the valid range", () => {
    const x = zeros([3, 4, 5]);
    assertTreeClose(vmap((v: Tensor) => sum(v), { inAxes: -3 })(x), sum(x, { axis: [1, 2] }));
    assertTreeClose(vmap((v: Tensor) => sum(v), { inAxes: -1 })(x), sum(x, { axis: [0, 1] }));
    throwsWith(
      () => vmap((v: Tensor) => sum(v), { inAxes: -4 })(x),
      ShapeError,
      /inAxes -4 for args\[0\]/,
      /\[-3, 2\]/,
    );
    throwsWith(() => vmap((v: Tensor) => v, { outAxes: -4 })(x), ShapeError, /outAxes -4/, /\[-3, 2\]/);
    throwsWith(() => vmap((v: Tensor) => v, { inAxes: 1e300 })(x), ShapeError, /out of range/);
    // an unbatched scalar output broadcast with outAxes -1 is fine; -2 is out of range for it
    const g = (...xs: Tensor[]) => xs;
    assertTreeClose(
      (vmap(g, { inAxes: [0, null], outAxes: [0, -1] })(tensor([1, 2, 3, 4, 5]), tensor(7)) as Tensor[])[1]!,
      tensor([7, 7, 7, 7, 7]),
    );
    throwsWith(
      () => vmap(g, { inAxes: [0, null], outAxes: [0, -2] })(tensor([1, 2]), tensor(7)),
      ShapeError,
      /outAxes -2 for output\[1\]/,
    );
  });

  test("trees that do not match: a TreeMismatchError naming the node and what it expected", () => {
    throwsWith(() => vmap(f, { inAxes: [0] })(X, X), TreeMismatchError, /list of 2 entries like args/);
    throwsWith(() => vmap(f, { inAxes: [0, 0, 0] })(X, X), TreeMismatchError, /list of 2 entries/);
    throwsWith(
      () => vmap((p: { a: Tensor }) => p.a, { inAxes: [{ a: 0, b: 0 }] })({ a: X }),
      TreeMismatchError,
      /keys \{a\}/,
    );
    throwsWith(
      () => vmap((p: { a: Tensor; b: Tensor }) => p.a, { inAxes: [{ a: 0 }] })({ a: X, b: X }),
      TreeMismatchError,
      /keys \{a, b\}/,
    );
    throwsWith(
      () => vmap((p: Tensor[]) => p[0]!, { inAxes: [{ a: 0 }] })([X]),
      TreeMismatchError,
      /list of 1 entries like args\[0\]/,
    );
    throwsWith(
      () => vmap((x: Tensor) => x, { inAxes: [[0]] })(X),
      TreeMismatchError,
      /gives a list for args\[0\], which is a single tensor/,
    );
    throwsWith(
      () => vmap((x: Tensor) => [x, x], { outAxes: [0] })(X),
      TreeMismatchError,
      /outAxes for output/,
      /list of 2 entries/,
    );
    throwsWith(() => vmap((x: Tensor) => x, { outAxes: [0, 1] })(X), TreeMismatchError, /gives a list for output/);
    throwsWith(() => vmap((x: Tensor) => ({ a: x }), { outAxes: { b: 0 } })(X), TreeMismatchError, /keys \{a\}/);
  });

  test("batch sizes that differ name both arguments; outAxes null for a batched output is a ValueError", () => {
    throwsWith(
      () => vmap((p: { a: Tensor; b: Tensor }) => add(p.a, p.b))({ a: zeros([3]), b: zeros([4]) }),
      ShapeError,
      /args\[0\]\.a has 3/,
      /args\[0\]\.b has 4/,
    );
    throwsWith(
      () => vmap(f, { inAxes: [0, 1] })(zeros([3, 2]), zeros([3, 2])),
      ShapeError,
      /args\[0\] has 3 along axis 0, but args\[1\] has 2 along axis 1/,
    );
    throwsWith(
      () => vmap((x: Tensor) => [x, sum(x)], { outAxes: [0, null] })(X),
      ValueError,
      /outAxes is null for output\[1\], but that output depends on the batch/,
    );
    // null is right for an output that does not depend on the batch (JAX's out_axes=None)
    const [y, c] = vmap((x: Tensor) => [x, tensor(5)], { outAxes: [0, null] })(X) as Tensor[];
    assertTreeClose(y!, X);
    assertTreeClose(c!, tensor(5));
  });

  test("unknown options and a bad f or options object are ValueErrors naming vmap", () => {
    throwsWith(() => vmap((x: Tensor) => x, { in_axes: 0 } as never), ValueError, /unknown options "in_axes"/);
    throwsWith(() => vmap((x: Tensor) => x, { axissize: 2 } as never), ValueError, /did you mean "axisSize"/);
    throwsWith(() => vmap(3 as never), ValueError, /vmap: f must be a function/);
    throwsWith(() => vmap((x: Tensor) => x, null as never), ValueError, /vmap: options must be an object/);
  });
});

describe("vmap: no batched argument, and axisSize (JAX's axis_size)", () => {
  test("without axisSize, a ValueError says which option gives the batch size", () => {
    throwsWith(() => vmap(() => tensor(1))(), ValueError, /no argument is batched/, /axisSize/);
    throwsWith(() => vmap((x: Tensor) => x, { inAxes: null })(X), ValueError, /no argument is batched/);
    throwsWith(() => vmap((_n: null) => tensor(1))(null), ValueError, /no argument is batched/);
  });

  test("with axisSize, the outputs are broadcast along a batch of that size (0 included)", () => {
    assertTreeClose(
      vmap(() => tensor([1, 2]), { axisSize: 3 })() as Tensor,
      tensor([
        [1, 2],
        [1, 2],
        [1, 2],
      ]),
    );
    assert.deepEqual((vmap(() => tensor([1, 2]), { axisSize: 0 })() as Tensor).shape, [0, 2]);
    assertTreeClose(
      vmap((c: Tensor) => mul(c, 2), { inAxes: null, axisSize: 2, outAxes: 1 })(tensor([1, 2, 3])),
      tensor([
        [2, 2],
        [4, 4],
        [6, 6],
      ]),
    );
    // transforms inside: the same gradient for every element
    assertTreeClose(
      vmap(() => grad((x: Tensor) => sum(mul(x, x)))(tensor([1, 2])), { axisSize: 2 })() as Tensor,
      tensor([
        [2, 4],
        [2, 4],
      ]),
    );
  });

  test("with batched arguments, axisSize must agree; a bad axisSize is a ValueError", () => {
    assertTreeClose(vmap((x: Tensor) => neg(x), { axisSize: 3 })(X), neg(X));
    throwsWith(() => vmap((x: Tensor) => x, { axisSize: 2 })(X), ShapeError, /axisSize is 2, but args\[0\] has 3/);
    for (const bad of [-1, 1.5, NaN, Infinity, "3"]) {
      throwsWith(
        () => vmap((x: Tensor) => x, { axisSize: bad as number }),
        ValueError,
        /axisSize must be a non-negative integer/,
      );
    }
  });
});

describe("vmap: empty batches through computations that reject zeros", () => {
  // The per-element fallback learns the output shapes from a stand-in element: zeros fail a solve or a
  // factorisation, identity matrices do not.
  const Z = zeros([0, 3, 3]);
  const spd = (a: Tensor) => add(a, mul(eye(3), 2));
  const cases: [string, (a: Tensor) => Tensor, number[]][] = [
    ["inv", (a) => linalg.inv(a), [0, 3, 3]],
    ["solve", (a) => linalg.solve(a, ones([3])), [0, 3]],
    ["cholesky", (a) => linalg.cholesky(a).L, [0, 3, 3]],
    ["triangularSolve", (a) => linalg.triangularSolve(a, ones([3, 2]), { lower: true }), [0, 3, 2]],
    ["det", (a) => linalg.det(a), [0]],
    ["qr", (a) => linalg.qr(a).R, [0, 3, 3]],
  ];
  for (const [name, fn, shape] of cases) {
    test(`${name}: values, per-example gradients and Hessians have the per-element shapes`, () => {
      assert.deepEqual((vmap(fn)(Z) as Tensor).shape, shape);
      assert.deepEqual((vmap(grad((a: Tensor) => sum(fn(spd(a)))))(Z) as Tensor).shape, [0, 3, 3]);
      assert.deepEqual((vmap(hessian((a: Tensor) => sum(fn(spd(a)))))(Z) as Tensor).shape, [0, 3, 3, 3, 3]);
    });
  }
  test("a computation that fails on every stand-in names itself and both failures", () => {
    const refuse = (xs: Tensor[]): Tensor[] => {
      throw new ValueError(`refused a stand-in of shape [${xs[0]!.shape.join(", ")}]`);
    };
    throwsWith(
      () => perElement("the computation c", [zeros([0, 2, 2])], [0], 0, refuse),
      BatchingError,
      /output shapes of the computation c for a batch of 0 elements/,
      /on zeros: refused .*\[2, 2\]; on identity matrices: refused/,
    );
  });
});

describe("vmap: batched index arrays out of range", () => {
  const x = tensor([10, 20, 30]);
  test("take, scatterAdd and at(...) name the index, the axis, its length and the batch element", () => {
    for (const [idx, problem] of [
      [3, /index 3 is out of range/],
      [-4, /index -4 is out of range/],
      [0.5, /index 0.5 is not an integer/],
      [NaN, /index NaN is not an integer/],
    ] as const) {
      const batch = tensor([[0], [idx]]);
      throwsWith(
        () => vmap((i: Tensor) => take(x, i))(batch),
        ValueError,
        /^take:/,
        problem,
        /length 3 \(vmap batch element 1\)/,
      );
      throwsWith(() => vmap((i: Tensor) => take(x, i, 0))(batch), ValueError, /^take:/, problem, /axis 0/);
      throwsWith(() => vmap((i: Tensor) => scatterAdd(zeros([3]), i, 1))(batch), ValueError, /^scatterAdd:/, problem);
      throwsWith(() => vmap((i: Tensor) => at(x, i).get())(batch), ValueError, /^at:/, problem, /element 1/);
      throwsWith(() => vmap((i: Tensor) => at(x, i).set(0))(batch), ValueError, /^at:/, problem);
    }
    // the same message without vmap (one index array traced by grad: no element to name)
    throwsWith(
      () => grad((v: Tensor) => sum(take(v, tensor([5]))))(x),
      ValueError,
      /index 5 is out of range for the flattened tensor of length 3$/,
    );
  });

  test("in range, negative indices wrap as without vmap", () => {
    const idx = tensor([
      [0, -1],
      [-3, 2],
    ]);
    assertTreeClose(
      vmap((i: Tensor) => take(x, i))(idx),
      tensor([
        [10, 30],
        [10, 30],
      ]),
    );
    assertTreeClose(
      vmap((i: Tensor) => at(x, i).add(1))(idx),
      tensor([
        [11, 20, 31],
        [11, 20, 31],
      ]),
    );
  });
});

describe("control flow on a batched value", () => {
  test("x > 0, Number(x), +x and Math.max(x) on a batch tracer throw a BatchingError naming the conversion", () => {
    const reads: ((v: Tensor) => unknown)[] = [
      (v) => (v as unknown as number) > 0,
      (v) => Number(v),
      (v) => +(v as unknown as number),
      (v) => Math.max(v as unknown as number),
    ];
    for (const read of reads) {
      throwsWith(
        () => vmap((v: Tensor) => (read(v), v))(tensor([1, -2])),
        BatchingError,
        /comparison or conversion to a number \(x > 0/,
      );
      // under grad inside vmap, and under grad alone
      throwsWith(() => vmap(grad((v: Tensor) => (read(v), sum(v))))(tensor([1, -2])), BatchingError, /batched by vmap/);
      throwsWith(
        () => grad((v: Tensor) => (read(v), v))(tensor(1)),
        DifferentiationError,
        /stopGradient\(x\)\.item\(\)/,
      );
    }
    // stopGradient does not remove the batch: control flow cannot depend on it either; where does it per element
    throwsWith(
      () => vmap((v: Tensor) => ((stopGradient(v) as unknown as number) > 0 ? v : neg(v)))(tensor([1, -2])),
      BatchingError,
    );
    assertTreeClose(vmap((v: Tensor) => where(greater(v, 0), v, neg(v)))(tensor([1, -2])), tensor([1, 2]));
  });

  test("a concrete one-element tensor converts to its value; strings still render", () => {
    assert.equal((tensor(2.5) as unknown as number) > 2, true);
    assert.equal(Number(tensor([[3]])), 3);
    assert.equal(`${tensor([1, 2])}`, "tensor([1, 2], shape=[2])");
    throwsWith(() => Number(tensor([1, 2])), ShapeError, /one element/);
    // printing a batch tracer inside vmap is allowed
    vmap((v: Tensor) => (assert.match(`${v}`, /batched/), v))(X);
  });
});

describe("vmap: exceptions thrown inside f leave nothing behind", () => {
  test("after an error in f, in a nested transform or in a rule, later vmaps and grads are unaffected", () => {
    const boom = new Error("boom");
    const failures: (() => unknown)[] = [
      () =>
        vmap((_x: Tensor) => {
          throw boom;
        })(X),
      () =>
        vmap(
          grad((x: Tensor) => {
            if (x.shape.length > 0) throw boom;
            return x;
          }),
        )(X),
      () =>
        grad((w: Tensor) =>
          sum(
            vmap((x: Tensor) => {
              mul(w, x);
              throw boom;
            })(X),
          ),
        )(tensor([1, 1])),
      () => vmap(vmap((x: Tensor) => x.item()))(zeros([2, 2])),
      () =>
        vmap((a: Tensor) => linalg.cholesky(a).L)(
          tensor([
            [
              [1, 0],
              [0, 1],
            ],
            [
              [-1, 0],
              [0, 1],
            ],
          ]),
        ),
    ];
    for (const fail of failures) {
      assert.throws(fail);
      assertTreeClose(grad((x: Tensor) => sum(mul(x, x)))(tensor([1, 2])), tensor([2, 4]));
      assertTreeClose(vmap((x: Tensor) => sum(mul(x, x)))(X), tensor([5, 25, 61]));
      assertTreeClose(vmap(grad((x: Tensor) => sum(mul(x, x))))(X), mul(X, 2));
    }
  });

  test("reading .item() inside vmap is a BatchingError naming the read, also below a grad", () => {
    throwsWith(
      () => vmap((x: Tensor) => tensor(x.item()))(tensor([1, 2])),
      BatchingError,
      /Tensor\.item\(\)/,
      /batched by vmap/,
    );
    throwsWith(() => vmap(grad((x: Tensor) => tensor(x.item())))(tensor([1, 2])), BatchingError, /Tensor\.item\(\)/);
    throwsWith(
      () => grad((w: Tensor) => sum(vmap((x: Tensor) => mul(w, x.item()))(X)))(tensor(1)),
      BatchingError,
      /Tensor\.item\(\)/,
    );
  });
});

describe("vmap: errors are those of the unbatched call, naming the failing element", () => {
  test("elementwise shape mismatches report the elements' shapes and axis, not the batched ones", () => {
    const ops: [string, (a: Tensor, b: Tensor) => Tensor][] = [
      ["add", add],
      ["mul", mul],
      ["maximum", maximum],
      ["greater", greater],
      ["where", (a, b) => where(a, b, 0)],
    ];
    for (const [name, op] of ops) {
      const expected = new RegExp(`^${name}: shapes \\[4\\] and \\[3\\] do not broadcast \\(axis 0: 4 vs 3\\)$`);
      throwsWith(() => op(ones([4]), ones([3])), ShapeError, expected);
      throwsWith(() => vmap((a: Tensor) => op(a, ones([3])))(ones([2, 4])), ShapeError, expected);
      throwsWith(() => vmap(op, { inAxes: [1, 0] })(ones([4, 2]), ones([2, 3])), ShapeError, expected);
    }
  });

  test("a factorisation or solve failing on one element names it (vmap batch element k)", () => {
    const batch = tensor([
      [
        [1, 0],
        [0, 1],
      ],
      [
        [0, 0],
        [0, 0],
      ],
    ]);
    const failing: [string, (a: Tensor) => Tensor][] = [
      ["solve", (a) => linalg.solve(a, ones([2]))],
      ["inv", (a) => linalg.inv(a)],
      ["cholesky", (a) => linalg.cholesky(a).L],
      ["triangularSolve", (a) => linalg.triangularSolve(a, ones([2]), { lower: true })],
    ];
    for (const [name, fn] of failing) {
      throwsWith(() => vmap(fn)(batch), linalg.LinearSolveError, /\(vmap batch element 1\)$/);
      assert.throws(
        () => fn(slice(batch, 1)),
        (e: Error) => e instanceof linalg.LinearSolveError && !/batch element/.test(e.message),
        name,
      );
    }
    // under nested vmaps, the outermost vmap's element is named
    const I = eye(2);
    const Z = zeros([2, 2]);
    const nested = stack([stack([I, I, I]), stack([I, I, Z])]);
    throwsWith(
      () => vmap(vmap((a: Tensor) => linalg.inv(a)))(nested),
      linalg.LinearSolveError,
      /\(vmap batch element 1\)$/,
    );
    throwsWith(
      () =>
        vmap(
          vmap((a: Tensor) => linalg.inv(a)),
          { inAxes: 1 },
        )(nested),
      linalg.LinearSolveError,
      /\(vmap batch element 2\)$/,
    );
  });
});

describe("vmap: batched values that leak out of f (JAX's escaped tracers)", () => {
  test("a batch tracer kept after vmap returned is refused when used: in ops, custom calls, later vmaps and grads", () => {
    let leaked: Tensor | null = null;
    const out = vmap((x: Tensor) => {
      leaked = x;
      return mul(x, 2);
    })(X);
    assertTreeClose(out, mul(X, 2));
    const t = leaked! as Tensor;
    const uses: (() => unknown)[] = [
      () => add(t, 1),
      () => linalg.inv(reshape(concatenate([t, t]), [2, 2])),
      () => vmap((y: Tensor) => add(y, t))(tensor([1, 2])),
      () => vmap((_y: Tensor) => t)(tensor([1, 2])),
      () => grad((y: Tensor) => sum(mul(y, t)))(tensor([1, 2])),
    ];
    for (const use of uses)
      throwsWith(use, BatchingError, /a vmap that has already returned/, /leaked out of the function/);
    // reading it is a BatchingError too
    throwsWith(() => t.toArray(), BatchingError, /batched by vmap/);
  });

  test("a pullback made inside vmap and called after it returned is refused", () => {
    let pullback: ((ct: Tensor) => unknown) | null = null;
    vmap((x: Tensor) => {
      const [y, pb] = vjp((z: Tensor) => sin(z), x);
      pullback = pb as (ct: Tensor) => unknown;
      return y;
    })(X);
    throwsWith(() => pullback!(tensor([1, 1])), BatchingError, /already returned/);
    // made and called inside, it is fine
    const inside = vmap((x: Tensor) => (vjp((z: Tensor) => sin(z), x)[1](ones([2])) as Tensor[])[0]!)(X);
    assertTreeClose(inside, cos(X));
  });
});

describe("linalg.triangularSolve options", () => {
  test("missing or malformed options are ValueErrors (not a TypeError), as without vmap", () => {
    const t = tensor([
      [2, 0],
      [1, 1],
    ]);
    throwsWith(
      () => linalg.triangularSolve(t, tensor([2, 3]), undefined as never),
      ValueError,
      /options\.lower must be given/,
    );
    throwsWith(() => linalg.triangularSolve(t, tensor([2, 3]), { lower: 1 } as never), ValueError, /got 1/);
    throwsWith(
      () => linalg.triangularSolve(t, tensor([2, 3]), { lower: true, trans: true } as never),
      ValueError,
      /unknown options "trans"/,
    );
    throwsWith(() => vmap((b: Tensor) => linalg.triangularSolve(t, b, {} as never))(X), ValueError, /options\.lower/);
  });
});
