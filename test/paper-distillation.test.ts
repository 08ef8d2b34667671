/**
 * The distillation experiment: its IDX reader (on small files written here), its PNG encoder, the shipped
 * Fashion-MNIST subset, and its quick mode, whose claims must hold.
 */
import assert from "node:assert/strict";
import { claimFails } from "../paper/experiment.js";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { inflateSync } from "node:zlib";
import { test } from "node:test";
import { ValueError } from "../src/index.js";
import { encodeIdx, parseIdx, readIdx } from "../paper/data/idx.js";
import { loadFashionMnist, readImageSet } from "../paper/data/fashion-mnist.js";
import { greyPng } from "../paper/experiments/distillation-figures.js";
import { distillation } from "../paper/experiments/distillation.js";
import { runQuick } from "./paper-helpers.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

test("parseIdx reads a hand-written IDX file, raw and gzipped", () => {
  // magic 00 00 08 02 (unsigned bytes, 2 dimensions), dimensions 2 and 3 (big-endian), then 6 values
  const bytes = Uint8Array.of(0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 250, 0, 7);
  const a = parseIdx(bytes);
  assert.deepEqual(a.shape, [2, 3]);
  assert.deepEqual(Array.from(a.data), [1, 2, 3, 250, 0, 7]);
  assert.deepEqual(encodeIdx(a, false), bytes);
  const b = parseIdx(encodeIdx(a));
  assert.deepEqual(b.shape, [2, 3]);
  assert.deepEqual(Array.from(b.data), [1, 2, 3, 250, 0, 7]);
});

test("parseIdx rejects bad magic numbers, element types and sizes", () => {
  assert.throws(() => parseIdx(Uint8Array.of(1, 0, 8, 1, 0, 0, 0, 1, 5)), ValueError);
  assert.throws(() => parseIdx(Uint8Array.of(0, 0, 0x0d, 1, 0, 0, 0, 1, 5)), /only unsigned bytes/);
  assert.throws(() => parseIdx(Uint8Array.of(0, 0, 8, 1, 0, 0, 0, 2, 5)), /needs 2/);
  assert.throws(() => parseIdx(Uint8Array.of(0, 0, 8, 2, 0, 0)), /truncated/);
});

test("readImageSet scales pixels to [0, 1] and checks labels against images", () => {
  const dir = mkdtempSync(join(tmpdir(), "idx-"));
  const pixels = Uint8Array.from({ length: 2 * 784 }, (_, i) => i % 256);
  writeFileSync(join(dir, "img.gz"), encodeIdx({ shape: [2, 28, 28], data: pixels }));
  writeFileSync(join(dir, "lab.gz"), encodeIdx({ shape: [2], data: Uint8Array.of(3, 9) }));
  writeFileSync(join(dir, "bad.gz"), encodeIdx({ shape: [3], data: Uint8Array.of(1, 2, 3) }));
  const set = readImageSet(dir, "img.gz", "lab.gz");
  assert.equal(set.n, 2);
  assert.deepEqual(Array.from(set.labels), [3, 9]);
  assert.equal(set.images[255], 1);
  assert.equal(set.images[51], 51 / 255);
  assert.deepEqual(readIdx(join(dir, "lab.gz")).shape, [2]);
  assert.throws(() => readImageSet(dir, "img.gz", "bad.gz"), /must hold 2 labels/);
});

test("the shipped Fashion-MNIST subset holds 60 training and 30 test images per class", () => {
  const data = loadFashionMnist(root, true);
  assert.equal(data.source, "subset");
  for (const [set, per] of [
    [data.train, 60],
    [data.test, 30],
  ] as const) {
    const counts = new Array<number>(10).fill(0);
    for (const c of set.labels) counts[c]!++;
    assert.deepEqual(counts, new Array<number>(10).fill(per));
    assert.equal(set.images.length, set.n * 784);
  }
});

test("greyPng writes a valid PNG whose pixels inflate back", () => {
  const pixels = Uint8Array.of(0, 64, 128, 255, 1, 2);
  const png = greyPng(pixels, 3, 2);
  assert.deepEqual(Array.from(png.subarray(0, 8)), [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  // IHDR: width 3, height 2, depth 8, greyscale; then IDAT with filter byte 0 before each row
  const view = new DataView(png.buffer);
  assert.equal(view.getUint32(16), 3);
  assert.equal(view.getUint32(20), 2);
  const idatLength = view.getUint32(33);
  assert.equal(String.fromCharCode(...png.subarray(37, 41)), "IDAT");
  const raw = inflateSync(png.subarray(41, 41 + idatLength));
  assert.deepEqual(Array.from(raw), [0, 0, 64, 128, 0, 255, 1, 2]);
  // CRC of IEND is the well-known constant ae 42 60 82
  assert.deepEqual(Array.from(png.subarray(png.length - 4)), [0xae, 0x42, 0x60, 0x82]);
});

test("distillation --quick: its claims hold and the result carries the images, l2reg and test accuracy", async () => {
  const r = await runQuick(distillation);
  for (const c of r.claims)
    assert.ok(!claimFails(c, true), `${c.id}: ${c.statement} (value ${c.value}, bound ${c.bound})`);
  assert.deepEqual(
    r.claims.map((c) => c.id),
    ["outer-loss-decreases", "implicit-faster-than-unrolled"],
  );
  const images = r.results.images as number[][];
  assert.equal(images.length, 10);
  assert.ok(images.every((row) => row.length === 784 && row.every(Number.isFinite)));
  assert.equal(r.results.l2reg, 0.1);
  assert.equal(r.results.testSetSize, 300);
  const acc = r.results.testAccuracy as number;
  assert.ok(acc > 0.5 && acc <= 1, `test accuracy ${acc}`);
  assert.ok((r.results.hypergradientRelativeDifference as number) < 1e-4);
  assert.equal(r.figures.length, 2);
  for (const f of r.figures) assert.match(f.svg, /^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
});
