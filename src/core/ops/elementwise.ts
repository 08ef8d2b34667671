/**
 * Elementwise ops with NumPy broadcasting. Each unary op declares its kernel and its derivative as a
 * differentiable expression, which serves as both the JVP factor and the VJP factor.
 * @module
 */
import { bind, type Primitive } from "../engine.js";
import { allocFloat64 } from "../alloc.js";
import { broadcastIndex, broadcastShapes } from "../shape.js";
import { Tensor, asTensor, asTensorArg, sameShape, scalar, shapeSize, type Shape, type TensorLike } from "../tensor.js";
import { broadcastTo, sumTo } from "./broadcast.js";
import { moveBatchAxis, reshape } from "./shape.js";
import { wasmArith, wasmTanh } from "../wasm/elementwise.js";

type Kernel2 = (x: number, y: number) => number;

/** @internal Applies a scalar kernel elementwise over two broadcast tensors. */
export function broadcastKernel(a: Tensor, b: Tensor, name: string, f: Kernel2): Tensor {
  const ad = a.raw;
  const bd = b.raw;
  if (sameShape(a.shape, b.shape)) {
    const out = allocFloat64(ad.length);
    for (let i = 0; i < out.length; i++) out[i] = f(ad[i]!, bd[i]!);
    return new Tensor(out, a.shape);
  }
  const shape = broadcastShapes(a.shape, b.shape, name);
  if (bd.length === 1 && sameShape(shape, a.shape)) {
    const y = bd[0]!;
    const out = allocFloat64(ad.length);
    for (let i = 0; i < out.length; i++) out[i] = f(ad[i]!, y);
    return new Tensor(out, shape);
  }
  if (ad.length === 1 && sameShape(shape, b.shape)) {
    const x = ad[0]!;
    const out = allocFloat64(bd.length);
    for (let i = 0; i < out.length; i++) out[i] = f(x, bd[i]!);
    return new Tensor(out, shape);
  }
  const ia = broadcastIndex(a.shape, shape);
  const ib = broadcastIndex(b.shape, shape);
  const out = allocFloat64(ia.length);
  for (let i = 0; i < out.length; i++) out[i] = f(ad[ia[i]!]!, bd[ib[i]!]!);
  return new Tensor(out, shape);
}

/** Arithmetic ops with hand-specialised loops (a shared loop calling a function per element is ~10× slower). */
const enum Arith {
  Add,
  Sub,
  Mul,
  Div,
}

/**
 * @internal How an operand of shape `inShape` is laid over the output: repeated whole (`tile`: out index i reads
 * i mod period) or each element repeated (`repeat`: i reads ⌊i / count⌋). Null when neither.
 */
export function broadcastPattern(inShape: Shape, outShape: Shape): { tile: number } | { repeat: number } | null {
  const lead = outShape.length - inShape.length;
  const dims = outShape.map((d, i) => (i < lead ? 1 : inShape[i - lead]!));
  let first = 0;
  while (first < dims.length && dims[first] === 1) first++;
  let last = dims.length;
  while (last > 0 && dims[last - 1] === 1) last--;
  let size = 1;
  for (let i = first; i < last; i++) {
    if (dims[i] !== outShape[i]) return null;
    size *= dims[i]!;
  }
  let outer = 1;
  for (let i = 0; i < first; i++) outer *= outShape[i]!;
  if (size === 1) return { repeat: shapeSize(outShape) };
  if (last === dims.length) return { tile: size };
  if (first === 0 || outer === 1) {
    let inner = 1;
    for (let i = last; i < dims.length; i++) inner *= outShape[i]!;
    return { repeat: inner };
  }
  return null;
}

/**
 * out[i] = a[i] ∘ b[j(i)] with a full-size and b tiled (period k) or each element repeated k times. The switch
 * stays outside the loops: a branch per element would cost more than the arithmetic.
 */
function arithRight(op: Arith, a: Float64Array, b: Float64Array, out: Float64Array, tile: boolean, k: number): void {
  const n = out.length;
  switch (op) {
    case Arith.Add:
      if (tile) for (let o = 0; o < n; o += k) for (let j = 0; j < k; j++) out[o + j] = a[o + j]! + b[j]!;
      else for (let e = 0, o = 0; o < n; e++, o += k) for (let j = o, y = b[e]!; j < o + k; j++) out[j] = a[j]! + y;
      break;
    case Arith.Sub:
      if (tile) for (let o = 0; o < n; o += k) for (let j = 0; j < k; j++) out[o + j] = a[o + j]! - b[j]!;
      else for (let e = 0, o = 0; o < n; e++, o += k) for (let j = o, y = b[e]!; j < o + k; j++) out[j] = a[j]! - y;
      break;
    case Arith.Mul:
      if (tile) for (let o = 0; o < n; o += k) for (let j = 0; j < k; j++) out[o + j] = a[o + j]! * b[j]!;
      else for (let e = 0, o = 0; o < n; e++, o += k) for (let j = o, y = b[e]!; j < o + k; j++) out[j] = a[j]! * y;
      break;
    case Arith.Div:
      if (tile) for (let o = 0; o < n; o += k) for (let j = 0; j < k; j++) out[o + j] = a[o + j]! / b[j]!;
      else for (let e = 0, o = 0; o < n; e++, o += k) for (let j = o, y = b[e]!; j < o + k; j++) out[j] = a[j]! / y;
      break;
  }
}

const ARITH_FNS: readonly Kernel2[] = [(x, y) => x + y, (x, y) => x - y, (x, y) => x * y, (x, y) => x / y];
const ARITH_NAMES = ["add", "sub", "mul", "div"];

/** Elementwise arithmetic with broadcasting, on concrete tensors. */
function arithmetic(op: Arith, a: Tensor, b: Tensor): Tensor {
  const name = ARITH_NAMES[op]!;
  const shape = sameShape(a.shape, b.shape) ? a.shape : broadcastShapes(a.shape, b.shape, name);
  const ad = a.raw;
  const bd = b.raw;
  if (sameShape(a.shape, shape)) {
    const out = allocFloat64(ad.length);
    // Same shapes, or b a scalar: WebAssembly SIMD from 512 elements (wasm/elementwise.ts).
    if ((bd.length === ad.length || bd.length === 1) && wasmArith(op, ad, bd, out)) return new Tensor(out, shape);
    if (sameShape(b.shape, shape)) {
      arithRight(op, ad, bd, out, true, out.length);
      return new Tensor(out, shape);
    }
    const p = broadcastPattern(b.shape, shape);
    if (p !== null) {
      if ("tile" in p) arithRight(op, ad, bd, out, true, p.tile);
      else arithRight(op, ad, bd, out, false, p.repeat);
      return new Tensor(out, shape);
    }
  } else if (sameShape(b.shape, shape) && (op === Arith.Add || op === Arith.Mul || op === Arith.Sub)) {
    // a ∘ b = b ∘ a for + and ×; a − b = (−b) + a exactly in IEEE arithmetic, signed zeros included (whereas
    // −(b − a) would give −0 for a = b).
    const p = broadcastPattern(a.shape, shape);
    if (p !== null) {
      const out = allocFloat64(bd.length);
      if (ad.length === 1 && wasmArith(op, bd, ad, out, true)) return new Tensor(out, shape);
      let full = bd;
      let commuted = op;
      if (op === Arith.Sub) {
        for (let i = 0; i < out.length; i++) out[i] = -bd[i]!;
        full = out;
        commuted = Arith.Add;
      }
      if ("tile" in p) arithRight(commuted, full, ad, out, true, p.tile);
      else arithRight(commuted, full, ad, out, false, p.repeat);
      return new Tensor(out, shape);
    }
  }
  return broadcastKernel(a, b, name, ARITH_FNS[op]!);
}

/**
 * @internal Batched arguments of an elementwise op arranged so that plain broadcasting batches it: each batched
 * value gets its batch axis first, then length-1 axes up to the largest per-element rank (so that an unbatched
 * argument of higher rank aligns with the per-element axes, not with the batch axis). The output's batch axis is 0.
 */
export function alignBatched(args: readonly Tensor[], dims: readonly (number | null)[], size: number): Tensor[] {
  let rank = 0;
  for (let i = 0; i < args.length; i++) rank = Math.max(rank, args[i]!.ndim - (dims[i] === null ? 0 : 1));
  return args.map((a, i) => {
    const d = dims[i];
    if (d === null || d === undefined) return a;
    const v = moveBatchAxis(a, d, 0, size);
    const lead = rank - (v.ndim - 1);
    return lead === 0 ? v : reshape(v, [size, ...new Array<number>(lead).fill(1), ...v.shape.slice(1)]);
  });
}

/** @internal Gives an elementwise primitive (any number of broadcast arguments) its batching rule. */
export function elementwiseBatch<P>(prim: Primitive<P>): Primitive<P> {
  prim.batch = (args, dims, params, size) => {
    // The elements' shapes must broadcast: checked on them first, so that a mismatch is reported as the unbatched
    // call reports it (the batched shapes would show the batch axis and shift the axis named).
    let shape: Shape = [];
    for (let i = 0; i < args.length; i++) {
      const d = dims[i];
      const own = d === null || d === undefined ? args[i]!.shape : args[i]!.shape.filter((_, k) => k !== d);
      shape = i === 0 ? own : broadcastShapes(shape, own, prim.name);
    }
    return [bind(prim, alignBatched(args, dims, size), params), 0];
  };
  return prim;
}

/** @internal `t` broadcast to `shape` (the tangent of a broadcast operand). */
function expand(t: Tensor, shape: Shape): Tensor {
  return sameShape(t.shape, shape) ? t : broadcastTo(t, shape);
}

/** @internal Partial derivatives of a binary elementwise primitive. */
export interface BinaryRules {
  /** Partial derivatives ∂out/∂a and ∂out/∂b as differentiable expressions (broadcast to the output). */
  da(a: Tensor, b: Tensor, out: Tensor): Tensor;
  db(a: Tensor, b: Tensor, out: Tensor): Tensor;
}

/** @internal A binary elementwise primitive from a scalar kernel and its two partial derivatives. */
export function binaryPrimitive(
  name: string,
  f: Kernel2,
  rules: BinaryRules,
  kernel: (a: Tensor, b: Tensor) => Tensor = (a, b) => broadcastKernel(a, b, name, f),
): Primitive<undefined> {
  return elementwiseBatch({
    name,
    impl([a, b]) {
      return kernel(a!, b!);
    },
    jvp([a, b], [ta, tb], out) {
      const pa = ta === null ? null : mul(ta, rules.da(a!, b!, out));
      const pb = tb === null ? null : mul(tb, rules.db(a!, b!, out));
      const t = pa === null ? pb! : pb === null ? pa : add(pa, pb);
      return expand(t, out.shape);
    },
    vjp(ct, [a, b], out, _p, needs) {
      return [
        needs[0] ? sumTo(mul(ct, rules.da(a!, b!, out)), a!.shape) : null,
        needs[1] ? sumTo(mul(ct, rules.db(a!, b!, out)), b!.shape) : null,
      ];
    },
  });
}

const addPrim: Primitive<undefined> = elementwiseBatch({
  name: "add",
  impl([a, b]) {
    return arithmetic(Arith.Add, a!, b!);
  },
  jvp(_p, [ta, tb], out) {
    const t = ta === null ? tb! : tb === null ? ta : add(ta, tb);
    return expand(t, out.shape);
  },
  vjp(ct, [a, b], _out, _p, needs) {
    return [needs[0] ? sumTo(ct, a!.shape) : null, needs[1] ? sumTo(ct, b!.shape) : null];
  },
});

const subPrim: Primitive<undefined> = elementwiseBatch({
  name: "sub",
  impl([a, b]) {
    return arithmetic(Arith.Sub, a!, b!);
  },
  jvp(_p, [ta, tb], out) {
    const t = ta === null ? neg(tb!) : tb === null ? ta : sub(ta, tb);
    return expand(t, out.shape);
  },
  vjp(ct, [a, b], _out, _p, needs) {
    return [needs[0] ? sumTo(ct, a!.shape) : null, needs[1] ? sumTo(neg(ct), b!.shape) : null];
  },
});

const mulPrim: Primitive<undefined> = elementwiseBatch({
  name: "mul",
  impl([a, b]) {
    return arithmetic(Arith.Mul, a!, b!);
  },
  jvp([a, b], [ta, tb], out) {
    const pa = ta === null ? null : mul(ta, b!);
    const pb = tb === null ? null : mul(a!, tb);
    const t = pa === null ? pb! : pb === null ? pa : add(pa, pb);
    return expand(t, out.shape);
  },
  vjp(ct, [a, b], _out, _p, needs) {
    return [needs[0] ? sumTo(mul(ct, b!), a!.shape) : null, needs[1] ? sumTo(mul(ct, a!), b!.shape) : null];
  },
});

/**
 * Division's rules divide by b instead of multiplying by 1/b: d(a/b) = (da − (a/b)·db)/b. Differentiating 1/b
 * would form 1/b², which leaves the float range (b ≈ 1e-200 or 1e155) long before the derivatives do.
 */
const divPrim: Primitive<undefined> = elementwiseBatch({
  name: "div",
  impl([a, b]) {
    return arithmetic(Arith.Div, a!, b!);
  },
  jvp([, b], [ta, tb], out) {
    const num = tb === null ? ta! : ta === null ? neg(mul(tb, out)) : sub(ta, mul(tb, out));
    return expand(div(num, b!), out.shape);
  },
  vjp(ct, [a, b], out, _p, needs) {
    const scaled = div(ct, b!);
    return [needs[0] ? sumTo(scaled, a!.shape) : null, needs[1] ? sumTo(neg(mul(scaled, out)), b!.shape) : null];
  },
});

const powPrim = binaryPrimitive("pow", (x, y) => Math.pow(x, y), {
  // d/da a^b = b·a^(b−1), except at a = b = 0, where a^0 = 1 is constant and the derivative is 0: there the
  // exponent inside is taken as 1 (so 0·a⁰, not 0·a⁻¹ = NaN), and so is every higher derivative of aⁿ at 0
  // (each one is c·a^(n−k), down to c·a⁰ and then 0·a⁰).
  // d/db a^b = a^b log a (taken as 0 where a = 0, the limit for b > 0).
  da: (a, b) => mul(b, pow(a, sub(where(mul(equal(a, 0), equal(b, 0)), 1, b), 1))),
  db: (a, _b, out) => mul(out, log(where(equal(a, 0), 1, a))),
});

// NaN propagates from either side, as in NumPy: the NaN operand is the one selected (and gets the derivative).
const maximumPrim = binaryPrimitive("maximum", (x, y) => (x >= y || x !== x ? x : y), {
  da: (a, b) => selectsFirstOfMaximum(a, b),
  db: (a, b) => sub(1, selectsFirstOfMaximum(a, b)),
});

const minimumPrim = binaryPrimitive("minimum", (x, y) => (x <= y || x !== x ? x : y), {
  da: (a, b) => selectsFirstOfMinimum(a, b),
  db: (a, b) => sub(1, selectsFirstOfMinimum(a, b)),
});

/**
 * Elementwise `a + b` with broadcasting.
 * @example
 * ```ts
 * import { add, tensor } from "diffopt";
 * add(tensor([1, 2]), 1).toArray(); // [2, 3]
 * ```
 */
export function add(a: TensorLike, b: TensorLike): Tensor {
  return bind(addPrim, [asTensorArg(a, "add", "a"), asTensorArg(b, "add", "b")], undefined);
}

/**
 * Elementwise `a - b` with broadcasting.
 * @example
 * ```ts
 * import { sub, tensor } from "diffopt";
 * sub(tensor([1, 2]), 1).toArray(); // [0, 1]
 * ```
 */
export function sub(a: TensorLike, b: TensorLike): Tensor {
  return bind(subPrim, [asTensorArg(a, "sub", "a"), asTensorArg(b, "sub", "b")], undefined);
}

/**
 * Elementwise `a * b` with broadcasting.
 * @example
 * ```ts
 * import { mul, tensor } from "diffopt";
 * mul(tensor([1, 2]), 3).toArray(); // [3, 6]
 * ```
 */
export function mul(a: TensorLike, b: TensorLike): Tensor {
  return bind(mulPrim, [asTensorArg(a, "mul", "a"), asTensorArg(b, "mul", "b")], undefined);
}

/**
 * Elementwise `a / b` with broadcasting.
 * @example
 * ```ts
 * import { div, tensor } from "diffopt";
 * div(tensor([1, 2]), 2).toArray(); // [0.5, 1]
 * ```
 */
export function div(a: TensorLike, b: TensorLike): Tensor {
  return bind(divPrim, [asTensorArg(a, "div", "a"), asTensorArg(b, "div", "b")], undefined);
}

/**
 * Elementwise `a ** b` with broadcasting.
 * @example
 * ```ts
 * import { pow, tensor } from "diffopt";
 * pow(tensor([2, 3]), 2).toArray(); // [4, 9]
 * ```
 */
export function pow(a: TensorLike, b: TensorLike): Tensor {
  return bind(powPrim, [asTensorArg(a, "pow", "a"), asTensorArg(b, "pow", "b")], undefined);
}

/**
 * Elementwise maximum; the derivative goes to `a` on ties. NaN propagates from either operand (NumPy's
 * `maximum`, not `fmax`).
 * @example
 * ```ts
 * import { maximum, tensor } from "diffopt";
 * maximum(tensor([1, 5]), 3).toArray(); // [3, 5]
 * ```
 */
export function maximum(a: TensorLike, b: TensorLike): Tensor {
  return bind(maximumPrim, [asTensorArg(a, "maximum", "a"), asTensorArg(b, "maximum", "b")], undefined);
}

/**
 * Elementwise minimum; the derivative goes to `a` on ties. NaN propagates from either operand.
 * @example
 * ```ts
 * import { minimum, tensor } from "diffopt";
 * minimum(tensor([1, 5]), 3).toArray(); // [1, 3]
 * ```
 */
export function minimum(a: TensorLike, b: TensorLike): Tensor {
  return bind(minimumPrim, [asTensorArg(a, "minimum", "a"), asTensorArg(b, "minimum", "b")], undefined);
}

/** @internal The public function of a binary primitive, its arguments named `first` and `second` in errors. */
export function binary(
  prim: Primitive<undefined>,
  first = "a",
  second = "b",
): (a: TensorLike, b: TensorLike) => Tensor {
  return (a, b) => bind(prim, [asTensorArg(a, prim.name, first), asTensorArg(b, prim.name, second)], undefined);
}

/** `d` with 1 where it is 0: a denominator that is safe inside a `where` whose other branch covers d = 0. */
const nonZero = (d: Tensor): Tensor => where(equal(d, 0), 1, d);

/**
 * r = hypot(a, b) as a safe denominator (1 at the origin and where r is infinite), and where r is infinite: the
 * derivatives of arctan2 and hypot take their limits there instead of ∞/∞, and the `where`s that pick the limits
 * see no NaN in the branch they leave (its derivatives would leak one).
 */
function radius(a: Tensor, b: Tensor): [Tensor, Tensor] {
  const r = hypot(a, b);
  const far = isinf(r);
  return [where(far, 1, nonZero(r)), far];
}

/**
 * Elementwise angle of the point (x, y), in [−π, π], with NumPy's signed zeros and infinities. Derivatives
 * x/(x² + y²) in y and −y/(x² + y²) in x (formed as (x/r)/r with r = hypot(x, y), so they neither overflow nor
 * underflow); 0 at the origin, where the angle has no derivative, and their limit 0 where x or y is infinite.
 * @example
 * ```ts
 * import { arctan2, tensor } from "diffopt";
 * arctan2(tensor([1, -1]), tensor([-1, -1])).toArray(); // [2.356194490192345, -2.356194490192345]
 * ```
 */
export const arctan2 = binary(
  binaryPrimitive("arctan2", Math.atan2, {
    da: (y, x) => {
      const [r, far] = radius(y, x);
      return where(far, 0, div(div(where(far, 0, x), r), r));
    },
    db: (y, x) => {
      const [r, far] = radius(y, x);
      return where(far, 0, neg(div(div(where(far, 0, y), r), r)));
    },
  }),
  "y",
  "x",
);

/**
 * Elementwise √(a² + b²) without overflow or underflow; ∞ if either is infinite (even with a NaN, as in C).
 * Derivatives a/hypot and b/hypot, taken as 0 at the origin (a subgradient, as for `norm`); where a or b is
 * infinite, their limits: sign(a) and 0 when only a is, ±1/√2 each when both are (the diagonal's limit).
 * @example
 * ```ts
 * import { hypot, tensor } from "diffopt";
 * hypot(tensor([3, 1e200]), tensor([4, 1e200])).toArray(); // [5, 1.414213562373095e+200]
 * ```
 */
export const hypot = binary(
  binaryPrimitive("hypot", Math.hypot, {
    da: (a, b) => hypotSlope(a, b),
    db: (a, b) => hypotSlope(b, a),
  }),
);

/** ∂hypot(a, b)/∂a = a/hypot(a, b), with its limits where a or b is infinite (see {@link hypot}). */
function hypotSlope(a: Tensor, b: Tensor): Tensor {
  const [r, far] = radius(a, b);
  const toward = where(isinf(a), where(isinf(b), mul(Math.SQRT1_2, sign(a)), sign(a)), 0);
  return where(far, toward, div(where(far, 0, a), r));
}

/** log(eᵃ + eᵇ) without overflow: the larger argument plus log1p of the smaller exponential. */
function logaddexpKernel(a: number, b: number): number {
  if (a === b) return a + Math.LN2; // also a = b = ±∞, where a − b would be NaN
  const m = a > b ? a : b; // NaN falls through to the sum below, which propagates it
  return m + Math.log1p(Math.exp(-Math.abs(a - b)));
}

/** a − b, taken as 0 where a = b is infinite (the limit along the diagonal; a − b would be NaN there). */
function logaddexpGap(a: Tensor, b: Tensor): Tensor {
  return where(mul(equal(a, b), isinf(a)), 0, sub(a, b));
}

/**
 * Elementwise log(eᵃ + eᵇ), computed stably (NumPy's `logaddexp`): no overflow for large arguments, and
 * −∞ (log 0) when both are −∞. Derivatives σ(a − b) and σ(b − a), the softmax weights of the pair: finite for
 * every argument, with the limits ½ and ½ when a = b = ±∞ and 1 and 0 when only b is −∞.
 * @example
 * ```ts
 * import { logaddexp, tensor } from "diffopt";
 * logaddexp(tensor([1000, -Infinity]), tensor([1000, 0])).toArray(); // [1000.6931471805599, 0]
 * ```
 */
export const logaddexp = binary(
  binaryPrimitive("logaddexp", logaddexpKernel, {
    da: (a, b) => sigmoid(logaddexpGap(a, b)),
    db: (a, b) => sigmoid(logaddexpGap(b, a)),
  }),
);

// ---------------------------------------------------------------------------------------------------------
// Unary ops

/**
 * @internal A unary elementwise primitive: `f` per element, or `vector` (a kernel over whole arrays, e.g.
 * WebAssembly's, which returns false when it declines) first when given. A null derivative is zero everywhere.
 */
export function unaryPrimitive(
  name: string,
  f: (x: number) => number,
  deriv: ((x: Tensor, out: Tensor) => Tensor) | null,
  vector?: (x: Float64Array, out: Float64Array) => boolean,
): Primitive<undefined> {
  return elementwiseBatch({
    name,
    impl([x]) {
      const src = x!.raw;
      const out = allocFloat64(src.length);
      if (vector === undefined || !vector(src, out)) for (let i = 0; i < out.length; i++) out[i] = f(src[i]!);
      return new Tensor(out, x!.shape);
    },
    jvp([x], [t], out) {
      return deriv === null ? null : mul(t!, deriv(x!, out));
    },
    vjp(ct, [x], out) {
      return [deriv === null ? null : mul(ct, deriv(x!, out))];
    },
  });
}

/** @internal The public function of a unary primitive (its argument named `x` in errors). */
export function unary(prim: Primitive<undefined>): (x: TensorLike) => Tensor {
  return (x) => bind(prim, [asTensorArg(x, prim.name, "x")], undefined);
}

const negPrim: Primitive<undefined> = elementwiseBatch({
  name: "neg",
  impl([x]) {
    const src = x!.raw;
    const out = allocFloat64(src.length);
    for (let i = 0; i < out.length; i++) out[i] = -src[i]!;
    return new Tensor(out, x!.shape);
  },
  jvp(_p, [t]) {
    return neg(t!);
  },
  vjp(ct) {
    return [neg(ct)];
  },
});

/**
 * Elementwise `-x`.
 * @example
 * ```ts
 * import { neg, tensor } from "diffopt";
 * neg(tensor([1, -2])).toArray(); // [-1, 2]
 * ```
 */
export const neg = unary(negPrim);

const softplusKernel = (x: number): number => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)));
const sigmoidKernel = (x: number): number => {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
};

/**
 * Elementwise `1 / x`.
 * @example
 * ```ts
 * import { reciprocal, tensor } from "diffopt";
 * reciprocal(tensor([2, 4])).toArray(); // [0.5, 0.25]
 * ```
 */
export const reciprocal = unary(
  unaryPrimitive(
    "reciprocal",
    (x) => 1 / x,
    (_x, out) => neg(square(out)),
  ),
);
/**
 * Elementwise `x²`.
 * @example
 * ```ts
 * import { square, tensor } from "diffopt";
 * square(tensor([2, 3])).toArray(); // [4, 9]
 * ```
 */
export const square = unary(
  unaryPrimitive(
    "square",
    (x) => x * x,
    (x) => mul(x, 2),
  ),
);
/**
 * Elementwise square root.
 * @example
 * ```ts
 * import { sqrt, tensor } from "diffopt";
 * sqrt(tensor([4, 9])).toArray(); // [2, 3]
 * ```
 */
export const sqrt = unary(unaryPrimitive("sqrt", Math.sqrt, (_x, out) => div(0.5, out)));
/**
 * Elementwise `eˣ`.
 * @example
 * ```ts
 * import { exp, tensor } from "diffopt";
 * exp(tensor([0])).toArray(); // [1]
 * ```
 */
export const exp = unary(unaryPrimitive("exp", Math.exp, (_x, out) => out));
/**
 * Elementwise natural logarithm.
 * @example
 * ```ts
 * import { log, tensor } from "diffopt";
 * log(tensor([1])).toArray(); // [0]
 * ```
 */
export const log = unary(unaryPrimitive("log", Math.log, (x) => reciprocal(x)));
/**
 * Elementwise `log(1 + x)`, accurate for small x.
 * @example
 * ```ts
 * import { log1p, tensor } from "diffopt";
 * log1p(tensor([0])).toArray(); // [0]
 * ```
 */
export const log1p = unary(unaryPrimitive("log1p", Math.log1p, (x) => reciprocal(add(x, 1))));
/**
 * Elementwise `eˣ - 1`, accurate for small x.
 * @example
 * ```ts
 * import { expm1, tensor } from "diffopt";
 * expm1(tensor([0])).toArray(); // [0]
 * ```
 */
export const expm1 = unary(unaryPrimitive("expm1", Math.expm1, (_x, out) => add(out, 1)));
/**
 * Elementwise sine.
 * @example
 * ```ts
 * import { sin, tensor } from "diffopt";
 * sin(tensor([0])).toArray(); // [0]
 * ```
 */
export const sin = unary(unaryPrimitive("sin", Math.sin, (x) => cos(x)));
/**
 * Elementwise cosine.
 * @example
 * ```ts
 * import { cos, tensor } from "diffopt";
 * cos(tensor([0])).toArray(); // [1]
 * ```
 */
export const cos = unary(unaryPrimitive("cos", Math.cos, (x) => neg(sin(x))));
/**
 * Elementwise tangent.
 * @example
 * ```ts
 * import { tan, tensor } from "diffopt";
 * tan(tensor([0])).toArray(); // [0]
 * ```
 */
export const tan = unary(unaryPrimitive("tan", Math.tan, (_x, out) => add(square(out), 1)));
/**
 * Elementwise hyperbolic tangent.
 * @example
 * ```ts
 * import { tanh, tensor } from "diffopt";
 * tanh(tensor([0])).toArray(); // [0]
 * ```
 */
export const tanh = unary(unaryPrimitive("tanh", Math.tanh, (_x, out) => sub(1, square(out)), wasmTanh));
/**
 * Elementwise hyperbolic sine.
 * @example
 * ```ts
 * import { sinh, tensor } from "diffopt";
 * sinh(tensor([0])).toArray(); // [0]
 * ```
 */
export const sinh = unary(unaryPrimitive("sinh", Math.sinh, (x) => cosh(x)));
/**
 * Elementwise hyperbolic cosine.
 * @example
 * ```ts
 * import { cosh, tensor } from "diffopt";
 * cosh(tensor([0])).toArray(); // [1]
 * ```
 */
export const cosh = unary(unaryPrimitive("cosh", Math.cosh, (x) => sinh(x)));
/**
 * Elementwise inverse hyperbolic sine.
 * @example
 * ```ts
 * import { asinh, tensor } from "diffopt";
 * asinh(tensor([0])).toArray(); // [0]
 * ```
 */
export const asinh = unary(unaryPrimitive("asinh", Math.asinh, (x) => reciprocal(sqrt(add(square(x), 1)))));
/**
 * Elementwise inverse tangent.
 * @example
 * ```ts
 * import { arctan, tensor } from "diffopt";
 * arctan(tensor([0])).toArray(); // [0]
 * ```
 */
export const arctan = unary(unaryPrimitive("arctan", Math.atan, (x) => reciprocal(add(square(x), 1))));

/** (1 − x)(1 + x): 1 − x² without the cancellation of forming x² near |x| = 1. */
const oneMinusSquare = (x: Tensor): Tensor => mul(sub(1, x), add(1, x));

/**
 * Elementwise inverse sine, NaN outside [-1, 1]; derivative 1/√(1 − x²) (infinite at ±1).
 * @example
 * ```ts
 * import { arcsin, tensor } from "diffopt";
 * arcsin(tensor([0, 1])).toArray(); // [0, 1.5707963267948966]
 * ```
 */
export const arcsin = unary(unaryPrimitive("arcsin", Math.asin, (x) => reciprocal(sqrt(oneMinusSquare(x)))));
/**
 * Elementwise inverse cosine, NaN outside [-1, 1]; derivative −1/√(1 − x²) (infinite at ±1).
 * @example
 * ```ts
 * import { arccos, tensor } from "diffopt";
 * arccos(tensor([1, -1])).toArray(); // [0, 3.141592653589793]
 * ```
 */
export const arccos = unary(unaryPrimitive("arccos", Math.acos, (x) => neg(reciprocal(sqrt(oneMinusSquare(x))))));
/**
 * Elementwise inverse hyperbolic cosine, NaN below 1; derivative 1/√((x − 1)(x + 1)) (infinite at 1).
 * @example
 * ```ts
 * import { arccosh, tensor } from "diffopt";
 * arccosh(tensor([1])).toArray(); // [0]
 * ```
 */
export const arccosh = unary(unaryPrimitive("arccosh", Math.acosh, (x) => reciprocal(sqrt(mul(sub(x, 1), add(x, 1))))));
/**
 * Elementwise inverse hyperbolic tangent, ±∞ at ±1 and NaN outside [-1, 1]; derivative 1/(1 − x²).
 * @example
 * ```ts
 * import { arctanh, tensor } from "diffopt";
 * arctanh(tensor([0])).toArray(); // [0]
 * ```
 */
export const arctanh = unary(unaryPrimitive("arctanh", Math.atanh, (x) => reciprocal(oneMinusSquare(x))));
/**
 * Elementwise base-2 logarithm.
 * @example
 * ```ts
 * import { log2, tensor } from "diffopt";
 * log2(tensor([1, 8])).toArray(); // [0, 3]
 * ```
 */
export const log2 = unary(unaryPrimitive("log2", Math.log2, (x) => reciprocal(mul(x, Math.LN2))));
/**
 * Elementwise base-10 logarithm.
 * @example
 * ```ts
 * import { log10, tensor } from "diffopt";
 * log10(tensor([1, 1000])).toArray(); // [0, 3]
 * ```
 */
export const log10 = unary(unaryPrimitive("log10", Math.log10, (x) => reciprocal(mul(x, Math.LN10))));
/**
 * Elementwise `2ˣ` (exact at integers).
 * @example
 * ```ts
 * import { exp2, tensor } from "diffopt";
 * exp2(tensor([-1, 10])).toArray(); // [0.5, 1024]
 * ```
 */
export const exp2 = unary(
  unaryPrimitive(
    "exp2",
    (x) => Math.pow(2, x),
    (_x, out) => mul(out, Math.LN2),
  ),
);
/**
 * Elementwise real cube root (negative for negative x); derivative 1/(3∛x²), infinite at 0.
 * @example
 * ```ts
 * import { cbrt, tensor } from "diffopt";
 * cbrt(tensor([-8, 27])).toArray(); // [-2, 3]
 * ```
 */
export const cbrt = unary(unaryPrimitive("cbrt", Math.cbrt, (_x, out) => div(1 / 3, square(out))));
/**
 * Elementwise logistic sigmoid `1 / (1 + e⁻ˣ)`, computed stably.
 * @example
 * ```ts
 * import { sigmoid, tensor } from "diffopt";
 * sigmoid(tensor([0])).toArray(); // [0.5]
 * ```
 */
export const sigmoid = unary(unaryPrimitive("sigmoid", sigmoidKernel, (_x, out) => mul(out, sub(1, out))));
/**
 * Elementwise `log(1 + eˣ)`, computed stably.
 * @example
 * ```ts
 * import { softplus, tensor } from "diffopt";
 * softplus(tensor([0])).item(); // 0.6931…
 * ```
 */
export const softplus = unary(unaryPrimitive("softplus", softplusKernel, (x) => sigmoid(x)));
/**
 * Elementwise `max(x, 0)`; derivative 0 at 0; NaN stays NaN.
 * @example
 * ```ts
 * import { relu, tensor } from "diffopt";
 * relu(tensor([-1, 2])).toArray(); // [0, 2]
 * ```
 */
export const relu = unary(
  unaryPrimitive(
    "relu",
    (x) => (x <= 0 ? 0 : x), // NaN stays NaN
    (x) => greater(x, 0),
  ),
);
/**
 * Elementwise absolute value; derivative `sign(x)` (0 at 0).
 * @example
 * ```ts
 * import { abs, tensor } from "diffopt";
 * abs(tensor([-1, 2])).toArray(); // [1, 2]
 * ```
 */
export const abs = unary(unaryPrimitive("abs", Math.abs, (x) => sign(x)));
/**
 * Elementwise sign (-1, 0 or 1); its derivative is zero.
 * @example
 * ```ts
 * import { sign, tensor } from "diffopt";
 * sign(tensor([-3, 0, 2])).toArray(); // [-1, 0, 1]
 * ```
 */
export const sign = unary(unaryPrimitive("sign", (x) => (x > 0 ? 1 : x < 0 ? -1 : x), null));

// ---------------------------------------------------------------------------------------------------------
// Comparisons (no derivative) and selection

/** @internal A binary elementwise op whose derivative is zero (comparisons, `floorDivide`). */
export function comparison(name: string, f: Kernel2): (a: TensorLike, b: TensorLike) => Tensor {
  const prim: Primitive<undefined> = elementwiseBatch({
    name,
    impl([a, b]) {
      return broadcastKernel(a!, b!, name, f);
    },
    jvp() {
      return null;
    },
    vjp() {
      return [null, null];
    },
  });
  return binary(prim);
}

/**
 * Elementwise `a > b` as 1/0 (no derivative).
 * @example
 * ```ts
 * import { greater, tensor } from "diffopt";
 * greater(tensor([1, 3]), 2).toArray(); // [0, 1]
 * ```
 */
export const greater = comparison("greater", (x, y) => (x > y ? 1 : 0));
/** 1 where `maximum(a, b)` takes a (a ≥ b, or a is NaN). */
const selectsFirstOfMaximum = comparison("maximumSelectsA", (x, y) => (x >= y || x !== x ? 1 : 0));
/** 1 where `minimum(a, b)` takes a (a ≤ b, or a is NaN). */
const selectsFirstOfMinimum = comparison("minimumSelectsA", (x, y) => (x <= y || x !== x ? 1 : 0));

/**
 * Elementwise `a >= b` as 1/0.
 * @example
 * ```ts
 * import { greaterEqual, tensor } from "diffopt";
 * greaterEqual(tensor([2, 3]), 3).toArray(); // [0, 1]
 * ```
 */
export const greaterEqual = comparison("greaterEqual", (x, y) => (x >= y ? 1 : 0));
/**
 * Elementwise `a < b` as 1/0.
 * @example
 * ```ts
 * import { less, tensor } from "diffopt";
 * less(tensor([1, 3]), 2).toArray(); // [1, 0]
 * ```
 */
export const less = comparison("less", (x, y) => (x < y ? 1 : 0));
/**
 * Elementwise `a <= b` as 1/0.
 * @example
 * ```ts
 * import { lessEqual, tensor } from "diffopt";
 * lessEqual(tensor([2, 3]), 2).toArray(); // [1, 0]
 * ```
 */
export const lessEqual = comparison("lessEqual", (x, y) => (x <= y ? 1 : 0));
/**
 * Elementwise `a == b` as 1/0.
 * @example
 * ```ts
 * import { equal, tensor } from "diffopt";
 * equal(tensor([2, 3]), 2).toArray(); // [1, 0]
 * ```
 */
export const equal = comparison("equal", (x, y) => (x === y ? 1 : 0));
/**
 * Elementwise `a != b` as 1/0.
 * @example
 * ```ts
 * import { notEqual, tensor } from "diffopt";
 * notEqual(tensor([2, 3]), 2).toArray(); // [0, 1]
 * ```
 */
export const notEqual = comparison("notEqual", (x, y) => (x !== y ? 1 : 0));

/**
 * Elementwise test for NaN, as 1/0 (no derivative).
 * @example
 * ```ts
 * import { isnan, tensor } from "diffopt";
 * isnan(tensor([1, NaN, Infinity])).toArray(); // [0, 1, 0]
 * ```
 */
export const isnan = unary(unaryPrimitive("isnan", (x) => (x !== x ? 1 : 0), null));
/**
 * Elementwise test for a finite value (neither ±∞ nor NaN), as 1/0 (no derivative).
 * @example
 * ```ts
 * import { isfinite, tensor } from "diffopt";
 * isfinite(tensor([1, NaN, -Infinity])).toArray(); // [1, 0, 0]
 * ```
 */
export const isfinite = unary(unaryPrimitive("isfinite", (x) => (Number.isFinite(x) ? 1 : 0), null));
/**
 * Elementwise test for ±∞, as 1/0 (no derivative).
 * @example
 * ```ts
 * import { isinf, tensor } from "diffopt";
 * isinf(tensor([1, NaN, -Infinity])).toArray(); // [0, 0, 1]
 * ```
 */
export const isinf = unary(unaryPrimitive("isinf", (x) => (x === Infinity || x === -Infinity ? 1 : 0), null));

const wherePrim: Primitive<undefined> = elementwiseBatch({
  name: "where",
  impl([c, a, b]) {
    if (sameShape(c!.shape, a!.shape) && sameShape(a!.shape, b!.shape)) {
      const cd = c!.raw;
      const ad = a!.raw;
      const bd = b!.raw;
      const out = allocFloat64(cd.length);
      for (let i = 0; i < out.length; i++) out[i] = cd[i] !== 0 ? ad[i]! : bd[i]!;
      return new Tensor(out, a!.shape);
    }
    const shape = broadcastShapes(broadcastShapes(c!.shape, a!.shape, "where"), b!.shape, "where");
    const ic = broadcastIndex(c!.shape, shape);
    const ia = broadcastIndex(a!.shape, shape);
    const ib = broadcastIndex(b!.shape, shape);
    const cd = c!.raw;
    const ad = a!.raw;
    const bd = b!.raw;
    const out = allocFloat64(ic.length);
    for (let i = 0; i < out.length; i++) out[i] = cd[ic[i]!] !== 0 ? ad[ia[i]!]! : bd[ib[i]!]!;
    return new Tensor(out, shape);
  },
  jvp([c], [, ta, tb], out) {
    const za = ta === null ? scalar(0) : ta;
    const zb = tb === null ? scalar(0) : tb;
    return where(c!, expand(za, out.shape), expand(zb, out.shape));
  },
  vjp(ct, [c, a, b], _out, _p, needs) {
    return [
      null,
      needs[1] ? sumTo(where(c!, ct, 0), a!.shape) : null,
      needs[2] ? sumTo(where(c!, 0, ct), b!.shape) : null,
    ];
  },
});

/**
 * Elementwise selection: `a` where `condition` is non-zero, else `b` (all three broadcast). The condition
 * gets no derivative.
 * @example
 * ```ts
 * import { where, tensor, greater } from "diffopt";
 * const x = tensor([-1, 2]);
 * where(greater(x, 0), x, 0).toArray(); // [0, 2]
 * ```
 */
export function where(condition: TensorLike, a: TensorLike, b: TensorLike): Tensor {
  return bind(
    wherePrim,
    [asTensorArg(condition, "where", "condition"), asTensorArg(a, "where", "a"), asTensorArg(b, "where", "b")],
    undefined,
  );
}

/**
 * Clips values to [lo, hi] (either bound may be omitted with `undefined`); derivative 1 inside, 0 outside. NaN
 * stays NaN.
 * @example
 * ```ts
 * import { clip, tensor } from "diffopt";
 * clip(tensor([-2, 0.5, 3]), 0, 1).toArray(); // [0, 0.5, 1]
 * ```
 */
export function clip(x: TensorLike, lo?: TensorLike, hi?: TensorLike): Tensor {
  let y = asTensor(x);
  if (lo !== undefined) y = maximum(y, lo);
  if (hi !== undefined) y = minimum(y, hi);
  return y;
}
