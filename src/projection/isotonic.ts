/**
 * Isotonic regression: the projection onto monotone sequences, by pool-adjacent-violators (PAV).
 * @module
 */
import { bind, type Primitive } from "../core/engine.js";
import { Tensor, type TensorLike } from "../core/tensor.js";
import { ShapeError, ValueError } from "../core/errors.js";
import { moveBatchAxis } from "../core/ops/shape.js";
import { clip, sub } from "../core/ops/elementwise.js";
import { elementNote, forEachElement } from "../core/element-values.js";
import { fmt } from "../core/shape.js";
import { finiteTensor, finiteWithRank } from "./checks.js";
import { structuredCall, type StructuredOp } from "./local.js";

/** A partition of the flat indices into consecutive blocks: `start[k]..start[k+1]-1` is block k. */
interface Blocks {
  start: Int32Array;
}

/** Replaces each element by the mean of its block: a symmetric linear projection. */
function blockMeanKernel(src: Float64Array, { start }: Blocks): Float64Array {
  const out = new Float64Array(src.length);
  for (let k = 0; k + 1 < start.length; k++) {
    const a = start[k]!;
    const b = start[k + 1]!;
    let s = 0;
    for (let i = a; i < b; i++) s += src[i]!;
    const m = s / (b - a);
    for (let i = a; i < b; i++) out[i] = m;
  }
  return out;
}

const blockMeanPrim: Primitive<Blocks> = {
  name: "blockMean",
  impl([x], blocks) {
    return new Tensor(blockMeanKernel(x!.raw, blocks), x!.shape);
  },
  jvp(_p, [t], _out, blocks) {
    return bind(blockMeanPrim, [t!], blocks);
  },
  vjp(ct, _p, _out, blocks) {
    return [bind(blockMeanPrim, [ct], blocks)];
  },
  batch([x], [d], blocks, size) {
    // The blocks of every batch element, each shifted by the element's offset in the stacked value.
    const x0 = moveBatchAxis(x!, d!, 0, size);
    const per = size === 0 ? 0 : x0.size / size;
    const k = blocks.start.length - 1;
    const start = new Int32Array(k * size + 1);
    for (let b = 0; b < size; b++) for (let i = 0; i < k; i++) start[b * k + i] = blocks.start[i]! + b * per;
    start[k * size] = x0.size;
    return [bind(blockMeanPrim, [x0], { start }), 0];
  },
};

/**
 * PAV on each row of length n: writes the fit to `out` and returns the block starts (global flat indices,
 * ending with the total length). `sign` = 1 for a non-decreasing fit, −1 for non-increasing.
 */
function pav(src: Float64Array, n: number, sign: 1 | -1, out: Float64Array): Blocks {
  const rows = n === 0 ? 0 : src.length / n;
  const starts: number[] = [];
  const blockStart = new Int32Array(n);
  const blockSum = new Float64Array(n);
  const blockLen = new Int32Array(n);
  for (let r = 0; r < rows; r++) {
    const off = r * n;
    let top = -1;
    for (let i = 0; i < n; i++) {
      top++;
      blockStart[top] = i;
      blockSum[top] = sign * src[off + i]!;
      blockLen[top] = 1;
      // Merge while the previous block's mean exceeds the last one's (a violation).
      while (top > 0 && blockSum[top - 1]! * blockLen[top]! >= blockSum[top]! * blockLen[top - 1]!) {
        blockSum[top - 1]! += blockSum[top]!;
        blockLen[top - 1]! += blockLen[top]!;
        top--;
      }
    }
    for (let k = 0; k <= top; k++) {
      const m = sign * (blockSum[k]! / blockLen[k]!);
      const a = off + blockStart[k]!;
      starts.push(a);
      for (let i = a; i < a + blockLen[k]!; i++) out[i] = m;
    }
  }
  starts.push(src.length);
  return { start: Int32Array.from(starts) };
}

function isotonicOp(sign: 1 | -1): StructuredOp<Blocks> {
  return {
    name: "projection.isotonic",
    compute([x]) {
      const out = new Float64Array(x!.size);
      const blocks = pav(x!.raw, x!.shape[x!.ndim - 1]!, sign, out);
      return { outs: [new Tensor(out, x!.shape)], structure: blocks };
    },
    local([x], blocks) {
      return [bind(blockMeanPrim, [x!], blocks)];
    },
  };
}

const increasingOp = isotonicOp(1);
const decreasingOp = isotonicOp(-1);

/** Options of {@link isotonic}. */
export interface IsotonicOptions {
  /** Fit a non-decreasing sequence (default) or, with `false`, a non-increasing one. */
  increasing?: boolean;
  /**
   * Lower bound on every entry (default none): a number, or a tensor with one bound per row (shape of x with a
   * last axis of 1). Differentiable.
   */
  yMin?: TensorLike;
  /** Upper bound on every entry (default none), as `yMin`; yMin ≤ yMax is required. Differentiable. */
  yMax?: TensorLike;
}

/** A bound of one row: a scalar or a tensor whose last axis has length 1. */
function rowBound(v: TensorLike, x: Tensor, arg: string): Tensor {
  const t = finiteTensor(v, "projection.isotonic", arg);
  if (t.ndim > 0 && (t.shape[t.ndim - 1] !== 1 || t.ndim > x.ndim))
    throw new ShapeError(
      `projection.isotonic: ${arg} must be a number or hold one bound per row (a last axis of length 1), got shape ${fmt(t.shape)} for x of shape ${fmt(x.shape)}`,
    );
  return t;
}

/**
 * Isotonic regression along the last axis: the projection of each row onto {y : y₁ ≤ y₂ ≤ … ≤ yₙ} (or ≥ with
 * `increasing: false`), by pool-adjacent-violators in O(n). The solution averages x over blocks of
 * consecutive entries, so its Jacobian is the block-averaging matrix (symmetric, idempotent).
 *
 * With bounds `yMin` ≤ y ≤ `yMax` (the same for every entry of a row, as scikit-learn's `y_min`/`y_max`), the
 * projection onto the monotone sequences within the bounds is the unbounded fit clipped to [yMin, yMax]: clipping
 * keeps a monotone sequence monotone, and each clipped block's optimality condition only gains the bound's
 * multiplier. Its derivative is the block averaging on the free entries and 1 in the bound on the clipped ones.
 *
 * @example
 * ```ts
 * import { projection, tensor } from "diffopt";
 * projection.isotonic(tensor([1, 3, 2, 4])).toArray(); // [1, 2.5, 2.5, 4]
 * projection.isotonic(tensor([1, 3, 2]), { increasing: false }).toArray(); // [2, 2, 2]
 * projection.isotonic(tensor([-1, 3, 2, 4]), { yMin: 0, yMax: 3 }).toArray(); // [0, 2.5, 2.5, 3]
 * ```
 */
export function isotonic(x: TensorLike, opts: IsotonicOptions = {}): Tensor {
  const t = finiteWithRank(x, "projection.isotonic", "x", 1);
  const lo = opts.yMin === undefined ? undefined : rowBound(opts.yMin, t, "yMin");
  const hi = opts.yMax === undefined ? undefined : rowBound(opts.yMax, t, "yMax");
  if (lo !== undefined && hi !== undefined) {
    forEachElement(sub(lo, hi), (d, e) => {
      const i = d.findIndex((v) => v > 0);
      if (i >= 0)
        throw new ValueError(`projection.isotonic: yMin must be ≤ yMax, got yMin > yMax in row ${i}${elementNote(e)}`);
    });
  }
  return clip(structuredCall(opts.increasing === false ? decreasingOp : increasingOp, [t])[0]!, lo, hi);
}
