/**
 * Hardening of the core against silent wrong results and misleading errors: numbers read out of traced tensors,
 * custom rules that are not differentiable at the order a transform needs, bad arguments to the creation
 * functions, detached buffers, sampling without replacement from huge populations, and readable tensors.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import {
  Tensor,
  tensor,
  scalar,
  zeros,
  ones,
  full,
  eye,
  arange,
  linspace,
  add,
  mul,
  sin,
  cos,
  sum,
  square,
  reshape,
  broadcastTo,
  grad,
  jvp,
  vjp,
  jacrev,
  jacfwd,
  hessian,
  stopGradient,
  customVjp,
  customJvp,
  random,
  tree,
  prox,
  rootJvp,
  rootVjp,
  sub,
  backtrackingLineSearch,
  wolfeLineSearch,
  DifferentiationError,
  ShapeError,
  TreeMismatchError,
  ValueError,
  greater,
  where,
} from "../src/index.js";
import { assertClose } from "./helpers.js";

/** Asserts that `fn` throws an error of class `cls` whose message matches every pattern. */
function throwsWith(fn: () => unknown, cls: new (...args: any[]) => Error, ...patterns: RegExp[]): void {
  assert.throws(fn, (e: Error) => {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${e.name}: ${e.message}`);
    for (const p of patterns) assert.match(e.message, p);
    return true;
  });
}

describe("reading numbers out of a traced tensor", () => {
  test("every way of reading plain numbers throws DifferentiationError inside grad, jvp and vjp", () => {
    const reads: [string, (x: Tensor) => unknown][] = [
      ["item()", (x) => x.item()],
      ["toArray()", (x) => x.toArray()],
      ["toFloat64Array()", (x) => x.toFloat64Array()],
      ["toJSON()", (x) => JSON.stringify(x)],
      ["data", (x) => x.data[0]],
      ["data", (x) => [...x.data]],
      ["data", (x) => Float64Array.from(x.data)],
      ["data", (x) => tensor(x.data)],
    ];
    for (const [what, read] of reads) {
      const f = (x: Tensor) => tensor(Math.sin(Number(read(x)) || 0));
      const msg = new RegExp(`Tensor\\.${what.replace(/[()]/g, "\\$&")}.*stopGradient\\(x\\)`);
      throwsWith(() => grad(f)(tensor(0.5)), DifferentiationError, msg);
      throwsWith(() => jvp(f, [tensor(0.5)], [tensor(1)]), DifferentiationError, msg);
      throwsWith(() => vjp(f, tensor(0.5)), DifferentiationError, msg);
    }
    // The reported case: d/dx sin(x.item()) would silently be 0.
    throwsWith(() => grad((x: Tensor) => tensor(Math.sin(x.item())))(tensor(1)), DifferentiationError, /item\(\)/);
  });

  test("stopGradient is the escape hatch; printing, shapes and concrete closures stay readable", () => {
    const f = (x: Tensor) => {
      // control flow on the value, a derivative through ops
      const v = stopGradient(x).item();
      assert.equal(x.size, 1);
      assert.equal(x.data.length, 1, "the length of a tracer's data is no read of its values");
      assert.match(String(x), /tensor\(0\.5, traced at level \d+\)/);
      assert.match(inspect(x), /traced at level/);
      const c = tensor([2]);
      assert.equal(c.item(), 2, "a concrete tensor is readable inside a transform");
      return v > 0 ? sin(x) : cos(x);
    };
    assertClose(grad(f)(tensor(0.5)), Math.cos(0.5), { rtol: 1e-15 });
    assertClose(grad(grad(f))(tensor(0.5)), -Math.sin(0.5), { rtol: 1e-15 });
  });

  test("a tracer leaked out of its transform still refuses to give numbers without stopGradient", () => {
    let leaked: Tensor | null = null;
    grad((x: Tensor) => {
      leaked = mul(x, 2);
      return sum(leaked);
    })(tensor([1, 2]));
    throwsWith(() => leaked!.toArray(), DifferentiationError);
    assert.deepEqual(stopGradient(leaked!).toArray(), [2, 4]);
  });
});

describe("custom rules that read plain numbers", () => {
  // sin with a bwd that computes cos from numbers: right at first order, not differentiable beyond.
  const numericSin = customVjp(
    function numericSin(x: Tensor) {
      return sin(x);
    },
    (x: Tensor) => [sin(x), x],
    (x: Tensor, g: Tensor) => [mul(g, Math.cos(x.item()))],
  );
  const numericSinJvp = customJvp(
    function numericSinJvp(x: Tensor) {
      return sin(x);
    },
    ([x]: Tensor[], [t]: Tensor[]) => [sin(x), mul(t, Math.cos(x.item()))],
  );

  test("are right at first order", () => {
    assertClose(grad(numericSin)(tensor(0.3)), Math.cos(0.3), { rtol: 1e-15 });
    assertClose(jvp(numericSinJvp, [tensor(0.3)], [tensor(1)])[1], Math.cos(0.3), { rtol: 1e-15 });
    assertClose(grad(numericSinJvp)(tensor(0.3)), Math.cos(0.3), { rtol: 1e-15 });
  });

  test("throw DifferentiationError naming the rule on every second-order path (never a silent 0)", () => {
    const x = tensor(0.3);
    const paths: [string, (f: (x: Tensor) => Tensor) => unknown][] = [
      ["grad(grad)", (f) => grad(grad(f))(x)],
      ["jacrev(grad)", (f) => jacrev(grad(f))(x)],
      ["jacfwd(grad)", (f) => jacfwd(grad(f))(x)],
      ["hessian", (f) => hessian(f)(x)],
      ["jvp(grad)", (f) => jvp(grad(f), [x], [tensor(1)])],
      ["grad(jacfwd)", (f) => grad((y: Tensor) => sum(jacfwd(f)(y)))(x)],
    ];
    for (const [name, run] of paths) {
      assert.throws(
        () => run(numericSin),
        (e: Error) => e instanceof DifferentiationError && /customVjp\(numericSin\)/.test(e.message),
        `customVjp under ${name}`,
      );
      assert.throws(
        () => run(numericSinJvp),
        (e: Error) => e instanceof DifferentiationError && /customJvp\(numericSinJvp\)/.test(e.message),
        `customJvp under ${name}`,
      );
    }
  });

  test("a rule written with ops is differentiable to any order", () => {
    const opsSin = customVjp(
      (x: Tensor) => sin(x),
      (x: Tensor) => [sin(x), x],
      (x: Tensor, g: Tensor) => [mul(g, cos(x))],
    );
    assertClose(grad(grad(opsSin))(tensor(0.3)), -Math.sin(0.3), { rtol: 1e-14 });
    assertClose(jacrev(grad(opsSin))(tensor(0.3)), -Math.sin(0.3), { rtol: 1e-14 });
  });

  test("malformed returns are typed errors naming the rule", () => {
    const x = tensor([1, 2]);
    const badFwd = customVjp(
      function badFwd(y: Tensor) {
        return y;
      },
      (y: Tensor) => y as unknown as [Tensor, Tensor],
      (_r: Tensor, g: Tensor) => [g],
    );
    throwsWith(() => grad((y: Tensor) => sum(badFwd(y)))(x), ValueError, /customVjp\(badFwd\): fwd must return a pair/);
    const bareBwd = customVjp(
      function bareBwd(y: Tensor) {
        return y;
      },
      (y: Tensor) => [y, null],
      (_r: null, g: Tensor) => g as unknown as Tensor[],
    );
    throwsWith(
      () => grad((y: Tensor) => sum(bareBwd(y)))(x),
      ValueError,
      /customVjp\(bareBwd\): bwd must return an array with one cotangent per argument \(1\), got a tensor/,
    );
    const wrongShape = customVjp(
      function wrongShape(y: Tensor) {
        return y;
      },
      (y: Tensor) => [y, null],
      (_r: null, g: Tensor) => [sum(g)],
    );
    throwsWith(() => grad((y: Tensor) => sum(wrongShape(y)))(x), TreeMismatchError, /customVjp\(wrongShape\).*\[2\]/);
    const badJvp = customJvp(
      function badJvp(y: Tensor) {
        return y;
      },
      ([y]: Tensor[]) => y as unknown as [Tensor, Tensor],
    );
    throwsWith(() => jvp(badJvp, [x], [x]), ValueError, /customJvp\(badJvp\): the jvp rule must return a pair/);
    const wrongTangent = customJvp(
      function wrongTangent(y: Tensor) {
        return y;
      },
      ([y]: Tensor[], [t]: Tensor[]) => [y, sum(t)],
    );
    throwsWith(() => jvp(wrongTangent, [x], [x]), TreeMismatchError, /customJvp\(wrongTangent\).*\[2\]/);
    throwsWith(() => grad((y: Tensor) => sum(wrongTangent(y)))(x), TreeMismatchError, /customJvp\(wrongTangent\)/);
    throwsWith(
      () => customVjp(numericSin, sin as any, 3 as any),
      ValueError,
      /^customVjp\(numericSin\): bwd must be a function, got 3/,
    );
    throwsWith(
      () => customJvp("f" as any, sin as any),
      ValueError,
      /^customJvp: f must be a function, got the string "f"/,
    );
  });
});

describe("creation functions reject bad arguments with ValueError naming the function and argument", () => {
  test("numbers that are not finite or not numbers", () => {
    throwsWith(() => arange(NaN), ValueError, /^arange: stop must be a finite number, got NaN/);
    throwsWith(() => arange(Infinity), ValueError, /^arange: stop .*Infinity/);
    throwsWith(() => arange(0, -Infinity), ValueError, /^arange: stop/);
    throwsWith(() => arange(NaN, 3), ValueError, /^arange: start/);
    throwsWith(() => arange(0, 3, NaN), ValueError, /^arange: step/);
    throwsWith(() => arange(0, 3, 0), ValueError, /^arange: step must be non-zero/);
    throwsWith(() => arange(0, 1e300, 1), ValueError, /^arange: length .* more than/);
    throwsWith(
      () => full([2], "x" as unknown as number),
      ValueError,
      /^full: value must be a number, got the string "x"/,
    );
    throwsWith(
      () => scalar("x" as unknown as number),
      ValueError,
      /^scalar: value must be a number, got the string "x"/,
    );
    throwsWith(() => linspace(0, NaN, 3), ValueError, /^linspace: stop/);
    throwsWith(() => linspace(0, 1, 2.5), ValueError, /^linspace: num/);
    // NaN values themselves are numbers: allowed, like NumPy.
    assert.ok(Number.isNaN(full([1], NaN).item()));
  });

  test("shapes that are not arrays of non-negative integers, or too large", () => {
    throwsWith(
      () => zeros("3" as unknown as number[]),
      ValueError,
      /^zeros: shape must be an array .*got the string "3"/,
    );
    throwsWith(() => zeros(3 as unknown as number[]), ValueError, /^zeros: shape must be an array .*got 3/);
    throwsWith(() => ones([2, 1.5]), ValueError, /^ones: invalid shape \[2, 1\.5\]/);
    throwsWith(() => full([-1], 0), ValueError, /^full: invalid shape \[-1\]/);
    throwsWith(() => zeros([2, "3" as unknown as number]), ValueError, /^zeros: invalid shape \[2, the string "3"\]/);
    throwsWith(() => zeros([1e6, 1e6]), ValueError, /^zeros: shape \[1000000, 1000000\] has 1000000000000 elements/);
    throwsWith(() => eye(1.5), ValueError, /^eye: invalid size \[n, m\]/);
    throwsWith(() => eye(1e5, 1e5), ValueError, /^eye: size \[n, m\]/);
    throwsWith(() => tensor([1, 2], [Infinity] as number[]), ValueError, /^tensor: invalid shape/);
    throwsWith(() => reshape(arange(4), "4" as unknown as number[]), ValueError, /^reshape: shape must be an array/);
    throwsWith(() => reshape(arange(4), [2.5, 1.6]), ValueError, /^reshape: invalid shape \[2\.5, 1\.6\]/);
    throwsWith(() => broadcastTo(arange(4), [1e6, 1e6, 4]), ValueError, /^broadcastTo: shape .* elements/);
    throwsWith(() => random.normal(random.key(0), [1e6, 1e6]), ValueError, /^random\.normal: shape .* elements/);
  });
});

describe("tensor() inputs", () => {
  test("says what it got instead of 'ragged nested array'", () => {
    const cases: [unknown, RegExp][] = [
      ["x", /got the string "x"/],
      [true, /got the boolean true/],
      [null, /got null/],
      [undefined, /got undefined/],
      [{ a: 1 }, /got an object/],
      [new Map(), /got a Map/],
      [new BigInt64Array(2), /got a BigInt64Array/],
    ];
    for (const [v, msg] of cases) throwsWith(() => tensor(v as number), ValueError, /^tensor: expected a number/, msg);
    throwsWith(
      () => tensor([1, "x"] as unknown as number[]),
      ValueError,
      /entries must be numbers, got the string "x" at index \[1\]/,
    );
    throwsWith(
      () =>
        tensor([
          [1, 2],
          [3, null],
        ] as unknown as number[][]),
      ValueError,
      /got null at index \[1, 1\]/,
    );
    throwsWith(() => tensor([[1, 2], [3]]), ShapeError, /ragged nested array: length 1 at index \[1\], expected 2/);
    throwsWith(() => tensor([1, [2]] as unknown as number[]), ShapeError, /an array at index \[1\] where a number/);
    throwsWith(() => tensor([[1], 2] as unknown as number[][]), ShapeError, /a number at index \[1\] where an array/);
  });

  test("typed arrays are accepted and converted to float64, alone or as rows", () => {
    assert.deepEqual(tensor(new Float32Array([0.5, 1.5])).toArray(), [0.5, 1.5]);
    assert.deepEqual(tensor(new Int32Array([1, -2, 3, 4]), [2, 2]).toArray(), [
      [1, -2],
      [3, 4],
    ]);
    assert.deepEqual(tensor(new Uint8Array([255, 0])).toArray(), [255, 0]);
    assert.deepEqual(tensor([new Float32Array([1, 2]), new Int16Array([3, 4])]).toArray(), [
      [1, 2],
      [3, 4],
    ]);
    const src = new Float32Array([1, 2]);
    const t = tensor(src);
    src[0] = 9;
    assert.deepEqual(t.toArray(), [1, 2], "the values are copied");
    assert.ok(t.data instanceof Float64Array);
  });
});

describe("an elementwise op's argument that is not a tensor", () => {
  test("names the op and the argument (a forgotten argument reads 'mul: b: … got undefined')", () => {
    const lam = undefined as unknown as Tensor;
    throwsWith(() => mul(tensor([1, 2]), lam), ValueError, /^mul: b: expected a number, .* got undefined$/);
    throwsWith(() => tensor([1]).add("x" as never), ValueError, /^add: b: expected a number, .* got the string "x"$/);
    throwsWith(() => sin(null as never), ValueError, /^sin: x: expected a number, .* got null$/);
    throwsWith(() => greater([[1, 2], [3]], 0), ShapeError, /^greater: a: ragged nested array/);
    throwsWith(() => where(undefined as never, 1, 2), ValueError, /^where: condition: expected a number/);
    // nested arrays and typed arrays are still converted
    assert.deepEqual(add([1, 2], new Float32Array([0.5, 0.5])).toArray(), [1.5, 2.5]);
  });
});

describe("cyclic pytrees", () => {
  test("are a ValueError, not a stack overflow", () => {
    const a: unknown[] = [tensor(1)];
    a.push(a);
    throwsWith(() => tree.flatten(a as tree.Tree), ValueError, /cyclic/);
    const o: Record<string, unknown> = { w: tensor(1) };
    o.self = { inner: o };
    throwsWith(() => grad((p: { w: Tensor }) => sum(p.w))(o as { w: Tensor }), ValueError, /cyclic/);
    // Shared (non-cyclic) subtrees are fine.
    const shared = { w: tensor(2) };
    assert.equal(tree.flatten([shared, shared])[0].length, 2);
  });
});

describe("detaching a tensor's buffer", () => {
  test("structuredClone transfer of one small tensor's buffer leaves other tensors and later allocations intact", () => {
    const before = Array.from({ length: 20 }, (_, i) => add(arange(10), i));
    const x = add(arange(12), 100);
    const y = reshape(x, [3, 4]);
    const after = Array.from({ length: 20 }, (_, i) => add(arange(10), i));
    const buf = x.data.buffer as ArrayBuffer;
    assert.equal(buf.byteLength, 12 * 8, "a tensor's public data owns its whole buffer");
    structuredClone(buf, { transfer: [buf] });
    assert.equal(x.data.length, 0, "the transferred tensor itself is emptied (documented)");
    before.forEach((t, i) =>
      assert.deepEqual(
        t.toArray(),
        [...Array(10).keys()].map((k) => k + i),
      ),
    );
    after.forEach((t, i) =>
      assert.deepEqual(
        t.toArray(),
        [...Array(10).keys()].map((k) => k + i),
      ),
    );
    assert.deepEqual(
      (y.toArray() as number[][])[2],
      [108, 109, 110, 111],
      "a reshape made before the first data read keeps its values",
    );
    for (let i = 0; i < 300; i++) assert.equal(sum(add(arange(16), i)).item(), 120 + 16 * i);
  });

  test("a postMessage transfer does the same", () => {
    const x = add(arange(20), 1);
    const neighbour = add(arange(20), 2);
    const { port1, port2 } = new MessageChannel();
    port1.postMessage(x.data, [x.data.buffer as ArrayBuffer]);
    port1.close();
    port2.close();
    assert.deepEqual(
      neighbour.toArray(),
      [...Array(20).keys()].map((k) => k + 2),
    );
    assert.deepEqual(
      add(arange(20), 3).toArray(),
      [...Array(20).keys()].map((k) => k + 3),
    );
  });

  test("reading data keeps the values and identity stable", () => {
    const x = add(arange(10), 1);
    const d = x.data;
    assert.equal(x.data, d);
    assert.deepEqual(Array.from(d), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.deepEqual(add(x, 1).toArray(), [2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  });
});

describe("random.choice without replacement", () => {
  test("from a huge population takes time proportional to the sample", () => {
    // A full shuffle of 2^26 entries would allocate 256 MiB and take seconds; the sample needs two draws.
    const k = random.key(7);
    const c = random.choice(k, 2 ** 26, { shape: [2], replace: false }).toArray() as number[];
    assert.equal(c.length, 2);
    assert.notEqual(c[0], c[1]);
    for (const v of c) assert.ok(Number.isInteger(v) && v >= 0 && v < 2 ** 26);
    assert.deepEqual(random.choice(k, 2 ** 26, { shape: [2], replace: false }).toArray(), c, "deterministic");
    const longer = random.choice(k, 2 ** 26, { shape: [5], replace: false }).toArray() as number[];
    assert.deepEqual(longer.slice(0, 2), c, "a shorter draw is a prefix of a longer one");
  });

  test("is uniform (chi-square, seeded, loose bound) through both the sparse and the dense paths", () => {
    // n = 40, m = 3 uses the hash map; n = 6, m = 3 the dense array. Each (position, value) cell is uniform.
    for (const [n, m, draws] of [
      [40, 3, 4000],
      [6, 3, 3000],
    ] as const) {
      const counts = new Float64Array(m * n);
      const keys = random.split(random.key(11), draws);
      for (const k of keys) {
        const c = random.choice(k, n, { shape: [m], replace: false }).toArray() as number[];
        assert.equal(new Set(c).size, m, "no repeats");
        c.forEach((v, pos) => counts[pos * n + v]!++);
      }
      const expected = draws / n;
      for (let pos = 0; pos < m; pos++) {
        let chi2 = 0;
        for (let v = 0; v < n; v++) chi2 += (counts[pos * n + v]! - expected) ** 2 / expected;
        // n − 1 degrees of freedom: mean n − 1, standard deviation √(2(n − 1)); 6 standard deviations is loose.
        const dof = n - 1;
        assert.ok(chi2 < dof + 6 * Math.sqrt(2 * dof), `n=${n} position ${pos}: chi2 ${chi2.toFixed(1)} (dof ${dof})`);
      }
    }
  });

  test("permutation is the draw of the whole population", () => {
    const k = random.key(5);
    assert.deepEqual(random.permutation(k, 9).toArray(), random.choice(k, 9, { shape: [9], replace: false }).toArray());
  });
});

describe("readable tensors", () => {
  test("toString, util.inspect and console.log print shape and values NumPy-like", () => {
    assert.equal(String(tensor(2.5)), "tensor(2.5)");
    assert.equal(String(tensor([1, 2])), "tensor([1, 2], shape=[2])");
    assert.equal(
      String(
        tensor([
          [1, 2],
          [3, 4],
        ]),
      ),
      "tensor([[1, 2], [3, 4]], shape=[2, 2])",
    );
    assert.equal(inspect(tensor([1, 2])), "tensor([1, 2], shape=[2])");
    assert.equal(inspect({ w: tensor([1, 2]) }), "{ w: tensor([1, 2], shape=[2]) }");
    // Too long for one line: one row per line, aligned under the first.
    const m = reshape(arange(40), [4, 10]).mul(1.5);
    const lines = String(m).split("\n");
    assert.equal(lines.length, 4);
    assert.equal(lines[0], "tensor([[0, 1.5, 3, 4.5, 6, 7.5, 9, 10.5, 12, 13.5],");
    assert.equal(lines[1], "        [15, 16.5, 18, 19.5, 21, 22.5, 24, 25.5, 27, 28.5],");
    assert.ok(lines[3]!.endsWith("]], shape=[4, 10])"));
    // Large tensors are summarised along every axis.
    const big = String(reshape(arange(3000), [30, 100]));
    assert.equal(big.split("\n").length, 7);
    assert.match(big, /^tensor\(\[\[0, 1, 2, …, 97, 98, 99\],\n {8}\[100, 101/);
    assert.match(big, /\n {8}…,\n/);
  });

  test("toJSON gives nested arrays", () => {
    assert.equal(
      JSON.stringify({
        w: tensor([
          [1, 2],
          [3, 4],
        ]),
        b: tensor(0.5),
        e: zeros([0]),
      }),
      '{"w":[[1,2],[3,4]],"b":0.5,"e":[]}',
    );
  });
});

describe("errors raised deep inside surface at the public function", () => {
  test("rootJvp and rootVjp name themselves for bad tangents, cotangents, args and shapes F rejects", () => {
    const F = (z: Tensor, a: Tensor) => sub(mul(z, z), a);
    const xs = tensor([1, 2]);
    const a: [Tensor] = [tensor([1, 4])];
    throwsWith(
      () => rootVjp(F, xs, a, tensor([1, 2, 3])),
      TreeMismatchError,
      /^rootVjp: cotangent vs xStar: leaf 0 has shape \[3\], expected \[2\]/,
    );
    throwsWith(() => rootJvp(F, xs, a, [tensor([1, 2, 3])]), TreeMismatchError, /^rootJvp: tangents vs args/);
    throwsWith(
      () => rootJvp(F, xs, a, tensor(1) as unknown as [Tensor]),
      ValueError,
      /^rootJvp: tangents must be an array/,
    );
    throwsWith(
      () => rootVjp(F, xs, tensor([1, 4]) as unknown as [Tensor], xs),
      ValueError,
      /^rootVjp: args must be an array/,
    );
    throwsWith(
      () => rootVjp(F, tensor([1, 2, 3]), a, tensor([1, 2, 3])),
      ShapeError,
      /^rootVjp: sub: shapes \[3\] and \[2\]/,
    );
    throwsWith(() => rootVjp("F" as unknown as typeof F, xs, a, xs), ValueError, /^rootVjp: F must be a function/);
    // The well-formed call still works: x² = a ⇒ dx/da = 1/(2x).
    assertClose(rootVjp(F, xs, a, tensor([1, 1]))[0] as Tensor, [0.5, 0.25], { rtol: 1e-12 });
  });

  test("line searches check value, grad and direction against x", () => {
    const f = (w: Tensor) => sum(square(w));
    const fn = {
      value: (w: tree.Tree) => f(w as Tensor).item(),
      valueAndGrad: (w: tree.Tree) => [f(w as Tensor).item(), grad(f)(w as Tensor)] as [number, tree.Tree],
    };
    const x = tensor([1, 2]);
    const g = tensor([2, 4]);
    throwsWith(
      () => backtrackingLineSearch(fn, x, 5, g, tensor([1, 2, 3])),
      TreeMismatchError,
      /^backtrackingLineSearch: direction vs x/,
    );
    throwsWith(
      () => backtrackingLineSearch(fn, x, 5, tensor([2, 4, 1]), g.neg()),
      TreeMismatchError,
      /^backtrackingLineSearch: grad vs x/,
    );
    throwsWith(() => wolfeLineSearch(fn, x, 5, [g], g.neg()), TreeMismatchError, /^wolfeLineSearch: grad vs x/);
    throwsWith(
      () => backtrackingLineSearch(fn, x, NaN, g, g.neg()),
      ValueError,
      /^backtrackingLineSearch: value .* finite number, got NaN/,
    );
    assert.equal(backtrackingLineSearch(fn, x, 5, g, g.neg()).stepsize, 0.5);
  });

  test("prox operators name themselves and the argument", () => {
    throwsWith(
      () => prox.lasso("x" as unknown as Tensor),
      ValueError,
      /^prox\.lasso: x: tensor: expected a number.*the string "x"/,
    );
    throwsWith(() => prox.ridge(tensor([1, 2, 3]), tensor([1, 2])), ShapeError, /^prox\.ridge: /);
    throwsWith(() => prox.groupLasso(tensor([1, 2]), [1, 2]), ShapeError, /^prox\.groupLasso: l2reg must be a scalar/);
  });
});
