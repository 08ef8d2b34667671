/**
 * Splitting a `vmap` batch that sits beneath derivative levels, for the implicit derivative rules.
 *
 * In `vmap(hessian(f))` or `vmap(grad(grad(f)))` around an implicit layer, the inner derivative's rule runs on
 * values traced by the outer derivative, beneath which lies the batch. Its backward solve reads numbers (the
 * forward residual, the hint probes, the dense factorisation, the finiteness of the result) and those would be the
 * whole batch's. `batchLoop` cannot split such values: the batch is not on top. Here the batch level is peeled out
 * from under the derivative levels instead: {@link elementsBeneath} rebuilds a value's tracers above the batch
 * around one element's values (a forward tracer keeps one element of its primal and tangent; a reverse tracer gets
 * a tape node whose pullback puts the element's cotangent back at its place in the batch), the rule runs once per
 * element as it does without `vmap`, and {@link stackBeneath} rebuilds the batched result the same way (its tape
 * node hands each element its slice of the cotangent). Each element's solve is thus certified by its own residual,
 * and the outer derivatives flow through both rebuilds.
 *
 * Every level above the batch belongs to a transform nested inside that `vmap`, so a value not batched there still
 * has per-element derivatives: a reverse tracer always gets its own node, so that the elements' cotangents of a
 * shared value are kept apart (batched), not summed.
 * @module
 */
import { batchTracer, jvpTracer, makeNode, vjpTracer } from "../core/engine.js";
import { Tensor, TraceKind } from "../core/tensor.js";
import { sliceAxis, stack } from "../core/ops/join.js";
import { moveBatchAxis, reshape } from "../core/ops/shape.js";

/**
 * @internal The highest batch level on `t`'s chain of primals (0 if none): the batch whose values a read of `t`'s
 * numbers would see. A batch only in tangents is not read, and batched operations carry it.
 */
export function valueBatchLevel(t: Tensor): number {
  for (let u: Tensor | null = t; u !== null && u.level > 0; u = u.primal)
    if (u.kind === TraceKind.Batch) return u.level;
  return 0;
}

/** @internal The size of the batch at `level` in `t`, or undefined when `t` is not batched there. */
export function batchSizeAt(t: Tensor, level: number): number | undefined {
  for (let u: Tensor | null = t; u !== null && u.level >= level; u = u.primal) {
    if (u.level === level) return u.primal!.shape[u.outIndex]!;
    if (u.kind === TraceKind.Jvp && u.tangent !== null) {
      const s = batchSizeAt(u.tangent, level);
      if (s !== undefined) return s;
    }
  }
  return undefined;
}

/**
 * @internal The `size` elements of `t` along the batch at `level`, with `t`'s tracers above that level rebuilt
 * around each (see the module header). Values below the level are the same for every element.
 */
export function elementsBeneath(t: Tensor, level: number, size: number): Tensor[] {
  if (t.level < level) return new Array<Tensor>(size).fill(t);
  if (t.level === level) {
    const v = t.primal!;
    return Array.from({ length: size }, (_, e) => reshape(sliceAxis(v, t.outIndex, e, e + 1), t.shape));
  }
  const primals = elementsBeneath(t.primal!, level, size);
  if (t.kind === TraceKind.Jvp) {
    const tangents = t.tangent === null ? null : elementsBeneath(t.tangent, level, size);
    return primals.map((p, e) =>
      p === t.primal && (tangents === null || tangents[e] === t.tangent)
        ? t
        : jvpTracer(t.level, p, tangents?.[e] ?? null),
    );
  }
  if (t.kind === TraceKind.Batch) return primals.map((p) => (p === t.primal ? t : batchTracer(t.level, p, t.outIndex)));
  // One node for all elements: its pullback stacks the elements' cotangents (zeros where none arrived).
  const node = makeNode([t.node], [t.outIndex], size, (cts) => [
    cts.every((ct) => ct === null)
      ? null
      : stackBeneath(
          cts.map((ct) => ct ?? new Tensor(new Float64Array(t.size), t.shape)),
          level,
        ),
  ]);
  return primals.map((p, e) => vjpTracer(t.level, p, node, e));
}

/**
 * @internal The per-element values `parts` (same shape, none batched at `level`) stacked as one value batched at
 * `level`, with their tracers above that level rebuilt around the stack (see the module header).
 */
export function stackBeneath(parts: readonly Tensor[], level: number): Tensor {
  const top = parts.reduce((a, p) => Math.max(a, p.level), 0);
  if (top < level) return batchTracer(level, stack([...parts]), 0);
  const at = parts.map((p) => p.level === top);
  const first = parts[at.indexOf(true)]!;
  if (first.kind === TraceKind.Batch) {
    // A vmap nested inside the one split here: its batch axis moved to the front (broadcast where absent).
    const size = first.primal!.shape[first.outIndex]!;
    const moved = parts.map((p, i) =>
      at[i] ? moveBatchAxis(p.primal!, p.outIndex, 0, size) : moveBatchAxis(p, null, 0, size),
    );
    return batchTracer(top, stackBeneath(moved, level), 0);
  }
  const kind = first.kind;
  const primals = parts.map((p, i) => (at[i] ? p.primal! : p));
  const primal = stackBeneath(primals, level);
  if (kind === TraceKind.Jvp) {
    const zero = (p: Tensor) => new Tensor(new Float64Array(p.size), p.shape);
    if (parts.every((p, i) => !at[i] || p.tangent === null)) return primal;
    return jvpTracer(
      top,
      primal,
      stackBeneath(
        parts.map((p, i) => (at[i] && p.tangent !== null ? p.tangent : zero(p))),
        level,
      ),
    );
  }
  const traced = parts.filter((_, i) => at[i]);
  const index = parts.map((_, i) => i).filter((i) => at[i]);
  const node = makeNode(
    traced.map((p) => p.node),
    traced.map((p) => p.outIndex),
    1,
    ([ct]) => {
      if (ct === null || ct === undefined) return index.map(() => null);
      const elements = elementsBeneath(ct, level, parts.length);
      return index.map((i) => elements[i]!);
    },
  );
  return vjpTracer(top, primal, node);
}
