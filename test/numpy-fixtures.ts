/**
 * Reads test/fixtures/numpy-names.json (written by test/fixtures/numpy-names.py from NumPy and SciPy) and
 * compares results with it: non-finite values and the sign of zero exactly, finite values to a relative
 * tolerance.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { tensor, type Tensor } from "../src/index.js";

/** A number as the fixture writes it: finite numbers as is, "nan", "inf", "-inf" and "-0" as strings. */
export type Encoded = number | string;

/** An array as the fixture writes it. */
export interface EncodedArray {
  shape: number[];
  data: Encoded[];
}

/** The decoded number. */
export function decode(v: Encoded): number {
  if (typeof v === "number") return v;
  return { nan: NaN, inf: Infinity, "-inf": -Infinity, "-0": -0 }[v] ?? Number.NaN;
}

/** The decoded numbers. */
export function decodeAll(vs: readonly Encoded[]): number[] {
  return vs.map(decode);
}

/** The tensor of an encoded array. */
export function fixtureTensor(a: EncodedArray): Tensor {
  return tensor(Float64Array.from(decodeAll(a.data)), a.shape);
}

export const fixtures: any = JSON.parse(readFileSync(new URL("./fixtures/numpy-names.json", import.meta.url), "utf8"));

/**
 * Asserts `actual` matches the reference: NaN for NaN, ±∞ and ±0 exactly (sign of zero included), finite values
 * within `rtol` relative (and `atol` absolute, default 0). Reports the worst entry with its input.
 */
export function assertMatchesReference(
  actual: ArrayLike<number>,
  expected: readonly number[],
  opts: { rtol?: number; atol?: number; inputs?: readonly (readonly number[])[]; signedZero?: boolean } = {},
  msg = "",
): void {
  const rtol = opts.rtol ?? 0;
  const atol = opts.atol ?? 0;
  assert.equal(actual.length, expected.length, `${msg}: length`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    const at = opts.inputs ? ` at (${opts.inputs.map((x) => x[i]).join(", ")})` : ` at ${i}`;
    if (!Number.isFinite(e) || (e === 0 && opts.signedZero !== false && atol === 0)) {
      assert.ok(Object.is(a, e) || (e === 0 && opts.signedZero === false && a === 0), `${msg}${at}: ${a} vs ${e}`);
      continue;
    }
    const err = Math.abs(a - e);
    assert.ok(
      err <= atol + rtol * Math.abs(e),
      `${msg}${at}: ${a} vs ${e} (rel ${(err / Math.abs(e)).toExponential(2)})`,
    );
  }
}
