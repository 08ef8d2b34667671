/**
 * `vmap`: the batching transform, and the per-element loop every primitive without a batching rule falls back to.
 *
 * ## Why a transform, not a loop
 * A JavaScript loop over examples runs every op once per example; under `vmap` each op runs once on the whole
 * batch (an elementwise op over `[B, …]`, a reduction with `B` times more lanes), so per-example gradients, batched
 * hyperparameter sweeps and full Jacobians cost a few large kernels instead of thousands of small ones.
 *
 * ## How
 * `vmap` takes a fresh level, like `jvp` and `grad`, and wraps each batched argument as a *batch tracer*: a tensor
 * whose `shape` is one element's shape and whose `primal` is the batched value (see `engine.ts`). Ops on batch
 * tracers dispatch to the primitive's `batch` rule, written with ops, so transforms at lower levels trace it and
 * every nesting (`vmap(grad(f))`, `grad(vmap(f))`, `vmap(vmap(f))`, `jacfwd(vmap(f))`…) composes. A primitive without
 * a rule runs once per element on slices and the results are stacked: always correct, just slower. Code that reads
 * plain numbers (a kernel without a rule, `item()`, `toArray()`) throws a `BatchingError` on a batch tracer rather
 * than silently computing with the whole batch; library code of that kind runs per element through {@link batchLoop}.
 * A batch level is open only while its `vmap` runs (`withBatchLevel`): a batch tracer that leaks out of `f` (kept in
 * an outer variable, or in a pullback called later) is refused by the batch dispatch, as JAX refuses escaped tracers.
 *
 * @module
 */
import {
  batchTracer,
  bind,
  isOpenBatchLevel,
  setBatchBind,
  topLevel,
  withBatchLevel,
  type Primitive,
} from "./engine.js";
import { BatchingError, DiffoptError, ShapeError, TreeMismatchError, ValueError } from "./errors.js";
import { elementNote } from "./element-values.js";
import { Tensor, TraceKind, describeValue, eye, ones, zeros, type Shape } from "./tensor.js";
import { broadcastTo } from "./ops/broadcast.js";
import { flatten, isPlainObject, unflatten, type Tree } from "./tree.js";
import { checkFunction, checkOptions } from "./options.js";
import { PRNGKey } from "./random.js";
import { moveBatchAxis, reshape } from "./ops/shape.js";
import { sliceAxis, stack } from "./ops/join.js";
import type { TensorTree, TreeFn } from "./transforms.js";

export { moveBatchAxis };

/**
 * Where the batch axis is, for one argument or output of a vmapped function: an axis (negative counts from the
 * end), `null` for "not batched", or a pytree prefix of the value giving one of those per subtree.
 */
export type AxisSpec = number | null | readonly AxisSpec[] | { readonly [key: string]: AxisSpec };

/** Options of {@link vmap}. */
export interface VmapOptions {
  /**
   * The batch axis of each argument: one axis for all (default 0), or a list with one {@link AxisSpec} per
   * argument (`null`: the argument is shared by every element, e.g. the parameters in per-example gradients).
   */
  inAxes?: AxisSpec;
  /** Where the batch axis goes in each output (default 0); `null` for an output that does not depend on the batch. */
  outAxes?: AxisSpec;
  /**
   * The batch size (JAX's `axis_size`). Needed only when no argument is batched (every `inAxes` entry null, or no
   * tensor arguments): the outputs are then `f`'s, broadcast along a batch of this size. When arguments are
   * batched, they must all have this size (a `ShapeError` otherwise). Default: the batched arguments' size.
   */
  axisSize?: number;
}

const VMAP_OPTION_KEYS = ["inAxes", "outAxes", "axisSize"] as const satisfies readonly (keyof VmapOptions)[];

/**
 * Vectorizing map: `vmap(f)(xs)` is `f` applied to every slice of `xs` along its batch axis, the results stacked
 * along a new axis, computed with whole-batch ops rather than a loop. Like `jax.vmap`: `inAxes` says which axis of
 * each argument is the batch (`null`: not batched), `outAxes` where the batch axis goes in the outputs; both take a
 * number for all, or a pytree prefix of the arguments/outputs. Outputs that do not depend on the batch are
 * broadcast along it. It nests with every transform: per-example gradients are
 * `vmap(grad(loss), { inAxes: [null, 0, 0] })`. Batched arguments of different sizes and out-of-range axes throw a
 * `ShapeError` naming the argument; reading numbers from a batched tensor inside `f` (`item()`, `toArray()`, a
 * comparison such as `x > 0`) throws a `BatchingError`. Arguments and outputs are pytrees of tensors and numbers
 * (anything else, a string or a random key, is a `TreeMismatchError` naming it). With no batched argument, `axisSize`
 * gives the batch size (a `ValueError` without it). Random keys are not tensors and are not batched: a key used
 * inside `f` gives every element the same draws (draw outside, e.g. `random.normal(key, [B, …])`, and pass the
 * samples to batch them).
 *
 * @example
 * ```ts
 * import { vmap, grad, sum, mul, square, sub, tensor, type Tensor } from "diffopt";
 * vmap((x: Tensor) => sum(square(x)))(tensor([[1, 2], [3, 4]])).toArray(); // [5, 25]
 * // the batch along axis 1 of the second argument; the first shared by every element
 * vmap((a: Tensor, b: Tensor) => mul(a, b), { inAxes: [null, 1] })(tensor(2), tensor([[1, 2]])).toArray(); // [[2], [4]]
 * // per-example gradients of a squared error
 * const loss = (w: Tensor, x: Tensor, y: Tensor) => square(sub(sum(mul(w, x)), y));
 * const xs = tensor([[1, 0], [0, 1]]);
 * vmap(grad(loss), { inAxes: [null, 0, 0] })(tensor([1, 1]), xs, tensor([0, 2])).toArray(); // [[2, 0], [0, -2]]
 * ```
 */
export function vmap<F extends TreeFn>(
  f: F,
  opts?: VmapOptions,
): <A extends Parameters<F>>(...args: A) => TensorTree<ReturnType<F>> {
  checkFunction(f, "vmap", "f");
  checkOptions("vmap", opts, VMAP_OPTION_KEYS);
  const inAxes = opts?.inAxes === undefined ? 0 : opts.inAxes;
  const outAxes = opts?.outAxes === undefined ? 0 : opts.outAxes;
  checkSpec(inAxes, "inAxes");
  checkSpec(outAxes, "outAxes");
  const axisSize = opts?.axisSize;
  if (axisSize !== undefined && !(Number.isSafeInteger(axisSize) && axisSize >= 0)) {
    throw new ValueError(`vmap: axisSize must be a non-negative integer, got ${describeValue(axisSize)}`);
  }
  return <A extends Parameters<F>>(...args: A): TensorTree<ReturnType<F>> => {
    const axes = axesOfLeaves(inAxes, args as Tree, "inAxes", "args");
    const [leaves, def] = flatten(args as Tree);
    let size = axisSize ?? -1;
    let first = axisSize === undefined ? "" : `axisSize is ${axisSize}`;
    axes.forEach(({ axis, path, number }, i) => {
      if (axis === null) return;
      const leaf = leaves[i]!;
      if (number) {
        throw new ShapeError(
          `vmap: inAxes ${axis} for ${path}, which is a number: a number has no axis to batch over; give it inAxes null, or pass a tensor (an array of numbers is a list of separate numbers: wrap it with tensor(...))`,
        );
      }
      const ax = normalizeBatchAxis(axis, leaf.ndim, `inAxes ${axis} for ${path}`, leaf.shape);
      axes[i]!.axis = ax;
      const n = leaf.shape[ax]!;
      if (size < 0) {
        size = n;
        first = `${path} has ${n} along axis ${ax}`;
      } else if (n !== size) {
        throw new ShapeError(
          `vmap: the batched arguments have different sizes: ${first}, but ${path} has ${n} along axis ${ax}`,
        );
      }
    });
    if (size < 0) {
      throw new ValueError(
        "vmap: no argument is batched (inAxes is null for every argument, or there are no tensor arguments); give the batch axis of at least one, or the batch size as axisSize",
      );
    }
    return withBatchLevel((level) => {
      const lifted = leaves.map((x, i) => {
        const ax = axes[i]!.axis;
        return ax === null ? x : batchTracer(level, x, ax);
      });
      const out = f(...unflatten<Tree[]>(def, lifted));
      const outSpec = axesOfLeaves(outAxes, out as Tree, "outAxes", "output");
      const [outLeaves, outDef] = flatten(out as Tree);
      const results = outLeaves.map((o, i) => {
        const { axis, path } = outSpec[i]!;
        const batched = o.level === level && o.kind === TraceKind.Batch;
        if (axis === null) {
          if (batched) {
            throw new ValueError(
              `vmap: outAxes is null for ${path}, but that output depends on the batch; give it a batch axis`,
            );
          }
          return o;
        }
        const ax = normalizeBatchAxis(axis, o.ndim + 1, `outAxes ${axis} for ${path}`, o.shape);
        return batched ? moveBatchAxis(o.primal!, o.outIndex, ax, size) : moveBatchAxis(o, null, ax, size);
      });
      return unflatten(outDef, results) as TensorTree<ReturnType<F>>;
    });
  };
}

function checkSpec(spec: unknown, what: string): void {
  if (spec === null || typeof spec === "number") return;
  if (Array.isArray(spec)) return spec.forEach((s) => checkSpec(s, what));
  if (isPlainObject(spec)) {
    return Object.values(spec as object).forEach((s) => checkSpec(s, what));
  }
  throw new ValueError(
    `vmap: ${what} must be an axis (an integer), null, or a pytree (arrays, plain objects) of them, got ${describeValue(spec)}`,
  );
}

/** `axis` in [0, ndim): negative axes count from the end; out of range is a `ShapeError` naming `what`. */
function normalizeBatchAxis(axis: number, ndim: number, what: string, shape: Shape): number {
  if (!Number.isInteger(axis)) throw new ValueError(`vmap: ${what} is not an integer`);
  if (axis < -ndim || axis >= ndim) {
    const kind = ndim === shape.length ? "a tensor" : "an output";
    const valid =
      ndim === 0
        ? "a scalar has no axis to batch over (use null for it, or give it a batch axis)"
        : `it must be in [${-ndim}, ${ndim - 1}]`;
    throw new ShapeError(`vmap: ${what} is out of range for ${kind} of shape [${shape.join(", ")}]: ${valid}`);
  }
  return axis < 0 ? axis + ndim : axis;
}

/**
 * The axis spec of every leaf of `tree` (in `flatten` order) from the pytree prefix `spec`, with the leaf's path
 * for error messages (and whether the leaf is a plain number). A number or null applies to the whole subtree; an array or object must match the node. A
 * node that is not a pytree (a string, a random key, a typed array…) is a `TreeMismatchError` naming its path.
 */
function axesOfLeaves(
  spec: AxisSpec,
  tree: Tree,
  what: string,
  root: string,
): { axis: number | null; path: string; number: boolean }[] {
  const ctx: AxesWalk = { what, out: [], ancestors: new Set<object>() };
  axesWalk(ctx, spec, tree, root);
  return ctx.out;
}

/** The state of {@link axesOfLeaves}' walk (at module level: under `tsx` every named closure costs a naming call). */
interface AxesWalk {
  readonly what: string;
  readonly out: { axis: number | null; path: string; number: boolean }[];
  readonly ancestors: Set<object>;
}

function axesWalk(ctx: AxesWalk, s: AxisSpec, t: Tree, path: string): void {
  const { what, ancestors } = ctx;
  if (t instanceof Tensor || typeof t === "number") {
    if (s !== null && typeof s === "object") {
      throw new TreeMismatchError(
        `vmap: ${what} gives a ${Array.isArray(s) ? "list" : "object"} for ${path}, which is a single tensor; give an axis or null`,
      );
    }
    ctx.out.push({ axis: s as number | null, path, number: typeof t === "number" });
    return;
  }
  if (t === null || t === undefined) return;
  if (!Array.isArray(t) && !isPlainObject(t)) {
    const remedy =
      t instanceof PRNGKey
        ? "random keys are not batched: close over the key in f (every element then gets the same draws), or draw outside vmap and pass the samples"
        : ArrayBuffer.isView(t)
          ? "wrap it with tensor(...)"
          : "vmap takes and returns tensors, numbers, and arrays and plain objects of them";
    throw new TreeMismatchError(`vmap: ${path} is ${describeValue(t)}, not a tensor or a pytree of tensors; ${remedy}`);
  }
  if (ancestors.has(t)) {
    throw new ValueError(`vmap: ${path} contains itself (a cyclic structure); pytrees must be finite trees`);
  }
  ancestors.add(t);
  axesWalkNode(ctx, s, t, path);
  ancestors.delete(t);
}

function axesWalkNode(ctx: AxesWalk, s: AxisSpec, t: object, path: string): void {
  const what = ctx.what;
  const whole = s === null || typeof s === "number";
  if (Array.isArray(t)) {
    if (!whole && (!Array.isArray(s) || s.length !== t.length)) {
      throw new TreeMismatchError(
        `vmap: ${what} for ${path} must be an axis, null, or a list of ${t.length} entries like ${path}, got ${describeValue(s)}`,
      );
    }
    for (let i = 0; i < t.length; i++)
      axesWalk(ctx, whole ? s : (s as readonly AxisSpec[])[i]!, t[i] as Tree, `${path}[${i}]`);
    return;
  }
  const obj = t as { readonly [key: string]: Tree };
  const keys = Object.keys(obj);
  const sk = whole || Array.isArray(s) ? null : Object.keys(s);
  if (!whole && (sk === null || sk.length !== keys.length || keys.some((k) => !(k in (s as object))))) {
    throw new TreeMismatchError(
      `vmap: ${what} for ${path} must be an axis, null, or an object with the keys {${keys.join(", ")}}, got ${describeValue(s)}`,
    );
  }
  for (const k of keys)
    axesWalk(ctx, whole ? s : (s as { readonly [key: string]: AxisSpec })[k]!, obj[k], `${path}.${k}`);
}

// ---------------------------------------------------------------------------------------------------------
// The batch dispatch of `bind`, the per-element fallback, and `batchLoop`

/** Element `b` of the batched value `v` (batch axis `d`), as an op (lower levels trace it). */
function elementOf(v: Tensor, d: number, b: number): Tensor {
  const shape = v.shape.filter((_, i) => i !== d);
  if (v.level === 0 && d === 0) {
    const n = v.size / v.shape[0]!;
    return new Tensor(v.raw.subarray(b * n, (b + 1) * n), shape);
  }
  return reshape(sliceAxis(v, d, b, b + 1), shape);
}

/**
 * @internal Runs `run` once per batch element on the arguments' slices (unbatched arguments as they are) and stacks each
 * output along a new axis 0; a typed error of an element gets the element's index appended. With a batch of 0 elements there is no element to learn the output shapes from, so
 * `run` is called once on a stand-in element (see {@link standInElement}). `who` names the computation in errors.
 */
export function perElement(
  who: string,
  vals: readonly Tensor[],
  dims: readonly (number | null)[],
  size: number,
  run: (xs: Tensor[]) => Tensor[],
): Tensor[] {
  if (size === 0) {
    const shapes = vals.map((v, i) => (dims[i] === null ? null : v.shape.filter((_, k) => k !== dims[i])));
    let probe: Tensor[] | null = null;
    const failures: string[] = [];
    for (const kind of STAND_INS) {
      try {
        probe = run(vals.map((v, i) => (shapes[i] === null ? v : standInElement(shapes[i]!, kind))));
        break;
      } catch (e) {
        failures.push(`on ${kind}: ${(e as Error).message}`);
      }
    }
    if (probe === null) {
      throw new BatchingError(
        `vmap: cannot find the output shapes of ${who} for a batch of 0 elements (it has no batching rule and failed ${failures.join("; ")})`,
      );
    }
    return probe.map((o) => zeros([0, ...o.shape]));
  }
  const outs: Tensor[][] = [];
  for (let b = 0; b < size; b++) {
    try {
      outs.push(run(vals.map((v, i) => (dims[i] === null ? v : elementOf(v, dims[i]!, b)))));
    } catch (e) {
      // A failing element names itself, unless the error names one already (a solver's, or, under nested vmaps,
      // the outermost vmap's: the dispatch runs from the highest level down, so the lowest level catches first).
      if (e instanceof DiffoptError && !/batch element/.test(e.message)) e.message += elementNote(b);
      throw e;
    }
  }
  return outs[0]!.map((_, k) => stack(outs.map((o) => o[k]!)));
}

const STAND_INS = ["zeros", "identity matrices"] as const;

/**
 * A stand-in for the element of an empty batch, whose only use is the shapes of what is computed from it: zeros,
 * or, for computations that reject zeros (a solve, a factorisation), identity matrices in the last two axes (ones
 * when they are not square).
 */
function standInElement(shape: Shape, kind: (typeof STAND_INS)[number]): Tensor {
  if (kind === "zeros") return zeros(shape);
  const n = shape.length >= 2 && shape.at(-1) === shape.at(-2) ? shape.at(-1)! : -1;
  return n < 0 ? ones(shape) : broadcastTo(eye(n), shape);
}

/**
 * The batched values, batch axes and batch size of `args` at the batch `level` (arguments at lower levels are
 * not batched at it). Every batch dispatch goes through here, so a tracer of a closed level (one that leaked out
 * of its `vmap`) is refused here with a `BatchingError`.
 */
export function splitBatch(
  args: readonly Tensor[],
  level: number,
): { vals: Tensor[]; dims: (number | null)[]; size: number } {
  const vals: Tensor[] = new Array(args.length);
  const dims: (number | null)[] = new Array(args.length);
  if (!isOpenBatchLevel(level)) throw leakedTracer(args.find((a) => a.level === level)!);
  let size = 0;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a.level === level) {
      vals[i] = a.primal!;
      dims[i] = a.outIndex;
      size = a.primal!.shape[a.outIndex]!;
    } else {
      vals[i] = a;
      dims[i] = null;
    }
  }
  return { vals, dims, size };
}

/** Applies `prim` to arguments whose highest level is the batch level `level`: its rule, or the loop. */
function batchBind<P>(prim: Primitive<P>, args: readonly Tensor[], params: P, level: number): Tensor {
  const { vals, dims, size } = splitBatch(args, level);
  if (prim.batch !== undefined) {
    const [out, d] = prim.batch(vals, dims, params, size);
    return d === null ? out : batchTracer(level, out, d);
  }
  const [out] = perElement(`the primitive ${prim.name}`, vals, dims, size, (xs) => [bind(prim, xs, params)]);
  return batchTracer(level, out!, 0);
}

setBatchBind(batchBind);

/** The error for a batch tracer used after its `vmap` returned (JAX's `UnexpectedTracerError`). */
function leakedTracer(t: Tensor): BatchingError {
  return new BatchingError(
    `vmap: a tensor batched by a vmap that has already returned was used (per-element shape [${t.shape.join(", ")}]): ` +
      "it leaked out of the function given to vmap (kept in an outer variable, or captured by a closure called " +
      "later). Return what you need from the function, or compute it inside.",
  );
}

/**
 * @internal Runs `fn` once per batch element when the highest level among the tensors of `args` is a `vmap` level:
 * for library code that reads plain numbers (a solver's loop, a line search, a check) and therefore cannot run on
 * batch tracers. Each call gets one element's plain values (lower levels kept, so derivatives of an enclosing
 * `grad` still flow through ops); the tensor leaves of the outputs are stacked along a new axis and returned as
 * batch tracers. Returns `undefined` when no `vmap` level is on top: the caller then computes as usual. `who` names
 * the function in errors. The outputs must be pytrees with the same structure for every element. A differentiation
 * level above the `vmap` level (`vmap(grad(g))` around the caller) cannot be split per element: the caller's reads
 * then throw a `BatchingError`; code that must support that is a custom rule (its primal runs on plain values).
 */
export function batchLoop<T>(who: string, fn: (...args: Tree[]) => T, args: readonly Tree[]): T | undefined {
  const [leaves, def] = flatten(args as Tree);
  const level = topLevel(leaves);
  if (level === 0 || !leaves.some((l) => l.level === level && l.kind === TraceKind.Batch)) return undefined;
  const { vals, dims, size } = splitBatch(leaves, level);
  let outDef: ReturnType<typeof flatten>[1] | null = null;
  const stacked = perElement(who, vals, dims, size, (xs) => {
    const [ol, od] = flatten(fn(...unflatten<Tree[]>(def, xs)) as Tree);
    outDef ??= od;
    return ol;
  });
  return unflatten(
    outDef!,
    stacked.map((s) => batchTracer(level, s, 0)),
  ) as T;
}
