/**
 * random.gumbel and random.categorical: the Gumbel law's moments and CDF, categorical frequencies against
 * softmax(logits) (within 5 standard errors: the draws are seeded, so these are fixed numbers), the axis/shape
 * semantics of JAX, −∞ logits, vmap with batched logits, determinism, and argument errors.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { grad, log, random, softmax, tensor, vmap, ShapeError, ValueError, type Tensor } from "../src/index.js";

/** Euler–Mascheroni constant: the mean of the standard Gumbel law. */
const EULER_GAMMA = 0.5772156649015329;

describe("random.gumbel", () => {
  test("finite samples with the mean γ, variance π²/6 and CDF exp(−e^(−x)) of the standard Gumbel law", () => {
    const n = 200_000;
    const x = random.gumbel(random.key(0), [n]).data;
    let m = 0;
    for (const v of x) {
      assert.ok(Number.isFinite(v));
      m += v;
    }
    m /= n;
    let v2 = 0;
    for (const v of x) v2 += (v - m) ** 2;
    v2 /= n - 1;
    const variance = Math.PI ** 2 / 6;
    assert.ok(Math.abs(m - EULER_GAMMA) < 5 * Math.sqrt(variance / n), `mean ${m}`);
    // The variance of the sample variance of a Gumbel law is σ⁴(κ − 1)/n with excess kurtosis 12/5 (κ = 5.4).
    assert.ok(Math.abs(v2 - variance) < 5 * variance * Math.sqrt(4.4 / n), `variance ${v2}`);
    for (const q of [-1, 0, 0.5, 2, 5]) {
      const cdf = Math.exp(-Math.exp(-q));
      const frac = x.filter((v) => v <= q).length / n;
      assert.ok(Math.abs(frac - cdf) < 5 * Math.sqrt((cdf * (1 - cdf)) / n), `CDF at ${q}: ${frac} vs ${cdf}`);
    }
  });
  test("deterministic, a shorter draw is a prefix of a longer one, and bad arguments are ValueErrors", () => {
    const a = random.gumbel(random.key(3), [5]).toArray() as number[];
    assert.deepEqual(random.gumbel(random.key(3), [2]).toArray(), a.slice(0, 2));
    assert.deepEqual(random.gumbel(random.key(3), [5]).toArray(), a);
    assert.throws(
      () => random.gumbel(3 as unknown as random.PRNGKey, [2]),
      (e: Error) => e instanceof ValueError && /^random\.gumbel: key must be a PRNGKey/.test(e.message),
    );
    assert.throws(
      () => random.gumbel(random.key(0), [-1]),
      (e: Error) => e instanceof ValueError && /^random\.gumbel: shape/.test(e.message),
    );
  });
});

describe("random.categorical", () => {
  test("frequencies match softmax(logits) within 5 standard errors; a −∞ logit is never drawn", () => {
    const logits = tensor([1, -0.5, 2, -Infinity, 0]);
    const p = softmax(logits).data;
    const n = 100_000;
    const draws = random.categorical(random.key(1), logits, { shape: [n] }).data;
    const counts = new Array(5).fill(0);
    for (const d of draws) counts[d]++;
    assert.equal(counts[3], 0);
    counts.forEach((c, k) => {
      const se = Math.sqrt((p[k]! * (1 - p[k]!)) / n);
      assert.ok(Math.abs(c / n - p[k]!) <= 5 * se, `category ${k}: ${c / n} vs ${p[k]}`);
    });
  });
  test("axis and shape follow JAX: the batch shape broadcasts to shape, leading axes draw more samples", () => {
    const onehot = tensor([
      [0, -Infinity, -Infinity],
      [-Infinity, -Infinity, 0],
    ]);
    assert.deepEqual(random.categorical(random.key(2), onehot).toArray(), [0, 2]);
    assert.deepEqual(random.categorical(random.key(2), onehot, { shape: [3, 2] }).toArray(), [
      [0, 2],
      [0, 2],
      [0, 2],
    ]);
    // axis 0: the categories are the rows; one distribution per column.
    const cols = tensor([
      [0, -Infinity],
      [-Infinity, 0],
      [-Infinity, -Infinity],
    ]);
    assert.deepEqual(random.categorical(random.key(2), cols, { axis: 0 }).toArray(), [0, 1]);
    // A batch axis of length 1 broadcasts.
    assert.deepEqual(random.categorical(random.key(2), tensor([[0, -Infinity]]), { shape: [4] }).shape, [4]);
    assert.deepEqual(random.categorical(random.key(4), log(tensor([0.5, 0.5])), { shape: [2, 3] }).shape, [2, 3]);
  });
  test("deterministic per key; no derivative flows to the logits", () => {
    const logits = tensor([0.1, 0.2, 0.3]);
    const a = random.categorical(random.key(5), logits, { shape: [20] }).toArray();
    assert.deepEqual(random.categorical(random.key(5), logits, { shape: [20] }).toArray(), a);
    assert.notDeepEqual(random.categorical(random.key(6), logits, { shape: [20] }).toArray(), a);
    assert.deepEqual(
      grad((l: Tensor) => random.categorical(random.key(5), l).add(l.sum()))(logits).toArray(),
      [1, 1, 1],
    );
  });
  test("under vmap with batched logits, every element adds the same noise to its own logits (as JAX)", () => {
    const batch = tensor([
      [0.3, 1.2, -0.4],
      [2, 0, 0],
      [0, -Infinity, 5],
    ]);
    const f = (l: Tensor) => random.categorical(random.key(7), l, { shape: [4] });
    const looped = [0, 1, 2].map((i) => f(tensor((batch.toArray() as number[][])[i]!)).toArray());
    assert.deepEqual(vmap(f)(batch).toArray(), looped);
  });
  test("bad arguments: NaN logits, all −∞, shapes that do not broadcast, a bad axis", () => {
    const k = random.key(0);
    const err = (fn: () => unknown, type: typeof ValueError | typeof ShapeError, re: RegExp) =>
      assert.throws(fn, (e: Error) => e instanceof type && re.test(e.message));
    err(() => random.categorical(k, tensor([0, NaN])), ValueError, /^random\.categorical: logits contain NaN/);
    err(
      () =>
        random.categorical(
          k,
          tensor([
            [0, 1],
            [-Infinity, -Infinity],
          ]),
        ),
      ValueError,
      /distribution 1 has every logit −∞/,
    );
    err(
      () =>
        random.categorical(
          k,
          tensor([
            [1, 2],
            [3, 4],
          ]),
          { shape: [3] },
        ),
      ShapeError,
      /batch shape of the logits \[2\] .* does not broadcast to shape \[3\]/,
    );
    err(() => random.categorical(k, tensor([1, 2]), { axis: 1 }), ValueError, /axis 1 is out of range/);
    err(() => random.categorical(k, tensor(1)), ShapeError, /at least one axis/);
    err(() => random.categorical(k, tensor(new Float64Array(0), [0])), ValueError, /no category/);
    err(() => random.categorical(k, tensor([1]), { shape: [-2] }), ValueError, /^random\.categorical: shape/);
  });
});
