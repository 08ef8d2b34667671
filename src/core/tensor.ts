/**
 * The `Tensor`: an immutable float64 array with a row-major shape.
 *
 * A tensor seen inside a transform (`jvp`, `vjp`, `grad`, …) is a *tracer*: the same class, with a non-zero
 * `level` naming the transform it belongs to and a link to the value one level down (`primal`). Its `data` are
 * always the concrete values, so user code may read numbers (`item()`, `toArray()`) anywhere; reading them gives
 * no derivative, like `stopGradient`.
 *
 * @module
 */
import { ShapeError, ValueError } from "./errors.js";
import { allocFloat64 } from "./alloc.js";

/** The shape of a tensor: one non-negative integer per axis; `[]` is a scalar. */
export type Shape = readonly number[];

/** Nested JavaScript arrays of numbers, as accepted by {@link tensor} and returned by {@link Tensor.toArray}. */
export type NestedArray = number | NestedArray[];

/** @internal Which transform a tracer belongs to. */
export enum TraceKind {
  Concrete = 0,
  Jvp = 1,
  Vjp = 2,
}

/** @internal A node of a reverse-mode tape (see `engine.ts`). */
export interface TapeNode {
  readonly id: number;
  /** Tape nodes of the inputs that are traced at this node's level, with the output index they came from. */
  readonly parents: readonly (TapeNode | null)[];
  readonly parentOut: readonly number[];
  readonly nOut: number;
  /** Maps the cotangents of the outputs to cotangents of the inputs (aligned with `parents`). */
  readonly backward: (cts: (Tensor | null)[]) => (Tensor | null)[];
  /** Scratch space of the backward pass; null outside it. */
  cts: (Tensor | null)[] | null;
}

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
   * The values, row-major. Shared, never mutated: copy with {@link Tensor.toFloat64Array} before writing. A small
   * tensor's array may be a view on a buffer shared with other tensors, so never transfer or detach
   * `data.buffer` (e.g. in a `postMessage` transfer list): send a copy.
   */
  readonly data: Float64Array;
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
  /** @internal */
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
    this.data = data;
    this.shape = shape;
    this.level = level;
    this.kind = kind;
    this.primal = primal;
    this.tangent = tangent;
    this.node = node;
    this.outIndex = outIndex;
  }

  /** Number of elements. */
  get size(): number {
    return this.data.length;
  }

  /** Number of axes. */
  get ndim(): number {
    return this.shape.length;
  }

  /** The value of a one-element tensor as a number. Throws a `ShapeError` otherwise. */
  item(): number {
    if (this.data.length !== 1) {
      throw new ShapeError(`item: expected a tensor with one element, got shape [${this.shape.join(", ")}]`);
    }
    return this.data[0]!;
  }

  /** The values as nested JavaScript arrays (a number for a scalar). */
  toArray(): NestedArray {
    const data = this.data;
    const shape = this.shape;
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

  /** A fresh copy of the values. */
  toFloat64Array(): Float64Array {
    return this.data.slice();
  }

  /** A readable rendering, e.g. `tensor([[1, 2], [3, 4]])`. */
  toString(): string {
    // Like NumPy, tensors of more than 1000 elements show the first and last 3 entries of each axis.
    const summarize = this.size > 1000;
    const fmt = (v: NestedArray): string => {
      if (typeof v === "number") return formatNumber(v);
      const parts = summarize && v.length > 6 ? [...v.slice(0, 3).map(fmt), "…", ...v.slice(-3).map(fmt)] : v.map(fmt);
      return `[${parts.join(", ")}]`;
    };
    const traced = this.level > 0 ? `, traced at level ${this.level}` : "";
    return `tensor(${fmt(this.toArray())}${this.shape.length > 0 ? `, shape=[${this.shape.join(", ")}]` : ""}${traced})`;
  }
}

function formatNumber(v: number): string {
  if (Number.isInteger(v) && Math.abs(v) < 1e15) return String(v);
  return Number(v.toPrecision(8)).toString();
}

/** Anything that can be turned into a tensor: a Tensor, a number, nested arrays, or a Float64Array. */
export type TensorLike = Tensor | NestedArray | Float64Array;

/**
 * Creates a tensor from nested arrays, a number, or a `Float64Array` (copied) with an optional shape.
 *
 * @example
 * ```ts
 * import { tensor } from "diffopt";
 * tensor([[1, 2], [3, 4]]);                     // shape [2, 2]
 * tensor(3);                                    // a scalar
 * tensor(new Float64Array([1, 2, 3, 4]), [2, 2]);
 * ```
 */
export function tensor(values: TensorLike, shape?: Shape): Tensor {
  if (values instanceof Tensor) {
    if (shape !== undefined && !sameShape(shape, values.shape)) {
      throw new ShapeError(
        `tensor: shape [${shape.join(", ")}] does not match the tensor's [${values.shape.join(", ")}]`,
      );
    }
    return values;
  }
  if (values instanceof Float64Array) {
    const s = shape ?? [values.length];
    checkShape(s, "tensor");
    if (shapeSize(s) !== values.length) {
      throw new ShapeError(`tensor: ${values.length} values do not fill shape [${s.join(", ")}]`);
    }
    return new Tensor(values.slice(), [...s]);
  }
  const inferred: number[] = [];
  let v: NestedArray = values;
  while (Array.isArray(v)) {
    inferred.push(v.length);
    if (v.length === 0) break;
    v = v[0]!;
  }
  const data = allocFloat64(shapeSize(inferred));
  let k = 0;
  const fill = (node: NestedArray, axis: number): void => {
    if (axis === inferred.length) {
      if (typeof node !== "number") throw new ShapeError(`tensor: ragged nested array at depth ${axis}`);
      data[k++] = node;
      return;
    }
    if (!Array.isArray(node) || node.length !== inferred[axis]) {
      throw new ShapeError(`tensor: ragged nested array at depth ${axis} (expected length ${inferred[axis]})`);
    }
    for (const child of node) fill(child, axis + 1);
  };
  fill(values, 0);
  const t = new Tensor(data, inferred);
  if (shape !== undefined) {
    checkShape(shape, "tensor");
    if (shapeSize(shape) !== data.length) {
      throw new ShapeError(`tensor: ${data.length} values do not fill shape [${shape.join(", ")}]`);
    }
    return new Tensor(data, [...shape]);
  }
  return t;
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

/** @internal Validates a user-given shape. */
export function checkShape(shape: Shape, op: string): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new ValueError(`${op}: invalid shape [${shape.join(", ")}]: dimensions must be non-negative integers`);
    }
  }
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
  return new Tensor(new Float64Array([value]), []);
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
  return new Tensor(allocFloat64(shapeSize(shape)).fill(value), [...shape]);
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
  return new Tensor(allocFloat64(shapeSize(shape)), [...shape]);
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
  return full(shape, 1);
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
  return new Tensor(allocFloat64(x.data.length), x.shape);
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
  return new Tensor(allocFloat64(x.data.length).fill(1), x.shape);
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
  checkShape([n, m], "eye");
  const data = allocFloat64(n * m);
  for (let i = 0; i < Math.min(n, m); i++) data[i * m + i] = 1;
  return new Tensor(data, [n, m]);
}

/**
 * Evenly spaced values in [start, stop) with `step`, like `numpy.arange`. With one argument, [0, stop).
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
    stop = start;
    start = 0;
  }
  if (step === 0 || !Number.isFinite(step))
    throw new ValueError(`arange: step must be finite and non-zero, got ${step}`);
  const n = Math.max(0, Math.ceil((stop - start) / step));
  const data = allocFloat64(n);
  for (let i = 0; i < n; i++) data[i] = start + i * step;
  return new Tensor(data, [n]);
}

/**
 * `num` evenly spaced values from `start` to `stop` inclusive, like `numpy.linspace`.
 *
 * @example
 * ```ts
 * import { linspace } from "diffopt";
 * linspace(0, 1, 3).toArray(); // [0, 0.5, 1]
 * ```
 */
export function linspace(start: number, stop: number, num = 50): Tensor {
  if (!Number.isInteger(num) || num < 0)
    throw new ValueError(`linspace: num must be a non-negative integer, got ${num}`);
  const data = allocFloat64(num);
  const step = num > 1 ? (stop - start) / (num - 1) : 0;
  for (let i = 0; i < num; i++) data[i] = start + i * step;
  if (num > 1) data[num - 1] = stop;
  return new Tensor(data, [num]);
}
