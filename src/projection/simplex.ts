/**
 * Projections built on the simplex threshold: `simplex`, `sparseSimplex`, `l1Ball`, `l1Sphere`.
 *
 * The Euclidean projection of x onto {p ≥ 0, Σp = v} is p = max(x − τ, 0), where τ is found in O(n log n) by
 * sorting (Held, Wolfe & Crowder 1974; Duchi et al. 2008). On the support S = {p > 0},
 * τ = (Σ_S x − v)/|S|, so the Jacobian is diag(s) − ssᵀ/|s| (s the indicator of S) and ∂p/∂v = s/|s|: the
 * derivatives below are exactly that closed form, with the support held fixed.
 *
 * @module
 */
import { ShapeError } from "../core/errors.js";
import { mul, sub, div, where } from "../core/ops/elementwise.js";
import { sum } from "../core/ops/reduce.js";
import { reshape } from "../core/ops/shape.js";
import { fmt } from "../core/shape.js";
import { Tensor, type TensorLike } from "../core/tensor.js";
import { checkValues, finiteTensor, maskableRows, positive, scalarParam } from "./checks.js";
import { structuredCall, type StructuredOp } from "./local.js";

/**
 * Projects the `n` values of `src` from `offset` onto the simplex of total mass `value` (only the
 * entries with `keep[i] !== 0` when `keep` is given; the others get 0), writing p into `out` and its support
 * into `mask` at the same offsets. `scratch` holds at least n numbers.
 *
 * The threshold is searched for on y = x − max x, which changes nothing (the projection is invariant to a shift)
 * but makes the search exact at any scale: the entries of the support lie in (max x − value, max x], so the
 * running sums on y stay of the order of `value` however large |x| is, whereas on x itself a mass far below the
 * spacing of the floats near max x (|x|/value ≳ 2⁵³) would vanish from them. The largest entry is always in the
 * support (its threshold test is 0 − (−value) > 0). Entries equal to −∞ get no mass; the caller makes sure the
 * largest kept entry is finite.
 */
function projectOntoSimplex(
  src: Float64Array,
  offset: number,
  n: number,
  value: number,
  scratch: Float64Array,
  keep: Float64Array | null,
  out: Float64Array,
  mask: Float64Array,
): void {
  let m = 0;
  for (let i = offset; i < offset + n; i++) if (keep === null || keep[i] !== 0) scratch[m++] = src[i]!;
  const sorted = scratch.subarray(0, m).sort();
  const top = sorted[m - 1]!;
  let cumsum = 0;
  let tau = -value;
  for (let j = 1; j < m; j++) {
    const u = sorted[m - 1 - j]! - top;
    cumsum += u;
    const t = (cumsum - value) / (j + 1);
    if (u - t > 0) tau = t;
    else break;
  }
  for (let i = offset; i < offset + n; i++) {
    const p = src[i]! - top - tau;
    if (p > 0 && (keep === null || keep[i] !== 0)) {
      out[i] = p;
      mask[i] = 1;
    }
  }
}

/** The support of the projection (all rows), as a 0/1 mask. */
interface Support {
  mask: Float64Array;
}

/** @internal Per-row parameter: a scalar or one value per row (shape = the batch shape). */
function rowParam(v: TensorLike, x: Tensor, fn: string, arg: string): Tensor {
  const t = finiteTensor(v, fn, arg);
  const batch = x.shape.slice(0, -1);
  const ok = t.size === 1 || (t.ndim === batch.length && t.shape.every((d, i) => d === batch[i]));
  if (!ok) {
    throw new ShapeError(
      `${fn}: ${arg} must be a scalar or have the batch shape ${fmt(batch)} of x ${fmt(x.shape)}, got ${fmt(t.shape)}`,
    );
  }
  return checkValues(t, fn, arg, positive, "positive");
}

/** Reshapes a per-row parameter so that it broadcasts along the last axis. */
function alongRows(v: Tensor, x: Tensor): Tensor {
  return v.size === 1 ? reshape(v, []) : reshape(v, [...x.shape.slice(0, -1), 1]);
}

/**
 * Local closed form on a fixed support: p = s ⊙ (x − (Σ s x − v)/|s|), row-wise. Entries off the support are
 * replaced by 0 before any arithmetic (`where`, not a product with the mask), so that −∞ entries give 0, not
 * NaN, in the values and in every derivative.
 */
function onSupport(x: Tensor, v: Tensor, mask: Tensor, sign: Tensor | null): Tensor {
  const xs = where(mask, x, 0);
  const sx = sign === null ? xs : mul(sign, xs);
  const size = sum(mask, { axis: -1, keepdims: true });
  const tau = div(sub(sum(sx, { axis: -1, keepdims: true }), v), size);
  const shifted = sub(sx, tau);
  return mul(mask, sign === null ? shifted : mul(sign, shifted));
}

function rowwiseSimplexOp(name: string, topK: number | null): StructuredOp<Support> {
  return {
    name,
    compute([x, v]) {
      const n = x!.shape[x!.ndim - 1]!;
      const rows = n === 0 ? 0 : x!.size / n;
      const src = x!.raw;
      const out = new Float64Array(src.length);
      const mask = new Float64Array(src.length);
      const scratch = new Float64Array(n);
      const keep = topK === null ? null : topKMask(src, n, rows, topK, scratch);
      for (let r = 0; r < rows; r++) {
        const value = v!.size === 1 ? v!.raw[0]! : v!.raw[r]!;
        projectOntoSimplex(src, r * n, n, value, scratch, keep, out, mask);
      }
      return { outs: [new Tensor(out, x!.shape)], structure: { mask } };
    },
    local([x, v], { mask }) {
      return [onSupport(x!, alongRows(v!, x!), new Tensor(mask, x!.shape), null)];
    },
  };
}

/** A 0/1 mask of the `k` largest entries of each row (ties broken by position). */
function topKMask(src: Float64Array, n: number, rows: number, k: number, scratch: Float64Array): Float64Array {
  const keep = new Float64Array(src.length);
  for (let r = 0; r < rows; r++) {
    const off = r * n;
    scratch.set(src.subarray(off, off + n));
    const sorted = scratch.sort();
    const kth = sorted[n - k]!;
    let taken = 0;
    for (let i = off; i < off + n; i++) {
      if (src[i]! > kth) {
        keep[i] = 1;
        taken++;
      }
    }
    for (let i = off; i < off + n && taken < k; i++) {
      if (src[i] === kth) {
        keep[i] = 1;
        taken++;
      }
    }
  }
  return keep;
}

const simplexOp = rowwiseSimplexOp("projection.simplex", null);
const sparseSimplexOps = new Map<number, StructuredOp<Support>>();

/**
 * Euclidean projection onto the simplex {p ≥ 0, Σᵢ pᵢ = value}, along the last axis (each row of a batch is
 * projected separately). O(n log n) by sorting, exact at any scale (the threshold is searched for relative to
 * the largest entry, so `simplex([1e16, 0])` is [1, 0]). Derivatives (in `x` and `value`) are the exact Jacobian
 * diag(s) − ssᵀ/|s| on the support s.
 *
 * @param x - tensor with at least one axis. Entries may be −∞: they get no mass (the usual way to mask entries
 *   out), as long as each row has a finite entry; NaN and +∞ throw a `NonFiniteError`.
 * @param value - the total mass, positive: a number, a scalar, or one value per row (the batch shape).
 * @example
 * ```ts
 * import { projection, tensor } from "diffopt";
 * projection.simplex(tensor([0.5, 1.5, -1])).toArray(); // [0, 1, 0]
 * projection.simplex(tensor([[1, 1], [3, 0]])).toArray(); // [[0.5, 0.5], [1, 0]]
 * projection.simplex(tensor([0, 0, -Infinity])).toArray(); // [0.5, 0.5, 0]
 * ```
 */
export function simplex(x: TensorLike, value: TensorLike = 1): Tensor {
  const t = maskableRows(x, "projection.simplex", "x");
  const v = rowParam(value, t, "projection.simplex", "value");
  return structuredCall(simplexOp, [t, v])[0]!;
}

/**
 * Euclidean projection onto the k-sparse simplex {p ≥ 0, Σ p = value, at most k non-zeros}, along the last
 * axis: keeps the k largest entries of each row and projects them onto the simplex (Kyrillidis et al. 2013).
 * The Jacobian is the simplex one on the resulting support. Like {@link simplex}, exact at any scale and
 * accepting −∞ entries.
 *
 * @param k - the number of non-zeros allowed, an integer in [1, n].
 * @example
 * ```ts
 * import { projection, tensor } from "diffopt";
 * projection.sparseSimplex(tensor([0.3, 0.9, 0.6]), 2).toArray(); // [0, 0.65, 0.35]
 * ```
 */
export function sparseSimplex(x: TensorLike, k: number, value: TensorLike = 1): Tensor {
  const fn = "projection.sparseSimplex";
  const t = maskableRows(x, fn, "x");
  const n = t.shape[t.ndim - 1]!;
  if (!Number.isInteger(k) || k < 1 || k > n) {
    throw new ShapeError(`${fn}: k must be an integer in [1, ${n}] (the length of the last axis of x), got ${k}`);
  }
  const v = rowParam(value, t, fn, "value");
  let op = sparseSimplexOps.get(k);
  if (op === undefined) {
    op = rowwiseSimplexOp(fn, k);
    sparseSimplexOps.set(k, op);
  }
  return structuredCall(op, [t, v])[0]!;
}

/** Structure of an l1 projection: inside the ball (identity) or the support and signs on the sphere. */
interface L1Structure {
  inside: boolean;
  mask: Float64Array;
  sign: Float64Array;
}

function l1Op(name: string, sphere: boolean): StructuredOp<L1Structure> {
  return {
    name,
    compute([x, r]) {
      const src = x!.raw;
      const n = src.length;
      const radius = r!.raw[0]!;
      let norm1 = 0;
      for (let i = 0; i < n; i++) norm1 += Math.abs(src[i]!);
      const mask = new Float64Array(n);
      const sign = new Float64Array(n);
      if (!sphere && norm1 <= radius)
        return { outs: [new Tensor(src, x!.shape)], structure: { inside: true, mask, sign } };
      const abs = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        abs[i] = Math.abs(src[i]!);
        sign[i] = src[i]! < 0 ? -1 : 1;
      }
      const out = new Float64Array(n);
      projectOntoSimplex(abs, 0, n, radius, new Float64Array(n), null, out, mask);
      for (let i = 0; i < n; i++) if (mask[i] !== 0) out[i] *= sign[i]!;
      return { outs: [new Tensor(out, x!.shape)], structure: { inside: false, mask, sign } };
    },
    local([x, r], { inside, mask, sign }) {
      if (inside) return [x!];
      const flat = reshape(x!, [x!.size]);
      const p = onSupport(flat, reshape(r!, []), new Tensor(mask, [mask.length]), new Tensor(sign, [sign.length]));
      return [reshape(p, x!.shape)];
    },
  };
}

const l1BallOp = l1Op("projection.l1Ball", false);
const l1SphereOp = l1Op("projection.l1Sphere", true);

/**
 * Euclidean projection onto the l1 ball {p : ‖p‖₁ ≤ radius}, over the whole tensor: x itself inside, else
 * sign(x) ⊙ simplex(|x|, radius). Differentiable in `x` and `radius` (exact Jacobian on the support).
 *
 * @example
 * ```ts
 * import { projection, tensor } from "diffopt";
 * projection.l1Ball(tensor([2, -1, 0.2]), 1).toArray(); // [1, 0, 0]
 * ```
 */
export function l1Ball(x: TensorLike, radius: TensorLike = 1): Tensor {
  const t = finiteTensor(x, "projection.l1Ball", "x");
  const r = scalarParam(radius, "projection.l1Ball", "radius", positive, "positive");
  return structuredCall(l1BallOp, [t, r])[0]!;
}

/**
 * Euclidean projection onto the l1 sphere {p : ‖p‖₁ = radius}, over the whole tensor: sign(x) ⊙
 * simplex(|x|, radius), with sign(0) taken as +1. Differentiable in `x` and `radius`.
 *
 * @example
 * ```ts
 * import { projection, tensor } from "diffopt";
 * projection.l1Sphere(tensor([0.25, -0.25]), 1).toArray(); // [0.5, -0.5]
 * ```
 */
export function l1Sphere(x: TensorLike, radius: TensorLike = 1): Tensor {
  const t = finiteTensor(x, "projection.l1Sphere", "x");
  const r = scalarParam(radius, "projection.l1Sphere", "radius", positive, "positive");
  return structuredCall(l1SphereOp, [t, r])[0]!;
}
