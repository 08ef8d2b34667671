/**
 * Function transforms over pytrees: `jvp`, `vjp`, `grad`, `valueAndGrad`, `jacfwd`, `jacrev`, `hessian`, `hvp`,
 * `linearize`, `stopGradient`. They nest in any order (each call takes its own level, see `engine.ts`).
 * @module
 */
import { backwardPass, jvpTracer, lower, makeNode, newLevel, stripDerivatives, vjpTracer } from "./engine.js";
import { allocFloat64 } from "./alloc.js";
import { BatchingError, NonScalarOutputError, TreeMismatchError, ValueError } from "./errors.js";
import { Tensor, describeValue, shapeSize, zerosLike as tensorZerosLike, type Shape } from "./tensor.js";
import { describe, flatten, flattenLike, flattenNamed, unflatten, type Tree, type TreeDef } from "./tree.js";
import { checkFunction, checkOptions } from "./options.js";
import { add } from "./ops/elementwise.js";
import { reshape } from "./ops/shape.js";
import { concatenate, sliceAxis, stack } from "./ops/join.js";
import { vmap } from "./vmap.js";

/**
 * A function of pytrees, as the transforms accept it. Its `any` is a constraint only: an unannotated parameter
 * (`grad((x) => …)`) is then contextually `any`, and the result types below follow the types of the arguments
 * of the call instead (so `grad((x) => sum(x))(tensor([1, 2]))` is a `Tensor`).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type TreeFn = (...args: any[]) => any;

/** True when `T` is `any` (a helper of the result types, which leave `any` as it is). */
export type IsAny<T> = 0 extends 1 & T ? true : false;

/**
 * The pytree type `T` with every leaf a `Tensor`: the type of a gradient, tangent or cotangent of a `T`, and of
 * an output of type `T` once the transforms have run (numbers are scalar leaves, so they become tensors).
 * `{ w: Tensor; b: number[] }` maps to `{ w: Tensor; b: Tensor[] }`; `any` stays `any` and `Tree` stays `Tree`.
 *
 * @example
 * ```ts
 * import { grad, sum, mul, tensor, type Tensor, type TensorTree } from "diffopt";
 * const loss = (p: { w: Tensor; b: number }) => sum(mul(p.w, p.b));
 * const g: TensorTree<{ w: Tensor; b: number }> = grad(loss)({ w: tensor([1, 2]), b: 3 });
 * g.b.item(); // 3
 * ```
 */
export type TensorTree<T> =
  IsAny<T> extends true
    ? T
    : [Tree] extends [T]
      ? Tree
      : T extends Tensor | number
        ? Tensor
        : T extends null | undefined
          ? T
          : T extends readonly unknown[]
            ? { -readonly [K in keyof T]: TensorTree<T[K]> }
            : T extends object
              ? { -readonly [K in keyof T]: TensorTree<T[K]> }
              : never;

/** One `TensorTree` per argument of a list of arguments `A` (the cotangents `vjp` and `hvp` return). */
export type TensorTrees<A extends readonly unknown[]> = { -readonly [K in keyof A]: TensorTree<A[K]> };

/** The `argnums` option of `O` (0 when absent). */
export type ArgnumsOf<O> = O extends { argnums: infer N } ? (N extends number | readonly number[] ? N : 0) : 0;

/**
 * What `grad` returns for arguments `A` and `argnums` `N`: the `TensorTree` of argument `N`, or a tuple of them
 * for an array `N`.
 */
export type GradOf<A extends readonly unknown[], N> = N extends number
  ? TensorTree<A[N]>
  : N extends readonly number[]
    ? { -readonly [K in keyof N]: TensorTree<A[N[K] & number]> }
    : never;

/** The aux output of a function returning `[value, aux]` (a `Tree` when the pair is not a tuple type). */
export type AuxOf<R> = R extends readonly [unknown, infer X] ? TensorTree<X> : Tree;

/** The value `valueAndGrad` reports for an output `R` under options `O`: `[value, aux]` with `hasAux`. */
export type ValueOf<R, O> = O extends { hasAux: true }
  ? [R extends readonly [infer V, unknown] ? TensorTree<V> : Tensor, AuxOf<R>]
  : TensorTree<R>;

/** What `grad(f, opts)` returns for `f` returning `R`, arguments `A` and options `O` (`[gradient, aux]` with `hasAux`). */
export type GradResult<R, A extends readonly unknown[], O> = O extends { hasAux: true }
  ? [GradOf<A, ArgnumsOf<O>>, AuxOf<R>]
  : GradOf<A, ArgnumsOf<O>>;

/**
 * The Jacobian of an output `Out` with respect to inputs `In` (a `TensorTree`, or a tuple of them for an array
 * `argnums`): the structure of `Out` whose leaves are `In`-shaped structures of tensors.
 */
export type JacobianOf<Out, In> =
  IsAny<Out> extends true
    ? Out
    : [Tree] extends [Out]
      ? Tree
      : Out extends Tensor | number
        ? In
        : Out extends null | undefined
          ? Out
          : Out extends readonly unknown[]
            ? { -readonly [K in keyof Out]: JacobianOf<Out[K], In> }
            : Out extends object
              ? { -readonly [K in keyof Out]: JacobianOf<Out[K], In> }
              : never;

/** The differentiated output of `f` returning `R` under options `O`: `R`, or its first entry with `hasAux`. */
export type PrimaryOf<R, O> = O extends { hasAux: true } ? (R extends readonly [infer V, unknown] ? V : Tree) : R;

/**
 * What `jacfwd(f, opts)` and `jacrev(f, opts)` return for arguments `A`: the Jacobian, or `[jacobian, aux]` with
 * `hasAux`.
 */
export type JacobianResult<F extends TreeFn, A extends readonly unknown[], O> = O extends { hasAux: true }
  ? [JacobianOf<PrimaryOf<ReturnType<F>, O>, GradOf<A, ArgnumsOf<O>>>, AuxOf<ReturnType<F>>]
  : JacobianOf<ReturnType<F>, GradOf<A, ArgnumsOf<O>>>;

/**
 * Cuts the derivative: returns the values of `x` (a pytree) as constants for every differentiation transform.
 * Under `vmap` the values stay batched (batching is not differentiation).
 *
 * @example
 * ```ts
 * import { grad, stopGradient, mul, tensor } from "diffopt";
 * grad((x) => mul(x, stopGradient(x)))(tensor(3)).item(); // 3 (not 6)
 * ```
 */
export function stopGradient<T extends Tree>(x: T): T {
  const [leaves, def] = flattenNamed(x, "stopGradient", "x");
  return unflatten<T>(def, leaves.map(stripDerivatives));
}

/**
 * Forward mode: evaluates `f(...primals)` and its directional derivative along `tangents`.
 * `primals` and `tangents` are lists of pytrees of the same structure and shapes.
 *
 * @returns `[out, tangentOut]`, pytrees of the structure of `f`'s output.
 * @example
 * ```ts
 * import { jvp, sin, tensor } from "diffopt";
 * const [y, dy] = jvp(sin, [tensor(0)], [tensor(1)]);
 * console.log(y.item(), dy.item()); // 0 1
 * ```
 */
export function jvp<R, const A extends readonly unknown[] = Parameters<TreeFn>>(
  f: (...args: A) => R,
  primals: A,
  tangents: TangentsOf<A>,
): [TensorTree<R>, TensorTree<R>] {
  return jvpAs(f, primals, tangents, "jvp");
}

/** {@link jvp} on behalf of the public transform `op` (its name in error messages). */
function jvpAs<R, const A extends readonly unknown[]>(
  f: (...args: A) => R,
  primals: A,
  tangents: TangentsOf<A>,
  op: string,
): [TensorTree<R>, TensorTree<R>] {
  checkFunction(f, op, "f");
  if (!Array.isArray(primals) || !Array.isArray(tangents)) {
    throw new TreeMismatchError(`${op}: primals and tangents must be arrays (one entry per argument of f)`);
  }
  const [pl, def] = flattenNamed(primals as Tree, op, "primals");
  const tl = flattenLike(tangents as Tree, def, pl, `${op}: tangents vs primals`);
  const level = newLevel();
  const lifted = pl.map((x, i) => jvpTracer(level, x, tl[i]!));
  const out = f(...(unflatten<Tree[]>(def, lifted) as unknown as A));
  const [ol, odef] = flattenNamed(out as Tree, op, OUTPUT);
  const primalOut = ol.map((o) => lower(o, level));
  const tangentOut = ol.map((o, i) =>
    o.level === level && o.tangent !== null ? o.tangent : tensorZerosLike(primalOut[i]!),
  );
  return [unflatten(odef, primalOut), unflatten(odef, tangentOut)] as [TensorTree<R>, TensorTree<R>];
}

/**
 * Tangents for arguments `A`: each argument's structure, with tensors or numbers as leaves.
 */
export type TangentsOf<A extends readonly unknown[]> = { readonly [K in keyof A]: TreeLike<A[K]> };

/** The pytree type `T` with every leaf a `Tensor` or a number (what the transforms accept for a `T`). */
export type TreeLike<T> =
  IsAny<T> extends true
    ? T
    : [Tree] extends [T]
      ? Tree
      : T extends Tensor | number
        ? Tensor | number
        : T extends null | undefined
          ? T
          : T extends readonly unknown[]
            ? { readonly [K in keyof T]: TreeLike<T[K]> }
            : T extends object
              ? { readonly [K in keyof T]: TreeLike<T[K]> }
              : never;

/** @internal Reverse-mode trace of `f` at the leaf level, shared by `vjp`, `grad` and `jacrev`. */
interface LeafVjp {
  outLeaves: Tensor[];
  outDef: TreeDef;
  aux: Tree;
  /** Cotangents of the input leaves for cotangents of the output leaves (null: zero). */
  pullback(cts: readonly (Tensor | null)[]): Tensor[];
}

function leafVjp(
  f: TreeFn,
  args: readonly Tree[],
  argnums: readonly number[],
  hasAux: boolean,
  op: string,
): LeafVjp & { inLeaves: Tensor[]; inDef: TreeDef } {
  const level = newLevel();
  const diffArgs = argnums.map((i) => args[i]!);
  const [inLeaves, inDef] = flattenNamed(diffArgs as Tree, op, argPaths(argnums));
  const nodes = inLeaves.map(() => makeNode([], [], 1, () => []));
  const lifted = unflatten<Tree[]>(
    inDef,
    inLeaves.map((x, i) => vjpTracer(level, x, nodes[i]!)),
  );
  const callArgs = [...args];
  argnums.forEach((a, i) => (callArgs[a] = lifted[i]!));
  const [out, aux] = splitAux(f(...callArgs), hasAux, op);
  const [outTraced, outDef] = flattenNamed(out, op, OUTPUT);
  const outLeaves = outTraced.map((o) => lower(o, level));
  return {
    inLeaves,
    inDef,
    outLeaves,
    outDef,
    aux,
    pullback(cts) {
      const g = backwardPass(level, outTraced, cts, nodes, add);
      return g.map((x, i) => x ?? tensorZerosLike(inLeaves[i]!));
    },
  };
}

/** The `hasAux` option of transform `op`: a boolean (default false); anything else is a `ValueError`. */
function hasAuxOption(opts: { hasAux?: boolean } | undefined, op: string): boolean {
  const v = opts?.hasAux ?? false;
  if (typeof v !== "boolean") throw new ValueError(`${op}: hasAux must be true or false, got ${describeValue(v)}`);
  return v;
}

/**
 * With `hasAux`, `f`'s result `[output, aux]` split into the output and the aux (its values only: aux is not
 * differentiated); without, the result and `undefined`.
 */
function splitAux(result: unknown, hasAux: boolean, op: string): [Tree, Tree] {
  if (!hasAux) return [result as Tree, undefined];
  if (!Array.isArray(result) || result.length !== 2) {
    throw new ValueError(`${op}: with hasAux, f must return a pair [output, aux], got ${describeValue(result)}`);
  }
  const [auxLeaves, auxDef] = flattenNamed(result[1] as Tree, op, "the aux output of f");
  return [result[0] as Tree, unflatten(auxDef, auxLeaves.map(stripDerivatives))];
}

/** How error messages name the output of the function given to a transform. */
const OUTPUT = "the output of f";

/** How error messages name the differentiated arguments `argnums` of a transform (`"args[1]"`). */
function argPaths(argnums: readonly number[]): string[] {
  return argnums.map((i) => `args[${i}]`);
}

function allArgnums(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/**
 * Reverse mode: evaluates `f(...primals)` and returns a function mapping an output cotangent to the
 * cotangents of every argument (a list, one pytree per argument). The pullback may be called many times.
 *
 * @example
 * ```ts
 * import { vjp, mul, tensor } from "diffopt";
 * const [y, pullback] = vjp((a, b) => mul(a, b), tensor(2), tensor(3));
 * const [ga, gb] = pullback(tensor(1)); // one cotangent per argument, typed as the arguments
 * console.log(y.item(), ga.item(), gb.item()); // 6 3 2
 * ```
 */
export function vjp<R, const A extends readonly unknown[] = Parameters<TreeFn>>(
  f: (...args: A) => R,
  ...primals: A
): [TensorTree<R>, (cotangent: TreeLike<R>) => TensorTrees<A>] {
  checkFunction(f, "vjp", "f");
  const t = leafVjp(f, primals as readonly Tree[], allArgnums(primals.length), false, "vjp");
  const pullback = (ct: TreeLike<R>): TensorTrees<A> => {
    const cl = flattenLike(ct as Tree, t.outDef, t.outLeaves, "vjp: cotangent vs output");
    return unflatten<Tree[]>(t.inDef, t.pullback(cl)) as TensorTrees<A>;
  };
  return [unflatten(t.outDef, t.outLeaves) as TensorTree<R>, pullback];
}

/** Options of {@link grad} and {@link valueAndGrad}. */
export interface GradOptions {
  /** Which argument(s) to differentiate: a number gives one gradient, an array a list. Default 0. */
  argnums?: number | readonly number[];
  /** `f` returns `[value, aux]`; aux is passed through (not differentiated). */
  hasAux?: boolean;
}

const GRAD_OPTION_KEYS = ["argnums", "hasAux"] as const satisfies readonly (keyof GradOptions)[];
const JACOBIAN_OPTION_KEYS = ["argnums", "hasAux"] as const satisfies readonly (keyof JacobianOptions)[];

/**
 * The argument indices to differentiate. A repeated index is rejected rather than answered twice: `[0, 0]` is
 * almost always a typo for `[0, 1]`, and two gradients of the same argument are one `[g, g]` away.
 */
function resolveArgnums(argnums: number | readonly number[] | undefined, nArgs: number, op: string): number[] {
  const list = argnums === undefined ? [0] : typeof argnums === "number" ? [argnums] : [...argnums];
  if (typeof argnums === "object" && argnums !== null && !Array.isArray(argnums)) {
    throw new ValueError(`${op}: argnums must be a number or an array of numbers, got ${typeof argnums}`);
  }
  for (const a of list) {
    if (!Number.isInteger(a) || a < 0 || a >= nArgs) {
      throw new ValueError(`${op}: argnums ${a} is out of range for a call with ${nArgs} argument(s)`);
    }
  }
  const repeated = list.find((a, i) => list.indexOf(a) !== i);
  if (repeated !== undefined) {
    throw new ValueError(
      `${op}: argnums [${list.join(", ")}] names argument ${repeated} twice; list each argument once (and repeat the result's entry if you need it twice)`,
    );
  }
  return list;
}

function scalarLeaf(t: LeafVjp, op: string): Tensor {
  if (t.outLeaves.length !== 1 || t.outLeaves[0]!.size !== 1) {
    const shapes = t.outLeaves.map((o) => `[${o.shape.join(", ")}]`).join(", ");
    const got =
      t.outLeaves.length === 0 ? `no tensor (output structure ${describe(t.outDef)})` : `output shape(s) ${shapes}`;
    throw new NonScalarOutputError(
      `${op}: the function must return a scalar (one element) to be differentiated, got ${got}; use jacrev/jacfwd or vjp for non-scalar outputs`,
    );
  }
  return t.outLeaves[0]!;
}

/**
 * Returns `[value, gradient]` of a scalar function (see {@link grad}); with `hasAux`, `[[value, aux], gradient]`.
 *
 * @example
 * ```ts
 * import { valueAndGrad, sum, square, tensor } from "diffopt";
 * const [v, g] = valueAndGrad((x) => sum(square(x)))(tensor([1, 2]));
 * console.log(v.item(), g.toArray()); // 5 [2, 4]
 * ```
 */
export function valueAndGrad<F extends TreeFn, const O extends GradOptions = object>(
  f: F,
  opts?: O,
): <A extends Parameters<F>>(...args: A) => [ValueOf<ReturnType<F>, O>, GradOf<A, ArgnumsOf<O>>] {
  return valueAndGradAs(f, opts, "valueAndGrad");
}

function valueAndGradAs<F extends TreeFn, O extends GradOptions>(f: F, opts: O | undefined, op: string) {
  checkFunction(f, op, "f");
  checkOptions(op, opts, GRAD_OPTION_KEYS);
  const argnumsOpt = opts?.argnums;
  const hasAux = hasAuxOption(opts, op);
  return <A extends Parameters<F>>(...args: A): [ValueOf<ReturnType<F>, O>, GradOf<A, ArgnumsOf<O>>] => {
    const argnums = resolveArgnums(argnumsOpt, args.length, op);
    const t = leafVjp(f, args, argnums, hasAux, op);
    const y = scalarLeaf(t, op);
    const g = unflatten<Tree[]>(t.inDef, t.pullback([new Tensor(new Float64Array([1]), y.shape)]));
    const gradOut = typeof argnumsOpt === "object" ? g : g[0];
    const value = unflatten(t.outDef, t.outLeaves);
    return [(hasAux ? [value, t.aux] : value) as ValueOf<ReturnType<F>, O>, gradOut as GradOf<A, ArgnumsOf<O>>];
  };
}

/**
 * The gradient of a scalar function of pytrees with respect to argument `argnums` (default 0). With an
 * array `argnums`, a list of gradients; with `hasAux`, `[gradient, aux]`. Each gradient has the structure (and
 * the type, see {@link TensorTree}) of its argument. `argnums` must not repeat an argument (a `ValueError`).
 *
 * @example
 * ```ts
 * import { grad, sum, square, mul, tensor, type Tensor } from "diffopt";
 * grad((x) => sum(square(x)))(tensor([1, 2])).toArray(); // [2, 4]
 * // pytrees: the gradient of w = { a, b } is typed { a: Tensor; b: Tensor[] }
 * const f = (w: { a: Tensor; b: Tensor[] }, x: Tensor) => sum(mul(w.a, x)).add(sum(square(w.b[0]!)));
 * const [gw, gx] = grad(f, { argnums: [0, 1] })({ a: tensor([1, 2]), b: [tensor(3)] }, tensor([5, 6]));
 * gw.b[0]!.item(); // 6
 * gx.toArray(); // [1, 2]
 * ```
 */
export function grad<F extends TreeFn, const O extends GradOptions = object>(
  f: F,
  opts?: O,
): <A extends Parameters<F>>(...args: A) => GradResult<ReturnType<F>, A, O> {
  const vg = valueAndGradAs(f, opts, "grad");
  return <A extends Parameters<F>>(...args: A) => {
    const [v, g] = vg(...args);
    return (opts?.hasAux ? [g, (v as [Tree, Tree])[1]] : g) as GradResult<ReturnType<F>, A, O>;
  };
}

/** Options of {@link jacfwd}, {@link jacrev} and {@link hessian}. */
export interface JacobianOptions {
  /** Which argument(s) to differentiate (default 0); an array gives a list of Jacobians per output leaf. */
  argnums?: number | readonly number[];
  /**
   * `f` returns a pair `[output, aux]`: the Jacobian is that of `output`, and the call returns `[jacobian, aux]`,
   * with aux passed through undifferentiated (JAX's `has_aux`). Default false.
   */
  hasAux?: boolean;
}

/**
 * Assembles Jacobian blocks: `blocks[o][i]` has shape [...out_o.shape, ...in_i.shape]; returns the output
 * structure whose leaves are input structures of blocks.
 */
function assembleJacobian(blocks: Tensor[][], outDef: TreeDef, inDef: TreeDef, multipleArgs: boolean): Tree {
  const perOut = blocks.map((row) => {
    const byArg = unflatten<Tree[]>(inDef, row);
    return multipleArgs ? byArg : byArg[0];
  });
  return unflatten(outDef, perOut as unknown as Tensor[]);
}

/** `n` basis vectors of a flat space of `n` entries restricted to one leaf (entries `off…off+size`), batched on axis 0. */
function basisBatch(shape: Shape, n: number, off: number): Tensor {
  const size = shapeSize(shape);
  const d = allocFloat64(n * size);
  for (let j = 0; j < size; j++) d[(off + j) * size + j] = 1;
  return new Tensor(d, [n, ...shape]);
}

/** Basis vector `k` of a leaf of `shape`. */
function basis(shape: Shape, k: number): Tensor {
  const d = allocFloat64(shapeSize(shape));
  d[k] = 1;
  return new Tensor(d, shape);
}

/**
 * Runs the batched computation of a Jacobian, or the loop of single passes it replaces when a rule on the way
 * cannot be batched yet (it reads plain numbers: a `BatchingError`, e.g. a custom rule that calls a solver). Both
 * give the same Jacobian; the loop only costs more passes.
 */
function batchedElseLoop<T>(batched: () => T, loop: () => T): T {
  try {
    return batched();
  } catch (e) {
    if (e instanceof BatchingError) return loop();
    throw e;
  }
}

/** Per output leaf, its Jacobian as a [outSize, n] matrix over all `n` input entries, and the output structure. */
interface FlatJacobian {
  outDef: TreeDef;
  outShapes: Shape[];
  mats: Tensor[];
}

/** Cuts a [outSize, n] Jacobian into the blocks of the input leaves, each shaped [...outShape, ...inShape]. */
function jacobianBlocks(jac: FlatJacobian, inLeaves: readonly Tensor[]): Tensor[][] {
  return jac.outShapes.map((os, o) => {
    let off = 0;
    return inLeaves.map((leaf) => {
      off += leaf.size;
      return reshape(sliceAxis(jac.mats[o]!, 1, off - leaf.size, off), [...os, ...leaf.shape]);
    });
  });
}

/**
 * The Jacobian by forward mode: one JVP batched (`vmap`) over the basis of the inputs, so every op runs once on
 * all columns; best when inputs are fewer than outputs. With `hasAux`, `f` returns `[output, aux]` and the call
 * `[jacobian, aux]` (see {@link JacobianOptions}).
 * For `f: R^n → R^m` the result has shape [m, n]; in general [...outShape, ...inShape] per leaf pair.
 *
 * @example
 * ```ts
 * import { jacfwd, mul, sum, tensor, type Tensor } from "diffopt";
 * jacfwd((x) => mul(x, x))(tensor([1, 2])).toArray(); // [[2, 0], [0, 4]]
 * // hasAux: f returns [output, aux]; the call returns [jacobian, aux]
 * const [j, aux] = jacfwd((x: Tensor) => [mul(x, x), sum(x)] as const, { hasAux: true })(tensor([1, 2]));
 * aux.item(); // 3
 * ```
 */
export function jacfwd<F extends TreeFn, const O extends JacobianOptions = object>(
  f: F,
  opts?: O,
): <A extends Parameters<F>>(...args: A) => JacobianResult<F, A, O> {
  return jacfwdAs(f, opts, "jacfwd");
}

function jacfwdAs<F extends TreeFn, O extends JacobianOptions>(f: F, opts: O | undefined, op: string) {
  checkFunction(f, op, "f");
  checkOptions(op, opts, JACOBIAN_OPTION_KEYS);
  const argnumsOpt = opts?.argnums;
  const hasAux = hasAuxOption(opts, op);
  return <A extends Parameters<F>>(...args: A): JacobianResult<F, A, O> => {
    const argnums = resolveArgnums(argnumsOpt, args.length, op);
    const diffArgs = argnums.map((i) => args[i]! as Tree);
    const [inLeaves, inDef] = flattenNamed(diffArgs as Tree, op, argPaths(argnums));
    // The aux of the last evaluation: it depends on the primals only, so every evaluation gives the same values.
    let aux: Tree = undefined;
    const g = (...d: Tree[]): Tree => {
      const callArgs: unknown[] = [...args];
      argnums.forEach((a, i) => (callArgs[a] = d[i]!));
      const [out, x] = splitAux(f(...callArgs), hasAux, op);
      aux = x;
      return out;
    };
    const primals = unflatten<Tree[]>(inDef, inLeaves);
    const n = inLeaves.reduce((acc, l) => acc + l.size, 0);
    let outDef: TreeDef | null = null;
    let outShapes: Shape[] = [];
    // Tangent-out leaves for input tangents `ts` (a batch of columns under vmap, one column in the loop).
    const push = (...ts: Tensor[]): Tensor[] => {
      const [out, tout] = jvpAs(g, primals, unflatten<Tree[]>(inDef, ts), op);
      const [ol, od] = flatten(out);
      outDef = od;
      outShapes = ol.map((o) => o.shape);
      return flatten(tout)[0];
    };
    const flat = (cols: Tensor[]): Tensor[] => cols.map((c) => reshape(c, [c.size / n, n]));
    const batched = () => {
      let off = 0;
      const basisLeaves = inLeaves.map((l) => basisBatch(l.shape, n, (off += l.size) - l.size));
      return flat(vmap(push, { outAxes: -1 })(...basisLeaves));
    };
    const loop = () => {
      const columns: Tensor[][] = [];
      inLeaves.forEach((leaf, li) => {
        for (let k = 0; k < leaf.size; k++) {
          columns.push(push(...inLeaves.map((l, j) => (j === li ? basis(l.shape, k) : tensorZerosLike(l)))));
        }
      });
      return columns[0]!.map((_, o) =>
        stack(
          columns.map((c) => reshape(c[o]!, [c[o]!.size])),
          -1,
        ),
      );
    };
    let mats: Tensor[];
    if (n === 0) {
      const [ol, od] = flattenNamed(g(...diffArgs), op, OUTPUT);
      outDef = od;
      outShapes = ol.map((o) => o.shape);
      mats = ol.map((o) => new Tensor(new Float64Array(0), [o.size, 0]));
    } else {
      mats = batchedElseLoop(batched, loop);
    }
    const blocks = jacobianBlocks({ outDef: outDef!, outShapes, mats }, inLeaves);
    const jac = assembleJacobian(blocks, outDef!, inDef, typeof argnumsOpt === "object");
    return (hasAux ? [jac, aux] : jac) as JacobianResult<F, A, O>;
  };
}

/**
 * The Jacobian by reverse mode: one forward pass, then the pullback batched (`vmap`) over the basis of the
 * outputs, so every op of the backward pass runs once on all rows; best when outputs are fewer than inputs. Same
 * layout as {@link jacfwd}.
 *
 * @example
 * ```ts
 * import { jacrev, mul, sum, tensor, type Tensor } from "diffopt";
 * jacrev((x) => mul(x, x))(tensor([1, 2])).toArray(); // [[2, 0], [0, 4]]
 * // hasAux (as for grad): f returns [output, aux]; the call returns [jacobian, aux]
 * const [j, aux] = jacrev((x: Tensor) => [mul(x, x), sum(x)] as const, { hasAux: true })(tensor([1, 2]));
 * j.toArray(); // [[2, 0], [0, 4]]
 * ```
 */
export function jacrev<F extends TreeFn, const O extends JacobianOptions = object>(
  f: F,
  opts?: O,
): <A extends Parameters<F>>(...args: A) => JacobianResult<F, A, O> {
  return jacrevAs(f, opts, "jacrev");
}

function jacrevAs<F extends TreeFn, O extends JacobianOptions>(f: F, opts: O | undefined, op: string) {
  checkFunction(f, op, "f");
  checkOptions(op, opts, JACOBIAN_OPTION_KEYS);
  const argnumsOpt = opts?.argnums;
  const hasAux = hasAuxOption(opts, op);
  return <A extends Parameters<F>>(...args: A): JacobianResult<F, A, O> => {
    const argnums = resolveArgnums(argnumsOpt, args.length, op);
    const t = leafVjp(f, args, argnums, hasAux, op);
    const n = t.inLeaves.reduce((acc, l) => acc + l.size, 0);
    // Input cotangents, raveled and concatenated, for the cotangent `ct` of output leaf `oi`.
    const pull = (oi: number, ct: Tensor): Tensor => {
      const g = t.pullback(t.outLeaves.map((_, j) => (j === oi ? ct : null)));
      return g.length === 1 ? reshape(g[0]!, [n]) : concatenate(g.map((gi) => reshape(gi, [gi.size])));
    };
    const mats = t.outLeaves.map((o, oi) => {
      if (o.size === 0 || n === 0) return new Tensor(new Float64Array(0), [o.size, n]);
      return batchedElseLoop(
        () => vmap((ct: Tensor) => pull(oi, ct))(basisBatch(o.shape, o.size, 0)),
        () => stack(Array.from({ length: o.size }, (_, k) => pull(oi, basis(o.shape, k)))),
      );
    });
    const blocks = jacobianBlocks({ outDef: t.outDef, outShapes: t.outLeaves.map((o) => o.shape), mats }, t.inLeaves);
    const jac = assembleJacobian(blocks, t.outDef, t.inDef, typeof argnumsOpt === "object");
    return (hasAux ? [jac, t.aux] : jac) as JacobianResult<F, A, O>;
  };
}

/**
 * The Hessian of a scalar function, as forward-over-reverse (`jacfwd(jacrev(f))`); with `hasAux`, `[hessian, aux]`.
 *
 * @example
 * ```ts
 * import { hessian, sum, pow, tensor } from "diffopt";
 * hessian((x) => sum(pow(x, 3)))(tensor([1, 2])).toArray(); // [[6, 0], [0, 12]]
 * ```
 */
export function hessian<F extends TreeFn, const O extends JacobianOptions = object>(
  f: F,
  opts?: O,
): <A extends Parameters<F>>(...args: A) => HessianResult<A, O, ReturnType<F>> {
  return jacfwdAs(jacrevAs(f, opts, "hessian"), opts, "hessian") as <A extends Parameters<F>>(
    ...args: A
  ) => HessianResult<A, O, ReturnType<F>>;
}

/**
 * What `hessian(f, opts)` returns for arguments `A`: the Jacobian of the gradient, i.e. for one argument of type
 * `T` the structure of `T` whose leaves are `T`-shaped structures of blocks; with `hasAux`, `[hessian, aux]` for
 * `f` returning `R = [value, aux]`.
 */
export type HessianResult<A extends readonly unknown[], O, R = unknown> = O extends { hasAux: true }
  ? [JacobianOf<GradOf<A, ArgnumsOf<O>>, GradOf<A, ArgnumsOf<O>>>, AuxOf<R>]
  : JacobianOf<GradOf<A, ArgnumsOf<O>>, GradOf<A, ArgnumsOf<O>>>;

/**
 * Hessian-vector product of a scalar function by forward-over-reverse: ∇²f(primals) · tangents, without
 * forming the Hessian. Returns a list (one pytree per argument).
 *
 * @example
 * ```ts
 * import { hvp, sum, pow, tensor } from "diffopt";
 * const [h] = hvp((x) => sum(pow(x, 3)), [tensor([1, 2])], [tensor([1, 0])]);
 * h.toArray(); // [6, 0]
 * ```
 */
export function hvp<const A extends readonly unknown[]>(
  f: (...args: A) => unknown,
  primals: A,
  tangents: TangentsOf<A>,
): TensorTrees<A> {
  checkFunction(f, "hvp", "f");
  const g = (...xs: Tree[]) => valueAndGradAs(f as TreeFn, { argnums: allArgnums(xs.length) }, "hvp")(...xs)[1];
  return jvp(g, [...(primals as readonly Tree[])], tangents as readonly Tree[])[1] as TensorTrees<A>;
}

/**
 * Evaluates `f(...primals)` and returns a function computing JVPs at that point. Each call of the returned
 * function runs one forward-mode pass of `f`.
 *
 * @example
 * ```ts
 * import { linearize, exp, tensor } from "diffopt";
 * const [y, df] = linearize(exp, tensor(0));
 * df(tensor(2)).item(); // 2
 * ```
 */
export function linearize<R, const A extends readonly unknown[] = Parameters<TreeFn>>(
  f: (...args: A) => R,
  ...primals: A
): [TensorTree<R>, (...tangents: TangentsOf<A>) => TensorTree<R>] {
  checkFunction(f, "linearize", "f");
  // flatten/unflatten turns number leaves into tensors (as the other transforms return them), keeping derivatives.
  const [leaves, def] = flattenNamed(f(...primals) as Tree, "linearize", OUTPUT);
  return [unflatten(def, leaves) as TensorTree<R>, (...tangents: TangentsOf<A>) => jvp(f, primals, tangents)[1]];
}
