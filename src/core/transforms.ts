/**
 * Function transforms over pytrees: `jvp`, `vjp`, `grad`, `valueAndGrad`, `jacfwd`, `jacrev`, `hessian`, `hvp`,
 * `linearize`, `stopGradient`. They nest in any order (each call takes its own level, see `engine.ts`).
 * @module
 */
import { backwardPass, jvpTracer, lower, makeNode, newLevel, vjpTracer } from "./engine.js";
import { allocFloat64 } from "./alloc.js";
import { NonScalarOutputError, TreeMismatchError, ValueError } from "./errors.js";
import { Tensor, zerosLike as tensorZerosLike, type Shape } from "./tensor.js";
import { flatten, flattenLike, unflatten, type Tree, type TreeDef } from "./tree.js";
import { add } from "./ops/elementwise.js";
import { reshape } from "./ops/shape.js";
import { stack } from "./ops/join.js";

/** A function of pytrees, as the transforms accept it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type TreeFn = (...args: any[]) => any;

/** @internal Concrete copy of `x` detached from every transform. */
function detach(x: Tensor): Tensor {
  return x.level === 0 ? x : new Tensor(x.data, x.shape);
}

/**
 * Cuts the derivative: returns the values of `x` (a pytree) as constants for every transform.
 *
 * @example
 * ```ts
 * import { grad, stopGradient, mul, tensor } from "diffopt";
 * grad((x) => mul(x, stopGradient(x)))(tensor(3)).item(); // 3 (not 6)
 * ```
 */
export function stopGradient<T extends Tree>(x: T): T {
  const [leaves, def] = flatten(x);
  return unflatten<T>(def, leaves.map(detach));
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
export function jvp<R extends Tree = Tensor>(f: TreeFn, primals: readonly Tree[], tangents: readonly Tree[]): [R, R] {
  if (!Array.isArray(primals) || !Array.isArray(tangents)) {
    throw new TreeMismatchError("jvp: primals and tangents must be arrays (one entry per argument of f)");
  }
  const [pl, def] = flatten(primals as Tree);
  const tl = flattenLike(tangents as Tree, def, pl, "jvp: tangents vs primals");
  const level = newLevel();
  const lifted = pl.map((x, i) => jvpTracer(level, x, tl[i]!));
  const out = f(...unflatten<Tree[]>(def, lifted));
  const [ol, odef] = flatten(out);
  const primalOut = ol.map((o) => lower(o, level));
  const tangentOut = ol.map((o, i) =>
    o.level === level && o.tangent !== null ? o.tangent : tensorZerosLike(primalOut[i]!),
  );
  return [unflatten<R>(odef, primalOut), unflatten<R>(odef, tangentOut)];
}

/** @internal Reverse-mode trace of `f` at the leaf level, shared by `vjp`, `grad` and `jacrev`. */
interface LeafVjp {
  outLeaves: Tensor[];
  outDef: TreeDef;
  aux: Tree;
  /** Cotangents of the input leaves for cotangents of the output leaves (null: zero). */
  pullback(cts: readonly (Tensor | null)[]): Tensor[];
}

function leafVjp(
  f: (...args: Tree[]) => Tree,
  args: readonly Tree[],
  argnums: readonly number[],
  hasAux: boolean,
): LeafVjp & { inLeaves: Tensor[]; inDef: TreeDef } {
  const level = newLevel();
  const diffArgs = argnums.map((i) => args[i]!);
  const [inLeaves, inDef] = flatten(diffArgs as Tree);
  const nodes = inLeaves.map(() => makeNode([], [], 1, () => []));
  const lifted = unflatten<Tree[]>(
    inDef,
    inLeaves.map((x, i) => vjpTracer(level, x, nodes[i]!)),
  );
  const callArgs = [...args];
  argnums.forEach((a, i) => (callArgs[a] = lifted[i]!));
  let out = f(...callArgs);
  let aux: Tree = undefined;
  if (hasAux) {
    if (!Array.isArray(out) || out.length !== 2) {
      throw new ValueError("hasAux: the function must return a pair [output, aux]");
    }
    aux = stopGradient(out[1] as Tree);
    out = out[0] as Tree;
  }
  const [outTraced, outDef] = flatten(out);
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

function allArgnums(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/**
 * Reverse mode: evaluates `f(...primals)` and returns a function mapping an output cotangent to the
 * cotangents of every argument (a list, one pytree per argument). The pullback may be called many times.
 *
 * @example
 * ```ts
 * import { vjp, mul, tensor, type Tensor } from "diffopt";
 * const [y, pullback] = vjp((a, b) => mul(a, b), tensor(2), tensor(3));
 * const [ga, gb] = pullback(tensor(1)) as Tensor[];
 * console.log(y.item(), ga.item(), gb.item()); // 6 3 2
 * ```
 */
export function vjp<R extends Tree = Tensor>(f: TreeFn, ...primals: Tree[]): [R, (cotangent: R) => Tree[]] {
  const t = leafVjp(f, primals, allArgnums(primals.length), false);
  const pullback = (ct: R): Tree[] => {
    const cl = flattenLike(ct, t.outDef, t.outLeaves, "vjp: cotangent vs output");
    return unflatten<Tree[]>(t.inDef, t.pullback(cl));
  };
  return [unflatten<R>(t.outDef, t.outLeaves), pullback];
}

/** Options of {@link grad} and {@link valueAndGrad}. */
export interface GradOptions {
  /** Which argument(s) to differentiate: a number gives one gradient, an array a list. Default 0. */
  argnums?: number | readonly number[];
  /** `f` returns `[value, aux]`; aux is passed through (not differentiated). */
  hasAux?: boolean;
}

function resolveArgnums(argnums: number | readonly number[] | undefined, nArgs: number, op: string): number[] {
  const list = argnums === undefined ? [0] : typeof argnums === "number" ? [argnums] : [...argnums];
  for (const a of list) {
    if (!Number.isInteger(a) || a < 0 || a >= nArgs) {
      throw new ValueError(`${op}: argnums ${a} is out of range for a call with ${nArgs} argument(s)`);
    }
  }
  return list;
}

function scalarLeaf(t: LeafVjp, op: string): Tensor {
  if (t.outLeaves.length !== 1 || t.outLeaves[0]!.size !== 1) {
    const shapes = t.outLeaves.map((o) => `[${o.shape.join(", ")}]`).join(", ");
    throw new NonScalarOutputError(
      `${op}: the function must return a scalar (one element) to be differentiated, got output shape(s) ${shapes}; use jacrev/jacfwd or vjp for non-scalar outputs`,
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
export function valueAndGrad(f: TreeFn, opts: GradOptions = {}): (...args: Tree[]) => [any, any] {
  return (...args: Tree[]) => {
    const argnums = resolveArgnums(opts.argnums, args.length, "grad");
    const t = leafVjp(f, args, argnums, opts.hasAux ?? false);
    const y = scalarLeaf(t, "grad");
    const g = unflatten<Tree[]>(t.inDef, t.pullback([new Tensor(new Float64Array([1]), y.shape)]));
    const gradOut = typeof opts.argnums === "object" ? g : g[0];
    const value = unflatten(t.outDef, t.outLeaves);
    return [opts.hasAux ? [value, t.aux] : value, gradOut];
  };
}

/**
 * The gradient of a scalar function of pytrees with respect to argument `argnums` (default 0). With an
 * array `argnums`, a list of gradients; with `hasAux`, `[gradient, aux]`.
 *
 * @example
 * ```ts
 * import { grad, sum, square, tensor } from "diffopt";
 * grad((x) => sum(square(x)))(tensor([1, 2])).toArray(); // [2, 4]
 * ```
 */
export function grad(f: TreeFn, opts: GradOptions = {}): (...args: Tree[]) => any {
  const vg = valueAndGrad(f, opts);
  return (...args: Tree[]) => {
    const [v, g] = vg(...args);
    return opts.hasAux ? [g, (v as [Tree, Tree])[1]] : g;
  };
}

/** Options of {@link jacfwd} and {@link jacrev}. */
export interface JacobianOptions {
  /** Which argument(s) to differentiate (default 0); an array gives a list of Jacobians per output leaf. */
  argnums?: number | readonly number[];
}

/**
 * Assembles Jacobian blocks: `blocks[o][i]` has shape [...out_o.shape, ...in_i.shape]; returns the output
 * structure whose leaves are input structures of blocks.
 */
function assembleJacobian(blocks: Tensor[][], outDef: TreeDef, inDef: TreeDef, multipleArgs: boolean): any {
  const perOut = blocks.map((row) => {
    const byArg = unflatten<Tree[]>(inDef, row);
    return multipleArgs ? byArg : byArg[0];
  });
  return unflatten(outDef, perOut as unknown as Tensor[]);
}

function basis(shape: Shape, size: number, k: number): Tensor {
  const d = allocFloat64(size);
  d[k] = 1;
  return new Tensor(d, shape);
}

/**
 * The Jacobian by forward mode (one JVP per input element): best when inputs are fewer than outputs.
 * For `f: R^n → R^m` the result has shape [m, n]; in general [...outShape, ...inShape] per leaf pair.
 *
 * @example
 * ```ts
 * import { jacfwd, mul, tensor } from "diffopt";
 * jacfwd((x) => mul(x, x))(tensor([1, 2])).toArray(); // [[2, 0], [0, 4]]
 * ```
 */
export function jacfwd(f: TreeFn, opts: JacobianOptions = {}): (...args: Tree[]) => any {
  return (...args: Tree[]) => {
    const argnums = resolveArgnums(opts.argnums, args.length, "jacfwd");
    const diffArgs = argnums.map((i) => args[i]!);
    const [inLeaves, inDef] = flatten(diffArgs as Tree);
    const g = (...d: Tree[]): Tree => {
      const callArgs = [...args];
      argnums.forEach((a, i) => (callArgs[a] = d[i]!));
      return f(...callArgs);
    };
    // columns[inLeaf][element] = tangent-out leaves
    let outDef: TreeDef | null = null;
    let outShapes: Shape[] = [];
    const columns: Tensor[][][] = inLeaves.map((leaf, li) => {
      const cols: Tensor[][] = [];
      for (let k = 0; k < leaf.size; k++) {
        const tangents = inLeaves.map((l, j) => (j === li ? basis(l.shape, l.size, k) : tensorZerosLike(l)));
        const [out, tout] = jvp<Tree>(g, unflatten<Tree[]>(inDef, inLeaves), unflatten<Tree[]>(inDef, tangents));
        const [ol, od] = flatten(out);
        outDef = od;
        outShapes = ol.map((o) => o.shape);
        cols.push(flatten(tout)[0]);
      }
      return cols;
    });
    if (outDef === null) {
      const out = g(...diffArgs);
      const [ol, od] = flatten(out);
      outDef = od;
      outShapes = ol.map((o) => o.shape);
    }
    const blocks = outShapes.map((os, o) =>
      inLeaves.map((leaf, li) => {
        const cols = columns[li]!.map((c) => reshape(c[o]!, [c[o]!.size]));
        const mat = cols.length === 0 ? new Tensor(new Float64Array(0), [sizeOf(os), 0]) : stack(cols, -1);
        return reshape(mat, [...os, ...leaf.shape]);
      }),
    );
    return assembleJacobian(blocks, outDef, inDef, typeof opts.argnums === "object");
  };
}

function sizeOf(s: Shape): number {
  return s.reduce((a, b) => a * b, 1);
}

/**
 * The Jacobian by reverse mode (one VJP per output element, one forward pass): best when outputs are fewer
 * than inputs. Same layout as {@link jacfwd}.
 *
 * @example
 * ```ts
 * import { jacrev, mul, tensor } from "diffopt";
 * jacrev((x) => mul(x, x))(tensor([1, 2])).toArray(); // [[2, 0], [0, 4]]
 * ```
 */
export function jacrev(f: TreeFn, opts: JacobianOptions = {}): (...args: Tree[]) => any {
  return (...args: Tree[]) => {
    const argnums = resolveArgnums(opts.argnums, args.length, "jacrev");
    const t = leafVjp(f, args, argnums, false);
    const blocks = t.outLeaves.map((o, oi) => {
      const rows: Tensor[][] = t.inLeaves.map(() => []);
      for (let k = 0; k < o.size; k++) {
        const cts = t.outLeaves.map((_, j) => (j === oi ? basis(o.shape, o.size, k) : null));
        const g = t.pullback(cts);
        g.forEach((gi, li) => rows[li]!.push(reshape(gi, [gi.size])));
      }
      return t.inLeaves.map((leaf, li) => {
        const mat = rows[li]!.length === 0 ? new Tensor(new Float64Array(0), [0, leaf.size]) : stack(rows[li]!, 0);
        return reshape(mat, [...o.shape, ...leaf.shape]);
      });
    });
    return assembleJacobian(blocks, t.outDef, t.inDef, typeof opts.argnums === "object");
  };
}

/**
 * The Hessian of a scalar function, as forward-over-reverse (`jacfwd(jacrev(f))`).
 *
 * @example
 * ```ts
 * import { hessian, sum, pow, tensor } from "diffopt";
 * hessian((x) => sum(pow(x, 3)))(tensor([1, 2])).toArray(); // [[6, 0], [0, 12]]
 * ```
 */
export function hessian(f: TreeFn, opts: JacobianOptions = {}): (...args: Tree[]) => any {
  return jacfwd(jacrev(f, opts), opts);
}

/**
 * Hessian-vector product of a scalar function by forward-over-reverse: ∇²f(primals) · tangents, without
 * forming the Hessian. Returns a list (one pytree per argument).
 *
 * @example
 * ```ts
 * import { hvp, sum, pow, tensor, type Tensor } from "diffopt";
 * const [h] = hvp((x) => sum(pow(x, 3)), [tensor([1, 2])], [tensor([1, 0])]) as Tensor[];
 * h.toArray(); // [6, 0]
 * ```
 */
export function hvp(f: TreeFn, primals: readonly Tree[], tangents: readonly Tree[]): Tree[] {
  const g = (...xs: Tree[]) => grad(f, { argnums: allArgnums(xs.length) })(...xs);
  return jvp<Tree[]>(g, primals, tangents)[1];
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
export function linearize<R extends Tree = Tensor>(f: TreeFn, ...primals: Tree[]): [R, (...tangents: Tree[]) => R] {
  const out = f(...primals) as R;
  return [out, (...tangents: Tree[]) => jvp<R>(f, primals, tangents)[1]];
}
