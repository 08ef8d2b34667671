/**
 * The autodiff engine: primitives, trace levels, and the reverse-mode backward pass.
 *
 * ## Design (why it looks like this)
 * We follow HIPS autograd's proven split — **dual numbers for forward mode, a tape for reverse mode** — and
 * give every transform its own *level*, as in autodidax. We chose this over JAX's
 * linearize-and-transpose because it runs eagerly with very little bookkeeping (a small op costs about a
 * microsecond), needs no tracing to a graph, and every primitive simply declares both rules:
 *
 * - `impl`: the float64 kernel, on concrete tensors;
 * - `jvp`: the tangent of the output, written with differentiable ops;
 * - `vjp`: the cotangents of the inputs, written with differentiable ops.
 *
 * Because both rules are written in terms of ops, they are themselves traced by any transform below them,
 * which is what makes forward-over-reverse Hessian-vector products and derivatives of derivatives work.
 *
 * ## Levels
 * Each call of a transform takes a fresh, strictly increasing level number. A tensor traced by that
 * transform carries the level; a primitive applied to arguments dispatches to the highest level among them,
 * strips that level off (arguments at lower levels are constants for it), recurses on the primal values and
 * wraps the result. A value is therefore lifted only into the levels that touched it, so nested derivatives
 * never confuse their perturbations: d/dx [x · d/dy (x + y)] = 1.
 *
 * ## Batching
 * `vmap` is a transform like the others: a batch tracer at level L has the per-element (logical) shape, its
 * `primal` is the batched value (which has one more axis, the batch axis, at any position) and `outIndex` holds
 * that axis. `bind` hands such arguments to the primitive's `batch` rule, which computes on the batched values
 * with ops (so lower levels trace it); a primitive without one is run once per element (see `vmap.ts`).
 *
 * ## The tape
 * There is no global tape: a reverse-mode tracer points to its node, and nodes point to their parents. After a
 * backward pass nothing refers to the nodes any more, so they are garbage-collected with the tensors. A
 * primitive's node holds the primitive and its rule's inputs (no closure per op). During the pass, a slot's
 * cotangents are summed in place once the pass holds a sum of its own there, and a matrix product adds a weight's
 * cotangent straight into that sum (`vjpInto`): an unrolled loop then allocates no d×d array per iteration.
 * These sums are the only tensors whose values change after they are made, so each write first drops any copy
 * the WebAssembly kernels keep of them (`forgetResident`; see `wasm/resident.ts`). Conversely the rank-1 update
 * may keep the sum it adds into in the WebAssembly memory, newer than its array, for the next step's update; the
 * pass settles it (`settleAccumulator`) before it reads or writes that sum otherwise, hands it to a rule, or ends.
 *
 * @module
 */
import { Tensor, TraceKind, batchedRaw, sameShape, type TapeNode } from "./tensor.js";
import { wasmArith } from "./wasm/elementwise.js";
import { forgetResident, settleAccumulator } from "./wasm/gemv.js";

/**
 * A primitive operation. `P` is the type of its static parameters (axes, shapes…).
 * @internal
 */
export interface Primitive<P = undefined> {
  readonly name: string;
  /** The kernel: all arguments are concrete. */
  impl(args: readonly Tensor[], params: P): Tensor;
  /** Tangent of the output given tangents of the arguments (null: zero); null if the result is zero. */
  jvp(primals: readonly Tensor[], tangents: readonly (Tensor | null)[], out: Tensor, params: P): Tensor | null;
  /**
   * Cotangents of the arguments given the cotangent `ct` of the output. `needs[i]` tells whether argument i
   * is traced and needs one; return null where it does not (or where the cotangent is zero).
   */
  vjp(ct: Tensor, primals: readonly Tensor[], out: Tensor, params: P, needs: readonly boolean[]): (Tensor | null)[];
  /**
   * Optional: adds the cotangent of argument `index` into `target` (the values of a concrete tensor of that
   * argument's shape, which the backward pass owns) without forming it, and returns true; or returns false,
   * having done nothing. Called only with a concrete `ct`; the rule must itself refuse traced primals (their
   * derivative would be lost). Lets a weight's gradient summed over an unrolled loop take no d×d array per term.
   */
  vjpInto?(
    ct: Tensor,
    primals: readonly Tensor[],
    out: Tensor,
    params: P,
    index: number,
    target: Float64Array,
  ): boolean;
  /**
   * Batching rule. `args[i]` is the batched value of argument i (lowered off the batch level) and `dims[i]` its
   * batch axis, or null when argument i is not batched (then it is the plain per-element value). `size` is the
   * batch size. Returns the batched output and its batch axis (null: the output does not depend on the batch).
   * Written with ops (bind), so it is itself traced by lower levels. Absent: the generic per-element loop.
   */
  batch?(args: readonly Tensor[], dims: readonly (number | null)[], params: P, size: number): [Tensor, number | null];
}

/**
 * @internal How `bind` applies a primitive whose highest-level arguments are batch tracers at `level`. Installed
 * by `vmap.ts` (the only creator of batch tracers), which keeps the engine free of imports of the ops.
 */
export type BatchBind = <P>(prim: Primitive<P>, args: readonly Tensor[], params: P, level: number) => Tensor;

let batchBind: BatchBind | null = null;

/** @internal Installs the batch dispatch of `bind` (see {@link BatchBind}). */
export function setBatchBind(fn: BatchBind): void {
  batchBind = fn;
}

let nextLevel = 1;
let nextNodeId = 1;

/** @internal A fresh transform level, higher than every level handed out before. */
export function newLevel(): number {
  return nextLevel++;
}

/** The batch levels whose transform is running (see {@link withBatchLevel}). */
const openBatchLevels = new Set<number>();

/**
 * @internal Runs `fn` with a fresh batch level, open while `fn` runs. A batch tracer whose level is closed has
 * leaked out of the `vmap` that made it (kept in an outer variable, or captured by a closure called later): the
 * batch dispatch refuses it (see {@link isOpenBatchLevel}), as JAX refuses an escaped tracer.
 */
export function withBatchLevel<T>(fn: (level: number) => T): T {
  const level = newLevel();
  openBatchLevels.add(level);
  try {
    return fn(level);
  } finally {
    openBatchLevels.delete(level);
  }
}

/** @internal Whether the batch level `level` is open (its transform is running). */
export function isOpenBatchLevel(level: number): boolean {
  return openBatchLevels.has(level);
}

/** @internal The highest level among `args` (0 when all are concrete). */
export function topLevel(args: readonly Tensor[]): number {
  let level = 0;
  for (let i = 0; i < args.length; i++) {
    const l = args[i]!.level;
    if (l > level) level = l;
  }
  return level;
}

/** @internal `x` with `level` stripped off (unchanged if `x` is not traced at `level`). */
export function lower(x: Tensor, level: number): Tensor {
  return x.level === level ? x.primal! : x;
}

/** @internal Wraps `primal` as a forward-mode tracer at `level`. */
export function jvpTracer(level: number, primal: Tensor, tangent: Tensor | null): Tensor {
  return new Tensor(primal.raw, primal.shape, level, TraceKind.Jvp, primal, tangent, null, 0);
}

/** @internal Wraps `primal` as a reverse-mode tracer at `level`, output `outIndex` of `node`. */
export function vjpTracer(level: number, primal: Tensor, node: TapeNode, outIndex = 0): Tensor {
  return new Tensor(primal.raw, primal.shape, level, TraceKind.Vjp, primal, null, node, outIndex);
}

/**
 * @internal Wraps `value`, batched along axis `bdim`, as a batch tracer at `level`: its shape is the per-element
 * shape, its raw values unreadable (see `batchedRaw`).
 */
export function batchTracer(level: number, value: Tensor, bdim: number): Tensor {
  const shape = value.shape.filter((_, i) => i !== bdim);
  return new Tensor(batchedRaw(shape, value.shape[bdim]!), shape, level, TraceKind.Batch, value, null, null, bdim);
}

/** @internal `x` without its differentiation levels; `vmap` levels are kept (a batch stays a batch). */
export function stripDerivatives(x: Tensor): Tensor {
  if (x.level === 0) return x;
  return x.kind === TraceKind.Batch
    ? batchTracer(x.level, stripDerivatives(x.primal!), x.outIndex)
    : stripDerivatives(x.primal!);
}

/** @internal A tape node. */
export function makeNode(
  parents: (TapeNode | null)[],
  parentOut: number[],
  nOut: number,
  backward: (cts: (Tensor | null)[]) => (Tensor | null)[],
): TapeNode {
  return {
    id: nextNodeId++,
    parents,
    parentOut,
    nOut,
    backward,
    prim: null,
    primals: null,
    out: null,
    params: undefined,
    needs: null,
    cts: null,
  };
}

/** @internal Applies a primitive, dispatching to the transform of the highest level among the arguments. */
export function bind<P>(prim: Primitive<P>, args: readonly Tensor[], params: P): Tensor {
  const level = topLevel(args);
  if (level === 0) return prim.impl(args, params);
  const n = args.length;
  // All traced arguments at one level share one kind: the transform that owns the level.
  let kind = TraceKind.Concrete;
  for (let i = 0; i < n; i++) if (args[i]!.level === level) kind = args[i]!.kind;
  if (kind === TraceKind.Batch) return batchBind!(prim, args, params, level);
  const primals: Tensor[] = new Array(n);
  for (let i = 0; i < n; i++) primals[i] = lower(args[i]!, level);
  const out = bind(prim, primals, params);
  if (kind === TraceKind.Jvp) {
    const tangents: (Tensor | null)[] = new Array(n);
    let any = false;
    for (let i = 0; i < n; i++) {
      const a = args[i]!;
      const t = a.level === level ? a.tangent : null;
      tangents[i] = t;
      if (t !== null) any = true;
    }
    if (!any) return out;
    const tout = prim.jvp(primals, tangents, out, params);
    return tout === null ? out : jvpTracer(level, out, tout);
  }
  const parents: (TapeNode | null)[] = new Array(n);
  const parentOut: number[] = new Array(n);
  const needs: boolean[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const a = args[i]!;
    const traced = a.level === level;
    parents[i] = traced ? a.node : null;
    parentOut[i] = traced ? a.outIndex : 0;
    needs[i] = traced;
  }
  // The same fields in the same order as makeNode's, so that every node has one hidden class.
  const node: TapeNode = {
    id: nextNodeId++,
    parents,
    parentOut,
    nOut: 1,
    backward: null,
    prim: prim as Primitive<unknown>,
    primals,
    out,
    params,
    needs,
    cts: null,
  };
  return vjpTracer(level, out, node);
}

/**
 * @internal Runs the backward pass from the outputs of a reverse-mode trace. `outputs[i]` with cotangent
 * `cts[i]`; returns the cotangents accumulated at `leaves` (null where nothing reached them).
 */
export function backwardPass(
  level: number,
  outputs: readonly Tensor[],
  cts: readonly (Tensor | null)[],
  leaves: readonly TapeNode[],
  addFn: (a: Tensor, b: Tensor) => Tensor,
): (Tensor | null)[] {
  // Collect the nodes reachable from the outputs.
  const nodes: TapeNode[] = [];
  const seen = new Set<TapeNode>();
  const stack: TapeNode[] = [];
  for (let i = 0; i < outputs.length; i++) {
    const o = outputs[i]!;
    if (o.level !== level || cts[i] === null) continue;
    const node = o.node!;
    if (!seen.has(node)) {
      seen.add(node);
      stack.push(node);
    }
  }
  while (stack.length > 0) {
    const node = stack.pop()!;
    nodes.push(node);
    for (const p of node.parents) {
      if (p !== null && !seen.has(p)) {
        seen.add(p);
        stack.push(p);
      }
    }
  }
  for (const l of leaves) if (!seen.has(l)) l.cts = null;
  nodes.sort((a, b) => b.id - a.id);
  // Sums of cotangents that this pass created (with addFn) and that sit in exactly one slot, not yet handed to a
  // backward rule: nothing else can see them, so further cotangents of the same slot are added into them in place
  // instead of allocating a fresh sum each time (in an unrolled loop, a weight's gradient gathers one term per
  // iteration). Every other cotangent may be aliased — a rule may return its incoming cotangent to several
  // parents (add's does), and the caller's seeds are the caller's — so it is never written.
  const owned = new Set<Tensor>();
  try {
    for (let i = 0; i < outputs.length; i++) {
      const o = outputs[i]!;
      const ct = cts[i]!;
      if (o.level === level && ct !== null) accumulate(o.node!, o.outIndex, ct, owned, addFn);
    }
    for (const node of nodes) {
      const nodeCts = node.cts;
      if (node.parents.length === 0 || nodeCts === null) continue;
      node.cts = null;
      // From here the rule may pass these on (aliased), so they are no longer the pass's to write; and they must
      // hold their values (a rank-1 update may have left a sum newer in the WebAssembly memory).
      for (const c of nodeCts) {
        if (c === null) continue;
        owned.delete(c);
        settleAccumulator(c.raw);
      }
      const prim = node.prim;
      const argCts =
        prim === null
          ? node.backward!(nodeCts)
          : prim.vjp(nodeCts[0]!, node.primals!, node.out!, node.params, needsAfterInto(node, nodeCts[0]!, owned));
      for (let i = 0; i < node.parents.length; i++) {
        const p = node.parents[i];
        const g = argCts[i];
        if (p !== null && p !== undefined && g !== null && g !== undefined)
          accumulate(p, node.parentOut[i]!, g, owned, addFn);
      }
    }
    settleAccumulator();
    return leaves.map((l) => (l.cts === null ? null : (l.cts[0] ?? null)));
  } finally {
    settleAccumulator();
    for (const node of nodes) node.cts = null;
    for (const l of leaves) l.cts = null;
  }
}

/**
 * Adds `ct` to the cotangent of output `index` of `node` in a backward pass, in place when the current sum is one
 * the pass owns (`owned`, see `backwardPass`), else by `addFn`. At module level rather than a closure in
 * `backwardPass`: under `tsx` every named closure created pays a runtime naming call.
 */
function accumulate(
  node: TapeNode,
  index: number,
  ct: Tensor,
  owned: Set<Tensor>,
  addFn: (a: Tensor, b: Tensor) => Tensor,
): void {
  if (node.cts === null) node.cts = new Array(node.nOut).fill(null);
  const prev = node.cts[index]!;
  if (prev === null) {
    node.cts[index] = ct;
    return;
  }
  settleAccumulator(prev.raw);
  if (owned.has(prev) && ct.level === 0 && ct.raw !== prev.raw && sameShape(prev.shape, ct.shape)) {
    forgetResident(prev);
    addInto(prev.raw, ct.raw);
  } else {
    const total = addFn(prev, ct);
    if (total.level === 0 && total.raw !== prev.raw && total.raw !== ct.raw) owned.add(total);
    node.cts[index] = total;
  }
}

/**
 * The `needs` of a primitive's node, less the arguments whose cotangent its `vjpInto` has just added into a sum the
 * pass owns (see `backwardPass`).
 */
function needsAfterInto(node: TapeNode, ct: Tensor, owned: ReadonlySet<Tensor>): readonly boolean[] {
  const prim = node.prim!;
  let needs = node.needs!;
  if (prim.vjpInto === undefined || ct.level !== 0) return needs;
  for (let i = 0; i < needs.length; i++) {
    const target = needs[i] ? node.parents[i]!.cts?.[node.parentOut[i]!] : null;
    if (target == null || !owned.has(target)) continue;
    forgetResident(target);
    if (!prim.vjpInto(ct, node.primals!, node.out!, node.params, i, target.raw)) continue;
    if (needs === node.needs) needs = needs.slice();
    (needs as boolean[])[i] = false;
  }
  return needs;
}

/** target[i] += x[i], in place (the same additions as `add`, so the sums are bitwise those of a fresh add). */
function addInto(target: Float64Array, x: Float64Array): void {
  if (wasmArith(0, target, x, target)) return;
  for (let i = 0; i < target.length; i++) target[i] = target[i]! + x[i]!;
}
