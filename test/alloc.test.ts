import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { allocFloat64 } from "../src/core/alloc.js";
import { add, tensor } from "../src/index.js";

describe("allocFloat64 (small and medium arrays carved from shared slabs)", () => {
  test("every array is zero-filled, of the requested length, and independent of its neighbours", () => {
    const arrays: Float64Array[] = [];
    // Lengths on both sides of the pooled range, enough of them to cross several slab boundaries.
    for (let i = 0; i < 2000; i++) {
      const n = [0, 1, 8, 9, 17, 63, 64, 65, 200, 1000, 1024, 1025][i % 12]!;
      const a = allocFloat64(n);
      assert.equal(a.length, n);
      assert.ok(
        a.every((v) => v === 0),
        `fresh array of length ${n} is not zero-filled`,
      );
      a.fill(i + 1);
      arrays.push(a);
    }
    arrays.forEach((a, i) =>
      assert.ok(
        a.every((v) => v === i + 1),
        `array ${i} was overwritten by a later one`,
      ),
    );
  });
  test("tensors built on slab views keep their values while others are created", () => {
    const x = tensor([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const y = add(x, 1);
    for (let i = 0; i < 500; i++) add(y, i);
    assert.deepEqual(y.toArray(), [2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    assert.deepEqual([...y.toFloat64Array()], [2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    assert.equal(y.toFloat64Array().buffer.byteLength, 80, "toFloat64Array copies only the tensor's own values");
  });
});
