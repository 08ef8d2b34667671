import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Tensor, tensor, random, grad, hessian, mul, sum, square, ValueError, ShapeError } from "../src/index.js";
import { threefry2x32 } from "../src/core/random.js";
import { assertClose, checkDerivatives, randn, rng } from "./helpers.js";

const N = 100_000;

function mean(d: Float64Array): number {
  let s = 0;
  for (let i = 0; i < d.length; i++) s += d[i]!;
  return s / d.length;
}

function variance(d: Float64Array): number {
  const m = mean(d);
  let s = 0;
  for (let i = 0; i < d.length; i++) s += (d[i]! - m) ** 2;
  return s / (d.length - 1);
}

/** Asserts |value − expected| ≤ 5 standard errors. */
function assertWithin5SE(value: number, expected: number, se: number, what: string): void {
  assert.ok(Math.abs(value - expected) <= 5 * se, `${what}: ${value} vs ${expected} (5 SE = ${5 * se})`);
}

/** Asserts that each of `counts` (over `total` draws) is within 5 SE of `total · probs[i]`. */
function assertFrequencies(counts: number[], probs: number[], total: number, what: string): void {
  counts.forEach((c, i) => {
    const p = probs[i]!;
    assertWithin5SE(c / total, p, Math.sqrt((p * (1 - p)) / total), `${what} frequency of ${i}`);
  });
}

function throwsValueError(fn: () => unknown, argument: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof ValueError && argument.test(e.message));
}

describe("threefry2x32", () => {
  test("matches the published known-answer vectors (Random123 / JAX)", () => {
    assert.deepEqual(threefry2x32([0, 0], [0, 0]), [0x6b200159, 0x99ba4efe]);
    assert.deepEqual(threefry2x32([0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff]), [0x1cb996fc, 0xbb002be7]);
    assert.deepEqual(threefry2x32([0x13198a2e, 0x03707344], [0x243f6a88, 0x85a308d3]), [0xc4923a9c, 0x483df7a0]);
  });
});

describe("keys", () => {
  test("key splits the seed into two 32-bit words (two's complement for negative seeds)", () => {
    const k = random.key(2 ** 32 + 5);
    assert.equal(k.k0, 1);
    assert.equal(k.k1, 5);
    const m = random.key(-1);
    assert.equal(m.k0, 0xffffffff);
    assert.equal(m.k1, 0xffffffff);
    assert.equal(String(random.key(42)), "PRNGKey(0x00000000, 0x0000002a)");
  });

  test("keys are immutable", () => {
    const k = random.key(1);
    assert.ok(Object.isFrozen(k));
    assert.throws(() => {
      (k as { k0: number }).k0 = 3;
    }, TypeError);
  });

  test("split is deterministic, gives distinct keys, and a longer split extends a shorter one", () => {
    const k = random.key(0);
    const a = random.split(k, 4);
    const b = random.split(random.key(0), 4);
    assert.deepEqual(a.map(String), b.map(String));
    const all = new Set([k, ...a].map(String));
    assert.equal(all.size, 5);
    assert.deepEqual(random.split(k).map(String), a.slice(0, 2).map(String));
    assert.equal(random.split(k, 0).length, 0);
  });

  test("foldIn gives keys distinct from split and from each other", () => {
    const k = random.key(9);
    const folded = [0, 1, 2].map((i) => String(random.foldIn(k, i)));
    const split = random.split(k, 3).map(String);
    assert.equal(new Set([...folded, ...split]).size, 6);
    assert.equal(String(random.foldIn(k, 1)), folded[1]);
  });

  test("bad seeds, counts and keys raise a ValueError naming the argument", () => {
    throwsValueError(() => random.key(1.5), /random\.key: seed/);
    throwsValueError(() => random.key(Number.NaN), /random\.key: seed/);
    throwsValueError(() => random.key(2 ** 53), /random\.key: seed/);
    throwsValueError(() => random.split(random.key(0), -1), /random\.split: n/);
    throwsValueError(() => random.split(random.key(0), 2.5), /random\.split: n/);
    throwsValueError(() => random.split(7 as unknown as random.PRNGKey), /random\.split: key/);
    throwsValueError(() => random.foldIn(random.key(0), -3), /random\.foldIn: data/);
    throwsValueError(() => random.normal([0, 1] as unknown as random.PRNGKey, [2]), /random\.normal: key/);
  });
});

describe("determinism", () => {
  test("same key gives the same numbers; different keys give different numbers", () => {
    const k = random.key(123);
    assert.deepEqual(random.normal(k, [50]).toArray(), random.normal(random.key(123), [50]).toArray());
    assert.deepEqual(random.uniform(k, [50]).toArray(), random.uniform(random.key(123), [50]).toArray());
    const [k1, k2] = random.split(k);
    const a = random.normal(k1!, [50]).data;
    const b = random.normal(k2!, [50]).data;
    const c = random.normal(k, [50]).data;
    for (let i = 0; i < 50; i++) {
      assert.notEqual(a[i], b[i]);
      assert.notEqual(a[i], c[i]);
    }
  });

  test("results do not depend on the order of calls", () => {
    const [k1, k2] = random.split(random.key(5));
    const first = random.normal(k1!, [20]).toArray();
    random.uniform(k2!, [1000]);
    random.permutation(k2!, 100);
    assert.deepEqual(random.normal(k1!, [20]).toArray(), first);
  });

  test("a draw depends only on element positions: prefixes and reshapes agree", () => {
    const k = random.key(77);
    const long = random.normal(k, [11]).data;
    const short = random.normal(k, [4]).data;
    for (let i = 0; i < 4; i++) assert.equal(short[i], long[i]);
    assert.deepEqual([...random.uniform(k, [2, 3]).data], [...random.uniform(k, [6]).data]);
    assert.deepEqual(random.normal(k, [2, 3]).shape, [2, 3]);
    assert.deepEqual(random.normal(k, []).shape, []);
    assert.equal(random.normal(k, [0, 4]).size, 0);
  });
});

describe("normal", () => {
  test("mean and variance of 1e5 standard normals are within 5 standard errors", () => {
    const z = random.normal(random.key(2024), [N]).data;
    assertWithin5SE(mean(z), 0, 1 / Math.sqrt(N), "mean");
    assertWithin5SE(variance(z), 1, Math.sqrt(2 / N), "variance");
    // Symmetry and tails: P(|z| < 1) = 0.682689…, P(z > 1.96) = 0.0249979…
    let inside = 0;
    let upper = 0;
    for (let i = 0; i < N; i++) {
      if (Math.abs(z[i]!) < 1) inside++;
      if (z[i]! > 1.959963984540054) upper++;
    }
    assertFrequencies([inside, upper], [0.6826894921370859, 0.025], N, "normal");
  });

  test("mean and std options shift and scale", () => {
    const x = random.normal(random.key(3), [N], { mean: -4, std: 0.5 }).data;
    assertWithin5SE(mean(x), -4, 0.5 / Math.sqrt(N), "mean");
    assertWithin5SE(variance(x), 0.25, 0.25 * Math.sqrt(2 / N), "variance");
    const z = random.normal(random.key(3), [10]).data;
    const y = random.normal(random.key(3), [10], { mean: 2, std: 3 }).data;
    for (let i = 0; i < 10; i++) assertClose(y[i]!, 2 + 3 * z[i]!, { rtol: 1e-14, atol: 1e-14 });
  });

  test("streams of split keys and neighbouring elements are uncorrelated", () => {
    const [k1, k2] = random.split(random.key(8));
    const a = random.normal(k1!, [N]).data;
    const b = random.normal(k2!, [N]).data;
    let cross = 0;
    let lag = 0;
    for (let i = 0; i < N; i++) {
      cross += a[i]! * b[i]!;
      if (i + 1 < N) lag += a[i]! * a[i + 1]!;
    }
    assertWithin5SE(cross / N, 0, 1 / Math.sqrt(N), "correlation of split streams");
    assertWithin5SE(lag / (N - 1), 0, 1 / Math.sqrt(N - 1), "lag-1 autocorrelation");
  });

  test("bad arguments raise a ValueError naming them", () => {
    const k = random.key(0);
    throwsValueError(() => random.normal(k, [2, -1]), /random\.normal: shape/);
    throwsValueError(() => random.normal(k, [1.5]), /random\.normal: shape/);
    throwsValueError(() => random.normal(k, 3 as unknown as number[]), /random\.normal: shape/);
    throwsValueError(() => random.normal(k, [2], { std: -1 }), /random\.normal: std/);
    throwsValueError(() => random.normal(k, [2], { mean: Number.NaN }), /random\.normal: mean/);
  });
});

describe("uniform", () => {
  test("samples lie in [minval, maxval) with the moments of the uniform law", () => {
    const u = random.uniform(random.key(11), [N], { minval: -2, maxval: 3 }).data;
    for (let i = 0; i < N; i++) assert.ok(u[i]! >= -2 && u[i]! < 3, `sample ${u[i]} outside [-2, 3)`);
    assertWithin5SE(mean(u), 0.5, 5 / Math.sqrt(12 * N), "mean");
    // Var of U(a, b) is (b − a)²/12; the sample variance has SE ≈ sqrt((μ4 − σ⁴)/n) with μ4 = (b − a)⁴/80.
    const w4 = 5 ** 4;
    assertWithin5SE(variance(u), 25 / 12, Math.sqrt((w4 / 80 - w4 / 144) / N), "variance");
    const counts = new Array(10).fill(0);
    for (let i = 0; i < N; i++) counts[Math.floor((u[i]! + 2) * 2)]++;
    assertFrequencies(counts, new Array(10).fill(0.1), N, "decile");
  });

  test("default range is [0, 1) with 53 random bits per sample", () => {
    const u = random.uniform(random.key(12), [1000]).data;
    let oddLowBit = 0;
    for (let i = 0; i < u.length; i++) {
      assert.ok(u[i]! >= 0 && u[i]! < 1);
      const scaled = u[i]! * 2 ** 53;
      assert.ok(Number.isInteger(scaled));
      if (scaled % 2 === 1) oddLowBit++;
    }
    assertFrequencies([oddLowBit], [0.5], 1000, "lowest bit set");
  });

  test("a tiny interval still excludes maxval", () => {
    const hi = 1 + 2 ** -52;
    const u = random.uniform(random.key(1), [200], { minval: 1, maxval: hi }).data;
    for (let i = 0; i < u.length; i++) assert.equal(u[i], 1);
  });

  test("bad bounds raise a ValueError naming them", () => {
    const k = random.key(0);
    throwsValueError(() => random.uniform(k, [2], { minval: 1, maxval: 1 }), /random\.uniform: minval/);
    throwsValueError(() => random.uniform(k, [2], { maxval: Infinity }), /random\.uniform: maxval/);
    throwsValueError(
      () => random.uniform(k, [2], { minval: -Number.MAX_VALUE, maxval: Number.MAX_VALUE }),
      /overflows/,
    );
  });
});

describe("randint and bernoulli", () => {
  test("randint gives every integer of [lo, hi) with equal frequency", () => {
    const x = random.randint(random.key(4), [N], -3, 4).data;
    const counts = new Array(7).fill(0);
    for (let i = 0; i < N; i++) {
      assert.ok(Number.isInteger(x[i]!) && x[i]! >= -3 && x[i]! < 4, `sample ${x[i]}`);
      counts[x[i]! + 3]++;
    }
    assertFrequencies(counts, new Array(7).fill(1 / 7), N, "randint");
  });

  test("randint handles spans up to 2^53 (rejection keeps it uniform)", () => {
    const x = random.randint(random.key(6), [2000], 0, 3 * 2 ** 51).data;
    let upperHalf = 0;
    for (let i = 0; i < x.length; i++) {
      assert.ok(Number.isInteger(x[i]!) && x[i]! >= 0 && x[i]! < 3 * 2 ** 51);
      if (x[i]! >= 1.5 * 2 ** 51) upperHalf++;
    }
    assertFrequencies([upperHalf], [0.5], 2000, "upper half");
  });

  test("randint rejects bad bounds", () => {
    const k = random.key(0);
    throwsValueError(() => random.randint(k, [2], 3, 3), /random\.randint: lo/);
    throwsValueError(() => random.randint(k, [2], 0.5, 3), /random\.randint: lo/);
    throwsValueError(() => random.randint(k, [2], 0, 2 ** 60), /random\.randint: hi/);
  });

  test("bernoulli has mean p, and accepts a tensor p that broadcasts", () => {
    const b = random.bernoulli(random.key(5), 0.3, [N]).data;
    for (let i = 0; i < N; i++) assert.ok(b[i] === 0 || b[i] === 1);
    assertWithin5SE(mean(b), 0.3, Math.sqrt(0.21 / N), "mean");
    const probs = tensor([0, 0.5, 1]);
    const m = random.bernoulli(random.key(6), probs, [N / 10, 3]);
    const cols = [0, 0, 0];
    for (let i = 0; i < m.size; i++) cols[i % 3]! += m.data[i]!;
    assert.equal(cols[0], 0);
    assert.equal(cols[2], N / 10);
    assertWithin5SE(cols[1]! / (N / 10), 0.5, Math.sqrt(0.25 / (N / 10)), "column 1");
  });

  test("bernoulli rejects p outside [0, 1] and shapes that do not broadcast", () => {
    const k = random.key(0);
    throwsValueError(() => random.bernoulli(k, 1.5, [2]), /random\.bernoulli: p/);
    throwsValueError(() => random.bernoulli(k, Number.NaN, [2]), /random\.bernoulli: p/);
    assert.throws(
      () => random.bernoulli(k, tensor([0.1, 0.2]), [3]),
      (e: unknown) => e instanceof ShapeError && /p of shape/.test(e.message),
    );
  });
});

describe("permutation", () => {
  function assertPermutation(p: Tensor, n: number): void {
    assert.deepEqual(p.shape, [n]);
    const sorted = [...p.data].sort((a, b) => a - b);
    assert.deepEqual(
      sorted,
      Array.from({ length: n }, (_, i) => i),
    );
  }

  test("is a valid, deterministic permutation of arange(n)", () => {
    for (const n of [0, 1, 2, 10, 1000]) assertPermutation(random.permutation(random.key(n), n), n);
    const k = random.key(31);
    assert.deepEqual(random.permutation(k, 50).toArray(), random.permutation(random.key(31), 50).toArray());
    assert.notDeepEqual(random.permutation(k, 50).toArray(), random.permutation(random.key(32), 50).toArray());
  });

  test("all 6 permutations of 3 items are equally likely", () => {
    const draws = 12_000;
    const counts = new Map<string, number>();
    const base = random.key(99);
    for (let i = 0; i < draws; i++) {
      const p = random.permutation(random.foldIn(base, i), 3).toArray() as number[];
      counts.set(p.join(""), (counts.get(p.join("")) ?? 0) + 1);
    }
    assert.equal(counts.size, 6);
    assertFrequencies([...counts.values()], new Array(6).fill(1 / 6), draws, "permutation");
  });

  test("of a tensor shuffles its rows like the index permutation", () => {
    const k = random.key(17);
    const x = randn(rng(1), [6, 2]);
    const p = random.permutation(k, 6).data;
    const y = random.permutation(k, x);
    assert.deepEqual(y.shape, [6, 2]);
    for (let i = 0; i < 6; i++) {
      assert.equal(y.data[2 * i], x.data[2 * p[i]!]);
      assert.equal(y.data[2 * i + 1], x.data[2 * p[i]! + 1]);
    }
  });

  test("of a tensor is differentiable, to second order", () => {
    const k = random.key(21);
    const x = randn(rng(2), [5]);
    checkDerivatives((v) => mul(random.permutation(k, v), v), [x]);
    // f(x) = Σᵢ x_{π(i)} xᵢ has Hessian H[a, b] = [π(a) = b] + [π(b) = a].
    const p = random.permutation(k, 5).data;
    const H = hessian((v: Tensor) => sum(mul(random.permutation(k, v), v)))(x) as Tensor;
    const expected = new Float64Array(25);
    for (let a = 0; a < 5; a++) {
      expected[a * 5 + p[a]!]! += 1;
      expected[p[a]! * 5 + a]! += 1;
    }
    assertClose(H.data, expected, { rtol: 1e-12, atol: 1e-12 });
  });

  test("rejects bad populations", () => {
    const k = random.key(0);
    throwsValueError(() => random.permutation(k, -1), /random\.permutation: n/);
    throwsValueError(() => random.permutation(k, 2.5), /random\.permutation: n/);
    assert.throws(() => random.permutation(k, tensor(3)), ShapeError);
  });
});

describe("choice", () => {
  test("without replacement draws distinct items", () => {
    const c = random.choice(random.key(1), 10, { shape: [2, 5], replace: false });
    assert.deepEqual(c.shape, [2, 5]);
    assert.deepEqual(
      [...c.data].sort((a, b) => a - b),
      Array.from({ length: 10 }, (_, i) => i),
    );
  });

  test("with replacement follows p", () => {
    const p = [0.5, 0, 0.2, 0.3];
    const c = random.choice(random.key(2), 4, { shape: [N], p }).data;
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < N; i++) counts[c[i]!]!++;
    assert.equal(counts[1], 0);
    assertFrequencies(counts, p, N, "choice");
    const u = random.choice(random.key(3), 5, { shape: [N] }).data;
    const uc = [0, 0, 0, 0, 0];
    for (let i = 0; i < N; i++) uc[u[i]!]!++;
    assertFrequencies(uc, new Array(5).fill(0.2), N, "uniform choice");
  });

  test("without replacement and with p: the first draw follows p, later ones never repeat", () => {
    const p = [0.6, 0.3, 0.1, 0];
    const draws = 10_000;
    const first = [0, 0, 0, 0];
    const base = random.key(4);
    for (let i = 0; i < draws; i++) {
      const c = random.choice(random.foldIn(base, i), 4, { shape: [3], replace: false, p }).data;
      assert.equal(new Set(c).size, 3);
      assert.ok(!c.includes(3));
      first[c[0]!]!++;
    }
    assertFrequencies(first, p, draws, "first draw");
    throwsValueError(() => random.choice(base, 4, { shape: [4], replace: false, p }), /random\.choice: p/);
  });

  test("of a tensor gathers rows and sums the gradient over repeated rows", () => {
    const k = random.key(5);
    const x = randn(rng(3), [4, 3]);
    const idx = random.choice(k, 4, { shape: [10] }).data;
    const rows = random.choice(k, x, { shape: [10] });
    assert.deepEqual(rows.shape, [10, 3]);
    const g = grad((v: Tensor) => sum(square(random.choice(k, v, { shape: [10] }))))(x) as Tensor;
    const expected = new Float64Array(12);
    for (let i = 0; i < 10; i++) {
      for (let j = 0; j < 3; j++) {
        assert.equal(rows.data[3 * i + j], x.data[3 * idx[i]! + j]);
        expected[3 * idx[i]! + j]! += 2 * x.data[3 * idx[i]! + j]!;
      }
    }
    assertClose(g.data, expected, { rtol: 1e-12, atol: 1e-12 });
    checkDerivatives((v) => mul(random.choice(k, v, { shape: [2, 5] }), 3), [x]);
  });

  test("rejects impossible requests naming the argument", () => {
    const k = random.key(0);
    throwsValueError(() => random.choice(k, 3, { shape: [4], replace: false }), /without replacement/);
    throwsValueError(() => random.choice(k, 0, { shape: [1] }), /empty population/);
    throwsValueError(() => random.choice(k, 3, { p: [0.5, 0.6, -0.1] }), /random\.choice: p/);
    throwsValueError(() => random.choice(k, 3, { p: [0.5, 0.2, 0.2] }), /random\.choice: p must sum to 1/);
    assert.throws(() => random.choice(k, 3, { p: [0.5, 0.5] }), ShapeError);
  });
});
