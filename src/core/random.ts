/**
 * Seeded random numbers with explicit keys, in the style of JAX: there is no hidden global state. A
 * {@link PRNGKey} is an immutable value; every sampling function takes one, and {@link split} / {@link foldIn}
 * derive new, independent keys from it.
 *
 * ## The generator
 * Counter-based: the random bits at position `i` of a draw are Threefry-2x32 (20 rounds; Salmon et al., "Parallel
 * random numbers: as easy as 1, 2, 3", SC 2011) applied to the counter `i` under the key. Results depend only on
 * (key, shape, arguments), never on what was drawn before or in which order, and the first elements of a longer
 * draw equal a shorter draw with the same key. One 64-bit block gives one uniform double with 53 random bits;
 * normals come from pairs of uniforms by the Box–Muller transform.
 *
 * Counters are split into disjoint domains (the high word of the 64-bit counter), so that the bits of a draw
 * never coincide with a key made by `split` or `foldIn` from the same key. As in JAX, do not reuse a key for two
 * purposes: split it.
 *
 * Sampling is not differentiable (the results are constants), except {@link permutation} and {@link choice} of a
 * tensor, which are gathers and carry derivatives to the gathered tensor.
 *
 * @example
 * ```ts
 * import { random } from "diffopt";
 * const [k1, k2] = random.split(random.key(0));
 * const x = random.normal(k1, [3]);            // three standard normals
 * const u = random.uniform(k2, [2, 2], { minval: -1, maxval: 1 });
 * ```
 * @module
 */
import { ShapeError, ValueError } from "./errors.js";
import { fmt } from "./shape.js";
import {
  Tensor,
  asTensor,
  baseValues,
  checkShape,
  describeValue,
  isBatched,
  shapeSize,
  type Shape,
  type TensorLike,
} from "./tensor.js";
import { add, less } from "./ops/elementwise.js";
import { broadcastTo } from "./ops/broadcast.js";
import { take } from "./ops/indexing.js";
import { argmax } from "./ops/reduce.js";
import { moveAxis, reshape } from "./ops/shape.js";

// ---------------------------------------------------------------------------------------------------------------
// Threefry-2x32

const ROTATIONS = [13, 15, 26, 6, 17, 29, 16, 24];
const KEY_PARITY = 0x1bd11bda;

/** Output words of the last {@link threefryBlock} call (module scratch: no allocation per block). */
let word0 = 0;
let word1 = 0;

/** Threefry-2x32 with 20 rounds of the counter (c0, c1) under the key (k0, k1); sets `word0`, `word1`. */
function threefryBlock(k0: number, k1: number, c0: number, c1: number): void {
  const k2 = k0 ^ k1 ^ KEY_PARITY;
  const ks0 = k0 | 0;
  const ks1 = k1 | 0;
  const ks2 = k2 | 0;
  let x0 = (c0 + ks0) | 0;
  let x1 = (c1 + ks1) | 0;
  for (let group = 0; group < 5; group++) {
    const base = (group & 1) * 4;
    for (let r = 0; r < 4; r++) {
      const rot = ROTATIONS[base + r]!;
      x0 = (x0 + x1) | 0;
      x1 = (x1 << rot) | (x1 >>> (32 - rot));
      x1 ^= x0;
    }
    // Key injection s = group + 1 uses the key schedule rotated by s, plus s on the second word.
    const s = group + 1;
    const a = s % 3;
    x0 = (x0 + (a === 0 ? ks0 : a === 1 ? ks1 : ks2)) | 0;
    const b = (s + 1) % 3;
    x1 = (x1 + (b === 0 ? ks0 : b === 1 ? ks1 : ks2) + s) | 0;
  }
  word0 = x0 >>> 0;
  word1 = x1 >>> 0;
}

/**
 * @internal Threefry-2x32 (20 rounds) of one counter under one key, as two unsigned 32-bit words. Exposed for
 * known-answer tests.
 */
export function threefry2x32(key: readonly [number, number], counter: readonly [number, number]): [number, number] {
  threefryBlock(key[0] >>> 0, key[1] >>> 0, counter[0] >>> 0, counter[1] >>> 0);
  return [word0, word1];
}

/** High-word tags of the counter domains. Data draws use counters below 2^53 (high word < 2^21). */
const SPLIT_DOMAIN = 0x80000000;
const FOLD_DOMAIN = 0x40000000;
const RETRY_DOMAIN = 0x20000000;

const TWO_POW_32 = 4294967296;
const TWO_POW_53 = 9007199254740992;
const TWO_POW_26 = 67108864;

/** The 53-bit uniform double in [0, 1) of data block `index` of the key (k0, k1). */
function uniformAt(k0: number, k1: number, index: number): number {
  threefryBlock(k0, k1, Math.floor(index / TWO_POW_32), index >>> 0);
  return ((word0 >>> 5) * TWO_POW_26 + (word1 >>> 6)) / TWO_POW_53;
}

// ---------------------------------------------------------------------------------------------------------------
// Keys

/**
 * An immutable random key: two unsigned 32-bit words. Make one with {@link key}; derive more with {@link split}
 * or {@link foldIn}.
 *
 * @example
 * ```ts
 * import { random } from "diffopt";
 * const k = random.key(42);
 * console.log(k instanceof random.PRNGKey, String(k)); // true PRNGKey(0x00000000, 0x0000002a)
 * ```
 */
export class PRNGKey {
  /** First (high) word, an unsigned 32-bit integer. */
  readonly k0: number;
  /** Second (low) word, an unsigned 32-bit integer. */
  readonly k1: number;

  /** @internal Use {@link key}, {@link split} or {@link foldIn}. */
  constructor(k0: number, k1: number) {
    this.k0 = k0 >>> 0;
    this.k1 = k1 >>> 0;
    Object.freeze(this);
  }

  /** The two words in hexadecimal, e.g. `PRNGKey(0x00000000, 0x0000002a)`. */
  toString(): string {
    const hex = (w: number) => `0x${w.toString(16).padStart(8, "0")}`;
    return `PRNGKey(${hex(this.k0)}, ${hex(this.k1)})`;
  }
}

function checkKey(k: unknown, op: string): PRNGKey {
  if (!(k instanceof PRNGKey)) {
    throw new ValueError(
      `random.${op}: key must be a PRNGKey (from random.key, random.split or random.foldIn), got ${describeValue(k)}`,
    );
  }
  return k;
}

function checkSampleShape(shape: unknown, op: string): Shape {
  if (!Array.isArray(shape)) {
    throw new ValueError(`random.${op}: shape must be an array of non-negative integers, got ${describeValue(shape)}`);
  }
  for (const d of shape) {
    if (typeof d !== "number" || !Number.isInteger(d) || d < 0) {
      throw new ValueError(`random.${op}: shape must be an array of non-negative integers, got [${shape.join(", ")}]`);
    }
  }
  checkShape(shape, `random.${op}`);
  return [...shape];
}

function checkFiniteNumber(v: unknown, name: string, op: string): number {
  if (typeof v !== "number" || !Number.isFinite(v)) {
    throw new ValueError(`random.${op}: ${name} must be a finite number, got ${describeValue(v)}`);
  }
  return v;
}

function checkSafeInteger(v: unknown, name: string, op: string): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v)) {
    throw new ValueError(`random.${op}: ${name} must be a safe integer (|${name}| < 2^53), got ${describeValue(v)}`);
  }
  return v;
}

/**
 * A key from an integer seed (any safe integer, negative ones included: the seed is read as a 64-bit two's
 * complement integer split into two words).
 *
 * @example
 * ```ts
 * import { random } from "diffopt";
 * const a = random.normal(random.key(7), [2]);
 * const b = random.normal(random.key(7), [2]);
 * console.log(a.toArray(), b.toArray()); // the same two numbers, twice
 * ```
 */
export function key(seed: number): PRNGKey {
  checkSafeInteger(seed, "seed", "key");
  return new PRNGKey(Math.floor(seed / TWO_POW_32), seed >>> 0);
}

/**
 * `n` (default 2) new keys derived from `key`, independent of each other and of draws made with `key`.
 *
 * @example
 * ```ts
 * import { random } from "diffopt";
 * const [k1, k2, k3] = random.split(random.key(0), 3);
 * ```
 */
export function split(key: PRNGKey, n = 2): PRNGKey[] {
  const k = checkKey(key, "split");
  if (!Number.isInteger(n) || n < 0 || n >= TWO_POW_32) {
    throw new ValueError(`random.split: n must be a non-negative integer below 2^32, got ${describeValue(n)}`);
  }
  const keys: PRNGKey[] = new Array(n);
  for (let i = 0; i < n; i++) {
    threefryBlock(k.k0, k.k1, SPLIT_DOMAIN, i);
    keys[i] = new PRNGKey(word0, word1);
  }
  return keys;
}

/**
 * A new key from `key` and an integer `data` (an index, an epoch, a step…): `foldIn(k, i)` for i = 0, 1, … are
 * independent keys, distinct from those of {@link split}.
 *
 * @example
 * ```ts
 * import { random } from "diffopt";
 * const base = random.key(0);
 * const perStep = [0, 1, 2].map((step) => random.foldIn(base, step));
 * ```
 */
export function foldIn(key: PRNGKey, data: number): PRNGKey {
  const k = checkKey(key, "foldIn");
  if (!Number.isInteger(data) || data < 0 || data >= TWO_POW_32) {
    throw new ValueError(`random.foldIn: data must be an integer in [0, 2^32), got ${describeValue(data)}`);
  }
  threefryBlock(k.k0, k.k1, FOLD_DOMAIN, data);
  return new PRNGKey(word0, word1);
}

// ---------------------------------------------------------------------------------------------------------------
// Continuous distributions

/** Options of {@link uniform}. */
export interface UniformOptions {
  /** Lower bound, included (default 0). */
  minval?: number;
  /** Upper bound, excluded (default 1). */
  maxval?: number;
}

/** The largest double below `x` (for finite x). */
function nextDown(x: number): number {
  if (x === 0) return -Number.MIN_VALUE;
  const buf = new Float64Array([x]);
  const bits = new BigInt64Array(buf.buffer);
  bits[0] = x > 0 ? bits[0]! - 1n : bits[0]! + 1n;
  return buf[0]!;
}

/**
 * Uniform float64 samples in [minval, maxval) (default [0, 1)), each with 53 random bits.
 *
 * @example
 * ```ts
 * import { random } from "diffopt";
 * random.uniform(random.key(0), [2, 3], { minval: -1, maxval: 1 }).shape; // [2, 3]
 * ```
 */
export function uniform(key: PRNGKey, shape: Shape, opts: UniformOptions = {}): Tensor {
  const k = checkKey(key, "uniform");
  const s = checkSampleShape(shape, "uniform");
  const lo = checkFiniteNumber(opts.minval ?? 0, "minval", "uniform");
  const hi = checkFiniteNumber(opts.maxval ?? 1, "maxval", "uniform");
  if (!(lo < hi)) throw new ValueError(`random.uniform: minval (${lo}) must be less than maxval (${hi})`);
  const width = hi - lo;
  if (!Number.isFinite(width)) throw new ValueError(`random.uniform: maxval − minval overflows (${lo}, ${hi})`);
  const top = nextDown(hi);
  const n = shapeSize(s);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const v = lo + width * uniformAt(k.k0, k.k1, i);
    out[i] = v < hi ? v : top;
  }
  return new Tensor(out, s);
}

/** Options of {@link normal}. */
export interface NormalOptions {
  /** Mean (default 0). */
  mean?: number;
  /** Standard deviation, ≥ 0 (default 1). */
  std?: number;
}

/**
 * Normal float64 samples (standard by default): `mean + std · z` with z standard normal, by the Box–Muller
 * transform of pairs of 53-bit uniforms.
 *
 * @example
 * ```ts
 * import { random } from "diffopt";
 * const z = random.normal(random.key(1), [1000]);
 * const x = random.normal(random.key(2), [3], { mean: 10, std: 0.1 });
 * ```
 */
export function normal(key: PRNGKey, shape: Shape, opts: NormalOptions = {}): Tensor {
  const k = checkKey(key, "normal");
  const s = checkSampleShape(shape, "normal");
  const mean = checkFiniteNumber(opts.mean ?? 0, "mean", "normal");
  const std = checkFiniteNumber(opts.std ?? 1, "std", "normal");
  if (std < 0) throw new ValueError(`random.normal: std must be non-negative, got ${std}`);
  const n = shapeSize(s);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i += 2) {
    // 1 − u lies in (0, 1], so the logarithm is finite.
    const radius = Math.sqrt(-2 * Math.log(1 - uniformAt(k.k0, k.k1, i)));
    const angle = 2 * Math.PI * uniformAt(k.k0, k.k1, i + 1);
    out[i] = mean + std * radius * Math.cos(angle);
    if (i + 1 < n) out[i + 1] = mean + std * radius * Math.sin(angle);
  }
  return new Tensor(out, s);
}

/** Half the spacing of the uniform grid: moves a draw of exactly 0 inside (0, 1). */
const HALF_STEP = 1 / (2 * TWO_POW_53);

/** A standard Gumbel draw −log(−log u) for element `index`, with u in (0, 1) (so the result is finite). */
function gumbelAt(k0: number, k1: number, index: number): number {
  const u = uniformAt(k0, k1, index) || HALF_STEP;
  // −log(1 − u) is an Exp(1) draw, accurate for small u; it is > 0 for u in (0, 1).
  return -Math.log(-Math.log1p(-u));
}

/**
 * Standard Gumbel samples (location 0, scale 1: P(X ≤ x) = exp(−e^(−x))), by inversion of 53-bit uniforms
 * (JAX's `random.gumbel`). Every sample is finite. Adding them to logits and taking the argmax samples the
 * softmax distribution (see {@link categorical}).
 *
 * @example
 * ```ts
 * import { random } from "diffopt";
 * random.gumbel(random.key(0), [3]).shape; // [3]
 * ```
 */
export function gumbel(key: PRNGKey, shape: Shape): Tensor {
  const k = checkKey(key, "gumbel");
  const s = checkSampleShape(shape, "gumbel");
  const n = shapeSize(s);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = gumbelAt(k.k0, k.k1, i);
  return new Tensor(out, s);
}

/** Options of {@link categorical}. */
export interface CategoricalOptions {
  /** The axis of `logits` that holds the categories (default −1, the last). */
  axis?: number;
  /**
   * The shape of the sample; the shape of `logits` without `axis` (its batch shape) must broadcast to it, so
   * leading axes draw several samples per distribution. Default: the batch shape (one sample per distribution).
   */
  shape?: Shape;
}

/**
 * Samples category indices (as a float64 tensor) with probabilities softmax(logits) along `axis`, by the
 * Gumbel-max trick: argmax(logits + Gumbel noise), as JAX's `random.categorical`. A logit of −∞ is a category
 * of probability 0; NaN logits, and a distribution whose logits are all −∞, are a `ValueError`. Under `vmap`
 * with batched logits, every element adds the same noise (one key) to its own logits, as JAX does with an
 * unbatched key. No derivative (the indices are constants).
 *
 * @example
 * ```ts
 * import { random, tensor, log } from "diffopt";
 * const logits = log(tensor([0.2, 0.5, 0.3]));
 * random.categorical(random.key(0), logits, { shape: [5] }).shape; // [5] (each entry 0, 1 or 2)
 * random.categorical(random.key(1), tensor([[0, -Infinity], [-Infinity, 0]])).toArray(); // [0, 1]
 * ```
 */
export function categorical(key: PRNGKey, logits: TensorLike, opts: CategoricalOptions = {}): Tensor {
  const k = checkKey(key, "categorical");
  const lt = asTensor(logits);
  if (lt.ndim === 0) throw new ShapeError("random.categorical: logits must have at least one axis, got a scalar");
  const axisOpt = opts.axis ?? -1;
  if (!Number.isInteger(axisOpt) || axisOpt < -lt.ndim || axisOpt >= lt.ndim) {
    throw new ValueError(
      `random.categorical: axis ${String(axisOpt)} is out of range for logits of shape ${fmt(lt.shape)}`,
    );
  }
  const axis = axisOpt < 0 ? axisOpt + lt.ndim : axisOpt;
  const n = lt.shape[axis]!;
  if (n === 0) throw new ValueError("random.categorical: logits have no category (axis of length 0)");
  const moved = moveAxis(lt, axis, -1); // [...batch, n]
  const batch = moved.shape.slice(0, -1);
  const s = opts.shape === undefined ? batch : checkSampleShape(opts.shape, "categorical");
  const fits = batch.length <= s.length && batch.every((d, i) => d === 1 || d === s[s.length - batch.length + i]);
  if (!fits) {
    throw new ShapeError(
      `random.categorical: the batch shape of the logits ${fmt(batch)} (their shape ${fmt(lt.shape)} without axis ${axis}) does not broadcast to shape ${fmt(s)}`,
    );
  }
  checkLogits(moved, n);
  const noiseShape = [...s, n];
  const size = shapeSize(noiseShape);
  const noise = new Float64Array(size);
  for (let i = 0; i < size; i++) noise[i] = gumbelAt(k.k0, k.k1, i);
  return argmax(add(new Tensor(noise, noiseShape), moved), { axis: -1 });
}

/** No NaN logit, and (for values that are not a batch) no distribution without a finite or +∞ logit. */
function checkLogits(moved: Tensor, n: number): void {
  const values = baseValues(moved).raw;
  for (let i = 0; i < values.length; i++) {
    if (values[i] !== values[i]) throw new ValueError("random.categorical: logits contain NaN");
  }
  if (isBatched(moved)) return;
  for (let lane = 0; lane < values.length; lane += n) {
    let possible = false;
    for (let j = 0; j < n && !possible; j++) possible = values[lane + j]! > -Infinity;
    if (!possible) {
      throw new ValueError(
        `random.categorical: distribution ${lane / n} has every logit −∞ (no category has a positive probability)`,
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Discrete distributions

/**
 * An exactly uniform integer in [0, m) (1 ≤ m ≤ 2^53) for element `index`, by rejection on 53-bit blocks.
 * Retries draw from keys folded into the retry domain, so every element stays a function of its index.
 */
function uniformIntAt(k0: number, k1: number, index: number, m: number): number {
  const limit = TWO_POW_53 - (TWO_POW_53 % m);
  let u = uniformAt(k0, k1, index) * TWO_POW_53;
  for (let attempt = 0; u >= limit; attempt++) {
    threefryBlock(k0, k1, RETRY_DOMAIN, attempt);
    u = uniformAt(word0, word1, index) * TWO_POW_53;
  }
  return u % m;
}

/**
 * Uniform random integers in [lo, hi) as a float64 tensor (exactly uniform, by rejection).
 *
 * @example
 * ```ts
 * import { random } from "diffopt";
 * random.randint(random.key(0), [5], 0, 10).toArray(); // five integers in 0..9
 * ```
 */
export function randint(key: PRNGKey, shape: Shape, lo: number, hi: number): Tensor {
  const k = checkKey(key, "randint");
  const s = checkSampleShape(shape, "randint");
  checkSafeInteger(lo, "lo", "randint");
  checkSafeInteger(hi, "hi", "randint");
  if (!(lo < hi)) throw new ValueError(`random.randint: lo (${lo}) must be less than hi (${hi})`);
  const span = hi - lo;
  if (span > TWO_POW_53) throw new ValueError(`random.randint: hi − lo must be at most 2^53, got ${span}`);
  const n = shapeSize(s);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + uniformIntAt(k.k0, k.k1, i, span);
  return new Tensor(out, s);
}

/**
 * Bernoulli samples (1 with probability `p`, else 0) as a float64 tensor. `p` is a number or a tensor that
 * broadcasts to `shape`, with values in [0, 1]. Under `vmap` with a batched `p`, every element compares the same
 * uniform draws (one key) with its own `p`, as JAX does with an unbatched key.
 *
 * @example
 * ```ts
 * import { random } from "diffopt";
 * random.bernoulli(random.key(0), 0.3, [4]).toArray(); // four values, each 0 or 1
 * ```
 */
export function bernoulli(key: PRNGKey, p: TensorLike, shape: Shape): Tensor {
  const k = checkKey(key, "bernoulli");
  const s = checkSampleShape(shape, "bernoulli");
  if (typeof p === "number") checkFiniteNumber(p, "p", "bernoulli");
  const pt = asTensor(p);
  if (isBatched(pt)) return batchedBernoulli(k, pt, s);
  let probs: Float64Array;
  try {
    probs = broadcastTo(new Tensor(pt.raw, pt.shape), s).raw;
  } catch (e) {
    if (!(e instanceof ShapeError)) throw e;
    throw new ShapeError(`random.bernoulli: p of shape ${fmt(pt.shape)} does not broadcast to shape ${fmt(s)}`);
  }
  for (let i = 0; i < probs.length; i++) {
    const q = probs[i]!;
    if (!(q >= 0 && q <= 1)) throw new ValueError(`random.bernoulli: p must lie in [0, 1], got ${q}`);
  }
  const out = new Float64Array(probs.length);
  for (let i = 0; i < out.length; i++) out[i] = uniformAt(k.k0, k.k1, i) < probs[i]! ? 1 : 0;
  return new Tensor(out, s);
}

/** `bernoulli` for a `p` batched by vmap: the key's uniform draws compared with each element's `p`, as ops. */
function batchedBernoulli(k: PRNGKey, pt: Tensor, s: Shape): Tensor {
  for (const q of baseValues(pt).raw) {
    if (!(q >= 0 && q <= 1)) throw new ValueError(`random.bernoulli: p must lie in [0, 1], got ${q}`);
  }
  const n = shapeSize(s);
  const u = new Float64Array(n);
  for (let i = 0; i < n; i++) u[i] = uniformAt(k.k0, k.k1, i);
  try {
    return less(new Tensor(u, s), broadcastTo(pt, s));
  } catch (e) {
    if (!(e instanceof ShapeError)) throw e;
    throw new ShapeError(`random.bernoulli: p of shape ${fmt(pt.shape)} does not broadcast to shape ${fmt(s)}`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Permutations and choices (of a tensor: a `take` along the first axis, so derivatives flow back to the tensor)

/**
 * The first m entries of a uniformly random shuffle of 0..n−1, in time and memory O(m) whatever n: the forward
 * Fisher–Yates shuffle (step i swaps entry i with a uniform entry of i..n−1, using element i's stream), run on a
 * virtual array 0..n−1 whose displaced entries live in a hash map. Step i depends only on (key, i), so a shorter
 * draw is a prefix of a longer one (and `permutation` is the draw of all n). A dense array replaces the map when m
 * is a sizeable fraction of n.
 */
function partialShuffle(k: PRNGKey, n: number, m: number): Int32Array {
  const out = new Int32Array(m);
  if (4 * m >= n) {
    const perm = new Int32Array(n);
    for (let i = 0; i < n; i++) perm[i] = i;
    for (let i = 0; i < m; i++) {
      const j = i + uniformIntAt(k.k0, k.k1, i, n - i);
      out[i] = perm[j]!;
      perm[j] = perm[i]!;
    }
    return out;
  }
  const moved = new Map<number, number>();
  for (let i = 0; i < m; i++) {
    const j = i + uniformIntAt(k.k0, k.k1, i, n - i);
    out[i] = moved.get(j) ?? j;
    moved.set(j, moved.get(i) ?? i);
  }
  return out;
}

const MAX_INDEX = 2 ** 31 - 1;

function checkPopulation(x: unknown, op: string): { n: number; tensor: Tensor | null } {
  if (typeof x === "number") {
    if (!Number.isInteger(x) || x < 0 || x > MAX_INDEX) {
      throw new ValueError(`random.${op}: n must be a non-negative integer below 2^31, got ${x}`);
    }
    return { n: x, tensor: null };
  }
  if (!(x instanceof Tensor)) {
    throw new ValueError(`random.${op}: expected an integer n or a Tensor, got ${describeValue(x)}`);
  }
  if (x.ndim === 0) throw new ShapeError(`random.${op}: the tensor must have at least one axis, got a scalar`);
  return { n: x.shape[0]!, tensor: x };
}

/**
 * A random permutation: of `arange(n)` for an integer `n`, or of the first axis of a tensor `x` (rows shuffled;
 * derivatives flow back to `x` through the shuffle).
 *
 * @example
 * ```ts
 * import { random, tensor } from "diffopt";
 * random.permutation(random.key(0), 5).toArray();                 // 0..4 in random order
 * random.permutation(random.key(0), tensor([[1, 2], [3, 4]])).shape; // [2, 2]
 * ```
 */
export function permutation(key: PRNGKey, x: number | Tensor): Tensor {
  const k = checkKey(key, "permutation");
  const { n, tensor } = checkPopulation(x, "permutation");
  const perm = partialShuffle(k, n, n);
  if (tensor !== null) return take(tensor, perm, 0);
  return new Tensor(Float64Array.from(perm), [n]);
}

/** Options of {@link choice}. */
export interface ChoiceOptions {
  /** Shape of the sample of indices (default `[]`: one draw). */
  shape?: Shape;
  /** Sample with replacement (default true). */
  replace?: boolean;
  /** Probabilities of the n candidates (non-negative, summing to 1 within 1e-9); uniform when omitted. */
  p?: TensorLike;
}

function checkProbabilities(p: TensorLike, n: number): Float64Array {
  const pt = asTensor(p);
  if (pt.ndim !== 1 || pt.shape[0] !== n) {
    throw new ShapeError(
      `random.choice: p must have shape [${n}] (one probability per candidate), got ${fmt(pt.shape)}`,
    );
  }
  let total = 0;
  for (let i = 0; i < n; i++) {
    const q = pt.raw[i]!;
    if (!(q >= 0 && Number.isFinite(q)))
      throw new ValueError(`random.choice: p must be finite and non-negative, got p[${i}] = ${q}`);
    total += q;
  }
  if (!(Math.abs(total - 1) <= 1e-9)) throw new ValueError(`random.choice: p must sum to 1, got ${total}`);
  return pt.raw;
}

/**
 * Random draws from `arange(n)` (integer `n`) or from the rows of a tensor `x`, uniform or with probabilities
 * `p`, with or without replacement. The result has shape `shape` (plus the row shape for a tensor).
 * Without replacement and with `p`, items are taken in the order of the exponential race (Efraimidis–Spirakis).
 *
 * @example
 * ```ts
 * import { random } from "diffopt";
 * const k = random.key(3);
 * random.choice(k, 10, { shape: [4], replace: false }).toArray(); // four distinct integers in 0..9
 * random.choice(k, 3, { shape: [5], p: [0.5, 0.25, 0.25] }).shape; // [5]
 * ```
 */
export function choice(key: PRNGKey, x: number | Tensor, opts: ChoiceOptions = {}): Tensor {
  const k = checkKey(key, "choice");
  const { n, tensor } = checkPopulation(x, "choice");
  const s = checkSampleShape(opts.shape ?? [], "choice");
  const m = shapeSize(s);
  const replace = opts.replace ?? true;
  const probs = opts.p === undefined ? null : checkProbabilities(opts.p, n);
  if (m > 0 && n === 0) throw new ValueError(`random.choice: cannot draw ${m} item(s) from an empty population`);
  if (!replace && m > n) {
    throw new ValueError(`random.choice: cannot draw ${m} items without replacement from a population of ${n}`);
  }
  const index = new Int32Array(m);
  if (replace && probs === null) {
    for (let i = 0; i < m; i++) index[i] = uniformIntAt(k.k0, k.k1, i, n);
  } else if (replace && probs !== null) {
    // Inverse CDF by binary search; candidates of zero probability are never chosen.
    const cdf = new Float64Array(n);
    let acc = 0;
    for (let j = 0; j < n; j++) cdf[j] = acc += probs[j]!;
    for (let i = 0; i < m; i++) {
      const u = uniformAt(k.k0, k.k1, i) * acc;
      let lo = 0;
      let hi = n - 1;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (cdf[mid]! > u) hi = mid;
        else lo = mid + 1;
      }
      index[i] = lo;
    }
  } else if (probs === null) {
    index.set(partialShuffle(k, n, m));
  } else {
    // Exponential race: candidate j finishes at E_j / p_j; the first m to finish are the sample.
    const times = new Float64Array(n);
    for (let j = 0; j < n; j++) {
      const e = -Math.log(1 - uniformAt(k.k0, k.k1, j));
      times[j] = probs[j]! > 0 ? e / probs[j]! : Infinity;
    }
    const order = Array.from({ length: n }, (_, j) => j).sort((a, b) => times[a]! - times[b]! || a - b);
    if (m > 0 && times[order[m - 1]!] === Infinity) {
      throw new ValueError(`random.choice: p has fewer than ${m} non-zero entries, cannot draw without replacement`);
    }
    for (let i = 0; i < m; i++) index[i] = order[i]!;
  }
  if (tensor === null) return new Tensor(Float64Array.from(index), s);
  return reshape(take(tensor, index, 0), [...s, ...tensor.shape.slice(1)]);
}
