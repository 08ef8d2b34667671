/**
 * The `Tensor`: an immutable float64 array with a row-major shape.
 *
 * A tensor seen inside a transform (`jvp`, `vjp`, `grad`, …) is a *tracer*: the same class, with a non-zero
 * `level` naming the transform it belongs to and a link to the value one level down (`primal`).
 *
 * ## Reading numbers out of a tracer is an error
 * A number read out of a tracer (`item()`, `toArray()`, `toFloat64Array()`, `toJSON()`, or the elements of
 * `data`) carries no derivative: `grad((x) => tensor(Math.sin(x.item())))` would silently be 0, and a custom
 * rule that reads its residuals would silently give a zero second derivative. So these reads throw a
 * `DifferentiationError`, as PyTorch's `x.numpy()` does on a tensor that requires grad. The escape hatch is
 * explicit: `stopGradient(x).item()` reads the value as a constant (for control flow, logging or a step size).
 * Printing (`toString`, `console.log`) is allowed. The library's own kernels, checks and control flow read the
 * values through the internal `raw` field.
 *
 * @module
 */
import { BatchingError, DifferentiationError, ShapeError, ValueError } from "./errors.js";
import { allocFloat64, ownsBuffer } from "./alloc.js";
import type { Primitive } from "./engine.js";

/** The shape of a tensor: one non-negative integer per axis; `[]` is a scalar. */
export type Shape = readonly number[];

/** Nested JavaScript arrays of numbers, as accepted by {@link tensor} and returned by {@link Tensor.toArray}. */
export type NestedArray = number | NestedArray[];

/** @internal Which transform a tracer belongs to. */
export enum TraceKind {
  Concrete = 0,
  Jvp = 1,
  Vjp = 2,
  /** A `vmap` batch tracer: `shape` is the per-element shape, `primal` the batched value (see `vmap.ts`). */
  Batch = 3,
}

/** @internal A node of a reverse-mode tape (see `engine.ts`). */
export interface TapeNode {
  readonly id: number;
  /** Tape nodes of the inputs that are traced at this node's level, with the output index they came from. */
  readonly parents: readonly (TapeNode | null)[];
  readonly parentOut: readonly number[];
  readonly nOut: number;
  /**
   * Maps the cotangents of the outputs to cotangents of the inputs (aligned with `parents`); null on a primitive's
   * node, whose rule is `prim.vjp`.
   */
  readonly backward: ((cts: (Tensor | null)[]) => (Tensor | null)[]) | null;
  /**
   * A primitive's node (one output): the primitive, and what its `vjp` takes — the arguments one level down, the
   * output, the parameters and which arguments are traced. Stored on the node rather than captured by a closure:
   * a closure and its context per op were a large share of the traced path's garbage. Null on other nodes.
   */
  readonly prim: Primitive<unknown> | null;
  readonly primals: readonly Tensor[] | null;
  readonly out: Tensor | null;
  readonly params: unknown;
  readonly needs: readonly boolean[] | null;
  /** Scratch space of the backward pass; null outside it. */
  cts: (Tensor | null)[] | null;
}

/** Key under which a guarded `data` (see {@link guardedData}) hands its values to the `Tensor` constructor. */
const RAW = Symbol("diffopt.raw");

/** Number of elements of a shape. */
export function shapeSize(shape: Shape): number {
  let n = 1;
  for (let i = 0; i < shape.length; i++) n *= shape[i]!;
  return n;
}

/**
 * An immutable, float64, row-major n-dimensional array. Create one with {@link tensor}, {@link zeros}, …; combine
 * with the free functions (`add`, `matmul`, …) or their method aliases (`x.add(y)`).
 *
 * @example
 * ```ts
 * import { tensor } from "diffopt";
 * const x = tensor([[1, 2], [3, 4]]);
 * console.log(x.shape, x.size, x.ndim); // [2, 2] 4 2
 * console.log(x.toArray()); // [[1, 2], [3, 4]]
 * ```
 */
export class Tensor {
  /**
   * @internal The values, row-major, readable at any level (no traced-read check): the library's kernels, checks
   * and control flow read this. It may view a buffer shared with other tensors (see `alloc.ts`); the first public
   * read of {@link Tensor.data} replaces it by an equal copy owning its buffer.
   */
  raw: Float64Array;
  /** The shape; `[]` for a scalar. */
  readonly shape: Shape;
  /** @internal Transform level; 0 for a concrete tensor. */
  readonly level: number;
  /** @internal Kind of trace at `level`. */
  readonly kind: TraceKind;
  /** @internal The value one level down (a tracer's primal); null when concrete. */
  readonly primal: Tensor | null;
  /** @internal Forward-mode tangent (null: a symbolic zero). */
  readonly tangent: Tensor | null;
  /** @internal Reverse-mode tape node and the output index of this tensor in it. */
  readonly node: TapeNode | null;
  /** @internal Reverse mode: the output index in `node`. Batch tracers: the batch axis of `primal`. */
  readonly outIndex: number;

  /** @internal Use {@link tensor} and the other creation functions instead. */
  constructor(
    data: Float64Array,
    shape: Shape,
    level = 0,
    kind: TraceKind = TraceKind.Concrete,
    primal: Tensor | null = null,
    tangent: Tensor | null = null,
    node: TapeNode | null = null,
    outIndex = 0,
  ) {
    // `data` may be a tracer's guarded `data` (see `guardedData`): wrapping it, as `stopGradient` does, is no read.
    this.raw = (data as { [RAW]?: Float64Array })[RAW] ?? data;
    this.shape = shape;
    this.level = level;
    this.kind = kind;
    this.primal = primal;
    this.tangent = tangent;
    this.node = node;
    this.outIndex = outIndex;
  }

  /**
   * The values, row-major. Shared, never mutated: copy with {@link Tensor.toFloat64Array} before writing.
   *
   * Inside a transform, reading the elements of a traced tensor's `data` throws a `DifferentiationError` (the
   * numbers would carry no derivative); read `stopGradient(x).data` to use them as constants.
   *
   * The array owns its whole buffer (small tensors are stored on shared buffers internally; the first read of
   * `data` makes the tensor's own copy). So transferring `data.buffer` (a `postMessage` transfer list,
   * `structuredClone(…, { transfer })`) empties this tensor — and tensors that are views of it, such as its
   * reshapes — but no other. To send the values and keep using the tensor, send a copy: `toFloat64Array()`.
   */
  get data(): Float64Array {
    if (this.level !== 0) return guardedData(this);
    if (!ownsBuffer(this.raw)) this.raw = this.raw.slice();
    return this.raw;
  }

  /** Number of elements. */
  get size(): number {
    return this.raw.length;
  }

  /** Number of axes. */
  get ndim(): number {
    return this.shape.length;
  }

  /**
   * The value of a one-element tensor as a number. Throws a `ShapeError` otherwise, and a `DifferentiationError`
   * on a traced tensor inside a transform (read `stopGradient(x).item()` to use the value as a constant).
   */
  item(): number {
    if (this.level !== 0) throw tracedRead(this, "item()");
    if (this.raw.length !== 1) {
      throw new ShapeError(`item: expected a tensor with one element, got shape [${this.shape.join(", ")}]`);
    }
    return this.raw[0]!;
  }

  /**
   * The values as nested JavaScript arrays (a number for a scalar). Throws a `DifferentiationError` on a traced
   * tensor inside a transform (see {@link Tensor.item}).
   */
  toArray(): NestedArray {
    if (this.level !== 0) throw tracedRead(this, "toArray()");
    return nestedValues(this.raw, this.shape);
  }

  /**
   * The values as nested arrays, for `JSON.stringify` (a number for a scalar).
   *
   * @example
   * ```ts
   * import { tensor } from "diffopt";
   * JSON.stringify({ w: tensor([[1, 2], [3, 4]]) }); // '{"w":[[1,2],[3,4]]}'
   * ```
   */
  toJSON(): NestedArray {
    if (this.level !== 0) throw tracedRead(this, "toJSON()");
    return nestedValues(this.raw, this.shape);
  }

  /** A fresh copy of the values (its own buffer: safe to write or transfer). */
  toFloat64Array(): Float64Array {
    if (this.level !== 0) throw tracedRead(this, "toFloat64Array()");
    return this.raw.slice();
  }

  /**
   * A readable rendering in NumPy's style: `tensor([[1, 2], [3, 4]], shape=[2, 2])`. Rows of a matrix (and
   * higher-rank tensors) go on separate lines when the whole does not fit on one line of 100 characters; a tensor
   * of more than 1000 elements shows the first and last 3 entries of each axis, with `…` between. A traced tensor
   * shows its values and the level of the transform tracing it. `console.log(t)` and `util.inspect(t)` in Node
   * print the same text.
   *
   * @example
   * ```ts
   * import { tensor, arange } from "diffopt";
   * String(tensor([[1, 2], [3, 4.5]])); // "tensor([[1, 2], [3, 4.5]], shape=[2, 2])"
   * String(arange(2000)); // "tensor([0, 1, 2, …, 1997, 1998, 1999], shape=[2000])"
   * ```
   */
  toString(): string {
    return formatTensor(this);
  }

  /**
   * JavaScript's conversion to a primitive. As a number (`+x`, `Number(x)`, `x > 0`) a tensor is its value as
   * {@link Tensor.item} reads it: the value of a one-element concrete tensor, and an error on a traced or batched one
   * (a comparison in control flow would otherwise decide for every batch element at once, or silently compare NaN).
   * As a string (`${x}`, `"" + x`) it is {@link Tensor.toString}.
   *
   * @example
   * ```ts
   * import { tensor } from "diffopt";
   * Number(tensor(2.5)); // 2.5
   * ```
   */
  [Symbol.toPrimitive](hint: string): string | number {
    if (hint !== "number") return formatTensor(this);
    if (this.level !== 0)
      throw tracedRead(this, "item()", "a comparison or conversion to a number (x > 0, Number(x), +x)");
    return this.item();
  }

  /** Node's `util.inspect` (and so `console.log`) hook: the same text as {@link Tensor.toString}. */
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return formatTensor(this);
  }
}

/**
 * The `data` of a tracer: a view of its values whose every element access (and every method but `length`) throws
 * the traced-read error; only the `Tensor` constructor may unwrap it, so that `new Tensor(x.data, x.shape)` still
 * builds a constant (it is how `stopGradient` detaches a tracer).
 */
function guardedData(t: Tensor): Float64Array {
  const fail = (): never => {
    throw tracedRead(t, "data");
  };
  return new Proxy(t.raw, {
    get(target, prop) {
      if (prop === RAW) return target;
      if (prop === "length") return target.length;
      return fail();
    },
    has: fail,
    ownKeys: fail,
    getOwnPropertyDescriptor: fail,
    set: fail,
  });
}

/**
 * @internal The concrete tensor under every level of `t` (itself when concrete). For a tensor batched by `vmap`
 * these are the values of the whole batch (its shape has the batch axes): only for checks that hold for the batch
 * as they hold for each element ("every entry is finite"), never for computing a result.
 */
export function baseValues(t: Tensor): Tensor {
  let u = t;
  while (u.level > 0) u = u.primal!;
  return u;
}

/** @internal True when `t` is a `vmap` batch tracer or a tracer of one (its values hold a whole batch). */
export function isBatched(t: Tensor): boolean {
  for (let u: Tensor | null = t; u !== null && u.level > 0; u = u.primal) if (u.kind === TraceKind.Batch) return true;
  return false;
}

/** The target of every {@link batchedRaw}: no values, and nothing can be stored on it. */
const NO_VALUES = Object.freeze(new Float64Array(0));

class BatchedRawHandler implements ProxyHandler<Float64Array> {
  constructor(
    private readonly shape: Shape,
    private readonly batchSize: number,
    private readonly n: number,
  ) {}

  get(_target: Float64Array, prop: string | symbol): unknown {
    if (prop === RAW) return undefined;
    if (prop === "length") return this.n;
    throw new BatchingError(
      `vmap: a function read the values of a tensor batched by vmap (per-element shape [${this.shape.join(", ")}], ` +
        `batch of ${this.batchSize}), as a kernel or a check without a batching rule would: those values are the ` +
        `whole batch, not one element's. Write the computation with diffopt ops, or read the numbers outside vmap.`,
    );
  }
}

/**
 * @internal The `raw` of a batch tracer: its values are the batch's, not one element's, so any read of an element
 * (by a kernel, a check or control flow that has no batching rule) throws a `BatchingError` instead of computing
 * with numbers of the wrong length. `length` is the per-element size (so `size`, `zerosLike`… stay right).
 *
 * One is made per batched op, so it is lean: every proxy shares one empty, frozen target, and its handler is one
 * small object without a closure (a fresh typed array and a closure per tracer were ~3% of a small implicit
 * backward pass, most of it in the `vmap` that materialises the backward matrix).
 */
export function batchedRaw(shape: Shape, batchSize: number): Float64Array {
  return new Proxy(NO_VALUES, new BatchedRawHandler(shape, batchSize, shapeSize(shape)));
}

/** The error of a read of plain numbers (`what`, the method; `label`, how the message names the read) from a tracer. */
function tracedRead(t: Tensor, what: string, label = `Tensor.${what}`): DiffoptErrorLike {
  if (isBatched(t)) {
    return new BatchingError(
      `${label}: reads plain numbers from a tensor of per-element shape [${t.shape.join(", ")}] batched by ` +
        `vmap; they would be the numbers of the whole batch, not of one element. Compute with diffopt ops, or read ` +
        `the values outside vmap (from its result).`,
    );
  }
  return new DifferentiationError(
    `${label}: reads plain numbers from a tensor of shape [${t.shape.join(", ")}] traced by a transform ` +
      `(grad, jvp, vjp, jacfwd, jacrev, hessian…), which would silently drop its derivative. Compute with diffopt ops ` +
      `to keep the derivative, or read stopGradient(x).${what} to use the value as a ` +
      `constant (control flow, logging, a step size).`,
  );
}

type DiffoptErrorLike = DifferentiationError | BatchingError;

function nestedValues(data: Float64Array, shape: Shape): NestedArray {
  if (shape.length === 0) return data[0]!;
  let offset = 0;
  const build = (axis: number): NestedArray[] => {
    const n = shape[axis]!;
    const out: NestedArray[] = new Array(n);
    if (axis === shape.length - 1) {
      for (let i = 0; i < n; i++) out[i] = data[offset++]!;
    } else {
      for (let i = 0; i < n; i++) out[i] = build(axis + 1);
    }
    return out;
  };
  return build(0);
}

/** Like NumPy, tensors of more than this many elements are summarised (first and last 3 entries of each axis). */
const SUMMARY_THRESHOLD = 1000;
const SUMMARY_EDGE = 3;
const LINE_WIDTH = 100;

function formatTensor(t: Tensor): string {
  for (let u: Tensor | null = t; u !== null && u.level > 0; u = u.primal) {
    if (u.kind === TraceKind.Batch) {
      const b = u.primal!;
      return `batched(${b.shape[u.outIndex]} elements along axis ${u.outIndex} of ${formatTensor(b)}, per-element shape=[${t.shape.join(", ")}], level ${t.level})`;
    }
  }
  const { raw, shape } = t;
  const summarize = raw.length > SUMMARY_THRESHOLD;
  const strides: number[] = new Array(shape.length);
  for (let i = shape.length - 1, acc = 1; i >= 0; i--) {
    strides[i] = acc;
    acc *= shape[i]!;
  }
  const indices = (n: number): (number | null)[] =>
    summarize && n > 2 * SUMMARY_EDGE
      ? [
          ...Array.from({ length: SUMMARY_EDGE }, (_, i) => i),
          null,
          ...Array.from({ length: SUMMARY_EDGE }, (_, i) => n - SUMMARY_EDGE + i),
        ]
      : Array.from({ length: n }, (_, i) => i);
  // One line per leading index when the flat rendering is too long, NumPy-like.
  const render = (axis: number, offset: number, multiline: boolean, indent: string): string => {
    if (axis === shape.length) return formatNumber(raw[offset]!);
    const parts = indices(shape[axis]!).map((i) =>
      i === null ? "…" : render(axis + 1, offset + i * strides[axis]!, multiline, indent + " "),
    );
    const sep = multiline && axis < shape.length - 1 ? `,${"\n".repeat(shape.length - 1 - axis)}${indent} ` : ", ";
    return `[${parts.join(sep)}]`;
  };
  const traced = t.level > 0 ? `, traced at level ${t.level}` : "";
  const suffix = `${shape.length > 0 ? `, shape=[${shape.join(", ")}]` : ""}${traced})`;
  const flat = `tensor(${render(0, 0, false, "")}${suffix}`;
  if (shape.length < 2 || flat.length <= LINE_WIDTH) return flat;
  return `tensor(${render(0, 0, true, "       ")}${suffix}`;
}

function formatNumber(v: number): string {
  if (Number.isInteger(v) && Math.abs(v) < 1e15) return String(v);
  return Number(v.toPrecision(8)).toString();
}

/** A typed array of numbers, accepted by {@link tensor} (converted to float64). */
export type NumericArray =
  | Float64Array
  | Float32Array
  | Int8Array
  | Uint8Array
  | Uint8ClampedArray
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array;

/** Nested arrays of numbers whose innermost rows may be typed arrays, as accepted by {@link tensor}. */
export type NestedInput = number | NumericArray | readonly NestedInput[];

/** Anything that can be turned into a tensor: a Tensor, a number, nested arrays, or a typed array of numbers. */
export type TensorLike = Tensor | NestedInput;

/** @internal A short description of a value of the wrong kind, for error messages. */
export function describeValue(v: unknown): string {
  if (v instanceof Tensor) return `a tensor of shape [${v.shape.join(", ")}]`;
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (typeof v === "string") return `the string ${JSON.stringify(v.length > 20 ? `${v.slice(0, 20)}…` : v)}`;
  if (typeof v === "function") return "a function";
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name}`;
  if (typeof v === "object" && v !== null) {
    const name = Object.getPrototypeOf(v)?.constructor?.name;
    return name && name !== "Object" ? `a ${name}` : "an object";
  }
  if (typeof v === "bigint") return `the bigint ${v}n`;
  return typeof v === "boolean" || typeof v === "symbol" ? `the ${typeof v} ${String(v)}` : String(v);
}

function isNumericArray(v: unknown): v is NumericArray {
  return (
    ArrayBuffer.isView(v) && !(v instanceof DataView) && !(v instanceof BigInt64Array) && !(v instanceof BigUint64Array)
  );
}

/**
 * Creates a tensor from nested arrays, a number, or a typed array (`Float64Array`, `Float32Array`,
 * `Int32Array`…, copied and converted to float64) with an optional shape. Typed arrays may also be the rows of
 * nested arrays. Anything else (strings, booleans, `null`, objects) is a `ValueError` naming what was given.
 *
 * @example
 * ```ts
 * import { tensor } from "diffopt";
 * tensor([[1, 2], [3, 4]]);                     // shape [2, 2]
 * tensor(3);                                    // a scalar
 * tensor(new Float64Array([1, 2, 3, 4]), [2, 2]);
 * tensor([new Float32Array([1, 2]), new Int32Array([3, 4])]).toArray(); // [[1, 2], [3, 4]]
 * ```
 */
export function tensor(values: TensorLike, shape?: Shape): Tensor {
  if (typeof values === "number" && shape === undefined) {
    // A scalar, as the nested-array path below would build it, without its closures.
    const data = allocFloat64(1);
    data[0] = values;
    return new Tensor(data, []);
  }
  if (shape !== undefined) checkShape(shape, "tensor", "shape");
  if (values instanceof Tensor) {
    if (shape !== undefined && !sameShape(shape, values.shape)) {
      throw new ShapeError(
        `tensor: shape [${shape.join(", ")}] does not match the tensor's [${values.shape.join(", ")}]`,
      );
    }
    return values;
  }
  if (isNumericArray(values)) {
    const s = shape ?? [values.length];
    if (shapeSize(s) !== values.length) {
      throw new ShapeError(`tensor: ${values.length} values do not fill shape [${s.join(", ")}]`);
    }
    return new Tensor(values instanceof Float64Array ? values.slice() : Float64Array.from(values), [...s]);
  }
  // A Float64Array that is no view is a tracer's guarded `data`: reading an element throws the traced-read error.
  if (values instanceof Float64Array) void values[0];
  const inferred: number[] = [];
  let v: unknown = values;
  while (Array.isArray(v) || isNumericArray(v)) {
    inferred.push(v.length);
    if (v.length === 0) break;
    v = v[0];
  }
  if (inferred.length === 0 && typeof v !== "number") {
    throw new ValueError(
      `tensor: expected a number, nested arrays of numbers, a typed array or a Tensor, got ${describeValue(v)}`,
    );
  }
  checkSize(inferred, "tensor", "values");
  const data = allocFloat64(shapeSize(inferred));
  let k = 0;
  const path: number[] = [];
  const where = () => (path.length > 0 ? ` at index [${path.join(", ")}]` : "");
  const fill = (node: unknown, axis: number): void => {
    if (axis === inferred.length) {
      if (typeof node !== "number") {
        if (Array.isArray(node) || isNumericArray(node)) {
          throw new ShapeError(`tensor: ragged nested array: an array${where()} where a number was expected`);
        }
        throw new ValueError(`tensor: entries must be numbers, got ${describeValue(node)}${where()}`);
      }
      data[k++] = node;
      return;
    }
    if (!Array.isArray(node) && !isNumericArray(node)) {
      if (typeof node === "number") {
        throw new ShapeError(`tensor: ragged nested array: a number${where()} where an array was expected`);
      }
      throw new ValueError(`tensor: entries must be numbers or arrays, got ${describeValue(node)}${where()}`);
    }
    if (node.length !== inferred[axis]) {
      throw new ShapeError(
        `tensor: ragged nested array: length ${node.length}${where()}, expected ${inferred[axis]} like its first sibling`,
      );
    }
    for (let i = 0; i < node.length; i++) {
      path.push(i);
      fill(node[i], axis + 1);
      path.pop();
    }
  };
  fill(values, 0);
  if (shape !== undefined) {
    if (shapeSize(shape) !== data.length) {
      throw new ShapeError(`tensor: ${data.length} values do not fill shape [${shape.join(", ")}]`);
    }
    return new Tensor(data, [...shape]);
  }
  return new Tensor(data, inferred);
}

/**
 * Converts a number (or other tensor-like) to a tensor; tensors pass through unchanged.
 * @example
 * ```ts
 * import { asTensor } from "diffopt";
 * asTensor(2).shape; // []
 * asTensor([[1, 2]]).toArray(); // [[1, 2]]
 * ```
 */
export function asTensor(x: TensorLike): Tensor {
  if (x instanceof Tensor) return x;
  if (typeof x === "number") return new Tensor(new Float64Array([x]), []);
  return tensor(x);
}

/**
 * @internal {@link asTensor} for argument `arg` of the op `who`: an input `tensor` rejects is an error naming the
 * op and the argument (`mul: b: … got undefined`, usually a forgotten argument) rather than the `tensor` call
 * made on the op's behalf. Tensors and numbers take the same fast path.
 */
export function asTensorArg(x: TensorLike, who: string, arg: string): Tensor {
  if (x instanceof Tensor) return x;
  if (typeof x === "number") return new Tensor(new Float64Array([x]), []);
  try {
    return tensor(x);
  } catch (e) {
    if (e instanceof ValueError) throw new ValueError(`${who}: ${arg}: ${e.message.replace(/^tensor: /, "")}`);
    if (e instanceof ShapeError) throw new ShapeError(`${who}: ${arg}: ${e.message.replace(/^tensor: /, "")}`);
    throw e;
  }
}

/**
 * True when two shapes are equal.
 * @example
 * ```ts
 * import { sameShape } from "diffopt";
 * sameShape([2, 3], [2, 3]); // true
 * sameShape([2, 3], [3, 2]); // false
 * ```
 */
export function sameShape(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The largest number of elements of a tensor: V8's limit on a typed array's length (2³² − 1 doubles, 32 GiB).
 * Larger shapes are rejected up front with a `ValueError` rather than a `RangeError` from the engine.
 */
const MAX_SIZE = 2 ** 32 - 1;

function checkSize(shape: Shape, op: string, arg: string): void {
  const n = shapeSize(shape);
  if (n > MAX_SIZE) {
    throw new ValueError(
      `${op}: ${arg} [${shape.join(", ")}] has ${n} elements, more than the ${MAX_SIZE} a Float64Array can hold`,
    );
  }
}

/** @internal Validates a user-given shape: an array of non-negative integers, of at most `MAX_SIZE` elements. */
export function checkShape(shape: Shape, op: string, arg = "shape"): void {
  if (!Array.isArray(shape)) {
    throw new ValueError(`${op}: ${arg} must be an array of non-negative integers, got ${describeValue(shape)}`);
  }
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new ValueError(
        `${op}: invalid ${arg} [${shape.map((x) => (typeof x === "number" ? x : describeValue(x))).join(", ")}]: ` +
          `dimensions must be non-negative integers`,
      );
    }
  }
  checkSize(shape, op, arg);
}

/** Zero-filled values for `shape`, with an allocation failure (not enough memory) reported as a `ValueError`. */
function allocShape(shape: Shape, op: string): Float64Array {
  try {
    return allocFloat64(shapeSize(shape));
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    throw new ValueError(
      `${op}: cannot allocate a tensor of shape [${shape.join(", ")}] (${shapeSize(shape)} doubles): ${e.message}`,
    );
  }
}

function checkNumber(value: unknown, op: string, arg: string, finite = false): number {
  if (typeof value !== "number" || (finite && !Number.isFinite(value))) {
    throw new ValueError(`${op}: ${arg} must be a ${finite ? "finite " : ""}number, got ${describeValue(value)}`);
  }
  return value;
}

/**
 * A scalar tensor.
 *
 * @example
 * ```ts
 * import { scalar } from "diffopt";
 * scalar(2.5).item(); // 2.5
 * ```
 */
export function scalar(value: number): Tensor {
  return new Tensor(new Float64Array([checkNumber(value, "scalar", "value")]), []);
}

/**
 * A tensor of `shape` filled with `value`.
 *
 * @example
 * ```ts
 * import { full } from "diffopt";
 * full([2, 3], 7).toArray(); // [[7, 7, 7], [7, 7, 7]]
 * ```
 */
export function full(shape: Shape, value: number): Tensor {
  checkShape(shape, "full");
  checkNumber(value, "full", "value");
  return new Tensor(allocShape(shape, "full").fill(value), [...shape]);
}

/**
 * A tensor of zeros.
 *
 * @example
 * ```ts
 * import { zeros } from "diffopt";
 * zeros([2]).toArray(); // [0, 0]
 * ```
 */
export function zeros(shape: Shape): Tensor {
  checkShape(shape, "zeros");
  return new Tensor(allocShape(shape, "zeros"), [...shape]);
}

/**
 * A tensor of ones.
 *
 * @example
 * ```ts
 * import { ones } from "diffopt";
 * ones([2]).toArray(); // [1, 1]
 * ```
 */
export function ones(shape: Shape): Tensor {
  checkShape(shape, "ones");
  return new Tensor(allocShape(shape, "ones").fill(1), [...shape]);
}

/**
 * Zeros with the shape of `x` (concrete: carries no derivative).
 *
 * @example
 * ```ts
 * import { zerosLike, tensor } from "diffopt";
 * zerosLike(tensor([1, 2])).toArray(); // [0, 0]
 * ```
 */
export function zerosLike(x: Tensor): Tensor {
  return new Tensor(allocFloat64(x.raw.length), x.shape);
}

/**
 * Ones with the shape of `x`.
 *
 * @example
 * ```ts
 * import { onesLike, tensor } from "diffopt";
 * onesLike(tensor([1, 2])).toArray(); // [1, 1]
 * ```
 */
export function onesLike(x: Tensor): Tensor {
  return new Tensor(allocFloat64(x.raw.length).fill(1), x.shape);
}

/**
 * The n×m identity matrix (m defaults to n).
 *
 * @example
 * ```ts
 * import { eye } from "diffopt";
 * eye(2).toArray(); // [[1, 0], [0, 1]]
 * ```
 */
export function eye(n: number, m: number = n): Tensor {
  checkShape([n, m], "eye", "size [n, m]");
  const data = allocShape([n, m], "eye");
  for (let i = 0; i < Math.min(n, m); i++) data[i * m + i] = 1;
  return new Tensor(data, [n, m]);
}

/**
 * Evenly spaced values in [start, stop) with `step`, like `numpy.arange`. With one argument, [0, stop). The
 * bounds and the step must be finite numbers (a `ValueError` otherwise).
 *
 * @example
 * ```ts
 * import { arange } from "diffopt";
 * arange(4).toArray();       // [0, 1, 2, 3]
 * arange(1, 2, 0.5).toArray(); // [1, 1.5]
 * ```
 */
export function arange(start: number, stop?: number, step = 1): Tensor {
  if (stop === undefined) {
    checkNumber(start, "arange", "stop", true);
    stop = start;
    start = 0;
  }
  checkNumber(start, "arange", "start", true);
  checkNumber(stop, "arange", "stop", true);
  checkNumber(step, "arange", "step", true);
  if (step === 0) throw new ValueError(`arange: step must be non-zero, got ${step}`);
  const n = Math.max(0, Math.ceil((stop - start) / step));
  const shape = [n];
  checkShape(shape, "arange", "length");
  const data = allocShape(shape, "arange");
  for (let i = 0; i < n; i++) data[i] = start + i * step;
  return new Tensor(data, shape);
}

/**
 * `num` evenly spaced values from `start` to `stop` inclusive, like `numpy.linspace`. The bounds must be finite
 * numbers and `num` a non-negative integer (a `ValueError` otherwise).
 *
 * @example
 * ```ts
 * import { linspace } from "diffopt";
 * linspace(0, 1, 3).toArray(); // [0, 0.5, 1]
 * ```
 */
export function linspace(start: number, stop: number, num = 50): Tensor {
  checkNumber(start, "linspace", "start", true);
  checkNumber(stop, "linspace", "stop", true);
  if (!Number.isInteger(num) || num < 0)
    throw new ValueError(`linspace: num must be a non-negative integer, got ${describeValue(num)}`);
  checkShape([num], "linspace", "length");
  const data = allocShape([num], "linspace");
  const step = num > 1 ? (stop - start) / (num - 1) : 0;
  for (let i = 0; i < num; i++) data[i] = start + i * step;
  if (num > 1) data[num - 1] = stop;
  return new Tensor(data, [num]);
}
