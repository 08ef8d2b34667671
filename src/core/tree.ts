/**
 * Pytrees: nested arrays and plain objects whose leaves are tensors. Every transform takes and returns them,
 * so parameters can be structured (`{ w, b }`, `[layer1, layer2]`) instead of flattened by hand.
 *
 * Leaves are `Tensor`s (numbers are accepted as scalar leaves); arrays and plain objects are nodes; `null` and
 * `undefined` are empty nodes. Object keys keep their insertion order.
 *
 * @module
 */
import { TreeMismatchError, ValueError } from "./errors.js";
import { Tensor, asTensor, describeValue, zerosLike as tensorZerosLike } from "./tensor.js";
import { add as addOp, mul as mulOp, sub as subOp } from "./ops/elementwise.js";
import { sum } from "./ops/reduce.js";
import { vdot as vdotOp } from "./ops/matmul.js";
import { sqrt } from "./ops/elementwise.js";

/** A pytree of tensors. */
export type Tree = Tensor | number | null | undefined | readonly Tree[] | { readonly [key: string]: Tree };

/** The structure of a pytree, without its leaves. */
export type TreeDef =
  | { readonly kind: "leaf" }
  | { readonly kind: "none"; readonly value: null | undefined }
  | { readonly kind: "array"; readonly children: readonly TreeDef[] }
  | { readonly kind: "object"; readonly keys: readonly string[]; readonly children: readonly TreeDef[] };

/**
 * The structure of every leaf: one shared, frozen object (a tree's structure is never mutated), since flattening
 * is on every derivative's path and a fresh object per leaf was the largest allocation of a small implicit layer's
 * backward pass after the ops' own.
 */
const LEAF: TreeDef = Object.freeze({ kind: "leaf" });

/** @internal A plain object (an object literal, or one without a prototype): a pytree node. */
export function isPlainObject(x: unknown): x is Record<string, Tree> {
  if (x === null || typeof x !== "object") return false;
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

/**
 * Splits a pytree into its leaves (depth-first, left to right) and its structure.
 *
 * @example
 * ```ts
 * import { tree, tensor } from "diffopt";
 * const [leaves, def] = tree.flatten({ w: tensor([1, 2]), b: tensor(0) });
 * console.log(leaves.length); // 2
 * ```
 */
export function flatten(t: Tree): [Tensor[], TreeDef] {
  return flattenNamed(t, "tree.flatten", "the pytree");
}

/**
 * @internal {@link flatten} on behalf of the public function `who`, for which `t` is `root` (`"x"`, `"primals"`,
 * `"the output of f"`), or, when `t` is a list, whose entries are `root[i]` (a transform's arguments: `"args[1]"`).
 * A node that is not a pytree is a `TreeMismatchError` naming `who`, the node's path and what the node is.
 */
export function flattenNamed(t: Tree, who: string, root: string | readonly string[]): [Tensor[], TreeDef] {
  // A bare tensor, the commonest pytree of all: no walk.
  if (t instanceof Tensor) return [[t], LEAF];
  const leaves: Tensor[] = [];
  // The nodes from the root to the current one. Searched for a cycle only past a depth no sensible pytree reaches,
  // so that a cyclic structure is a typed error rather than a stack overflow, at no cost for ordinary trees.
  const ancestors: object[] = [];
  try {
    return [leaves, flattenNode(t, leaves, ancestors)];
  } catch (e) {
    if (!(e instanceof UnsupportedNode)) throw e;
    const path = nodePath(e.ancestors, e.node, root);
    const remedy = ArrayBuffer.isView(e.node)
      ? "wrap it with tensor(...)"
      : "pytrees hold tensors and numbers, in arrays and plain objects (null and undefined are empty nodes)";
    throw new TreeMismatchError(`${who}: ${path} is ${describeValue(e.node)}, not a tensor or a pytree; ${remedy}`);
  }
}

/**
 * What {@link flattenNode} throws at a node that is not a pytree, with the ancestors' chain (the path is worked
 * out from it only then, so that flattening a valid tree pays nothing for the message).
 */
class UnsupportedNode {
  constructor(
    readonly node: unknown,
    readonly ancestors: readonly object[],
  ) {}
}

/**
 * The path of `node` below the chain `ancestors` (root first), as `root.key[i]`. The walk stops at the first
 * unsupported node in order, so the first child equal to the next node on the chain is the one it went through.
 */
function nodePath(ancestors: readonly object[], node: unknown, root: string | readonly string[]): string {
  const chain: unknown[] = [...ancestors, node];
  let path = "";
  for (let i = 0; i + 1 < chain.length; i++) {
    const parent = chain[i] as Record<string, unknown>;
    const child = chain[i + 1];
    if (Array.isArray(parent)) {
      const j = parent.indexOf(child);
      path += i === 0 && typeof root !== "string" ? (root[j] ?? `[${j}]`) : `[${j}]`;
    } else {
      const key = Object.keys(parent).find((k) => parent[k] === child)!;
      path += /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
    }
  }
  if (typeof root !== "string") return path;
  // "x.a[1]", but "the output of f at .b[0]" for a root that is a description rather than a name
  return path === "" ? root : /\s/.test(root) ? `${root} at ${path}` : root + path;
}

/**
 * The structure of `node`, pushing its leaves onto `leaves`; `ancestors` holds the nodes from the root down to
 * it. At module level rather than a closure inside {@link flatten}: under `tsx`, every closure created with a
 * name pays a runtime naming call, which a tiny layer's hot path repeats many times.
 */
function flattenNode(node: Tree, leaves: Tensor[], ancestors: object[]): TreeDef {
  if (node instanceof Tensor || typeof node === "number") {
    leaves.push(asTensor(node));
    return LEAF;
  }
  if (node === null || node === undefined) return { kind: "none", value: node };
  const isArray = Array.isArray(node);
  if (!isArray && !isPlainObject(node)) throw new UnsupportedNode(node, ancestors.slice());
  if (ancestors.length >= CYCLE_CHECK_DEPTH && ancestors.includes(node)) {
    throw new ValueError(
      "tree.flatten: the pytree is cyclic (an array or object contains itself); pytrees must be finite trees",
    );
  }
  ancestors.push(node);
  const children: TreeDef[] = [];
  let def: TreeDef;
  if (isArray) {
    for (const child of node as readonly Tree[]) children.push(flattenNode(child, leaves, ancestors));
    def = { kind: "array", children };
  } else {
    const obj = node as Record<string, Tree>;
    const keys = Object.keys(obj);
    for (const k of keys) children.push(flattenNode(obj[k], leaves, ancestors));
    def = { kind: "object", keys, children };
  }
  ancestors.pop();
  return def;
}

/** Depth from which {@link flatten} looks for cycles (deeper trees are checked node by node, quadratically). */
const CYCLE_CHECK_DEPTH = 64;

/**
 * Rebuilds a pytree from its structure and leaves (the inverse of {@link flatten}).
 *
 * @example
 * ```ts
 * import { tree, tensor } from "diffopt";
 * const [leaves, def] = tree.flatten([tensor(1), tensor(2)]);
 * tree.unflatten(def, leaves.reverse()); // [tensor(2), tensor(1)]
 * ```
 */
export function unflatten<T extends Tree = Tree>(def: TreeDef, leaves: readonly Tensor[]): T {
  const cursor = { next: 0 };
  const out = buildNode(def, leaves, cursor);
  if (cursor.next !== leaves.length)
    throw new TreeMismatchError(`tree.unflatten: ${leaves.length} leaves for a structure of ${cursor.next}`);
  return out as T;
}

/**
 * The pytree of structure `d` on `leaves` from index `cursor.next` on, which it advances past the leaves used.
 * At module level for the reason given at {@link flattenNode}.
 */
function buildNode(d: TreeDef, leaves: readonly Tensor[], cursor: { next: number }): Tree {
  switch (d.kind) {
    case "leaf":
      if (cursor.next >= leaves.length)
        throw new TreeMismatchError(`tree.unflatten: too few leaves (${leaves.length})`);
      return leaves[cursor.next++]!;
    case "none":
      return d.value;
    case "array": {
      const out: Tree[] = [];
      for (const child of d.children) out.push(buildNode(child, leaves, cursor));
      return out;
    }
    case "object": {
      const out: Record<string, Tree> = {};
      for (let j = 0; j < d.keys.length; j++) out[d.keys[j]!] = buildNode(d.children[j]!, leaves, cursor);
      return out;
    }
  }
}

/**
 * A readable description of a structure, for error messages: `*` marks a leaf.
 * @example
 * ```ts
 * import { tree, tensor } from "diffopt";
 * tree.describe(tree.flatten({ w: tensor([1, 2]), b: [tensor(0), null] })[1]); // "{w: *, b: [*, null]}"
 * ```
 */
export function describe(def: TreeDef): string {
  switch (def.kind) {
    case "leaf":
      return "*";
    case "none":
      return String(def.value);
    case "array":
      return `[${def.children.map(describe).join(", ")}]`;
    case "object":
      return `{${def.keys.map((k, j) => `${k}: ${describe(def.children[j]!)}`).join(", ")}}`;
  }
}

/**
 * True when two structures are equal (leaf shapes are not compared).
 * @example
 * ```ts
 * import { tree, tensor } from "diffopt";
 * const structure = (t: tree.Tree) => tree.flatten(t)[1];
 * tree.sameStructure(structure([tensor(1), tensor(2)]), structure([tensor([3, 4]), tensor(5)])); // true
 * tree.sameStructure(structure([tensor(1)]), structure({ a: tensor(1) })); // false
 * ```
 */
export function sameStructure(a: TreeDef, b: TreeDef): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === "leaf") return true;
  if (a.kind === "none") return true;
  const bc = (b as { children: readonly TreeDef[] }).children;
  if (a.children.length !== bc.length) return false;
  if (a.kind === "object") {
    const bk = (b as { keys: readonly string[] }).keys;
    if (a.keys.some((k, i) => k !== bk[i])) return false;
  }
  return a.children.every((c, i) => sameStructure(c, bc[i]!));
}

/**
 * Flattens `other` and checks that it has the structure `def` and leaves of the same shapes as `leaves`;
 * throws a `TreeMismatchError` naming `what` otherwise.
 * @internal
 */
export function flattenLike(other: Tree, def: TreeDef, leaves: readonly Tensor[], what: string): Tensor[] {
  const [ol, od] = flatten(other);
  if (!sameStructure(def, od)) {
    throw new TreeMismatchError(`${what}: structure ${describe(od)} does not match ${describe(def)}`);
  }
  ol.forEach((l, i) => {
    const ref = leaves[i]!;
    if (l.shape.length !== ref.shape.length || l.shape.some((d, j) => d !== ref.shape[j])) {
      throw new TreeMismatchError(
        `${what}: leaf ${i} has shape [${l.shape.join(", ")}], expected [${ref.shape.join(", ")}]`,
      );
    }
  });
  return ol;
}

/**
 * Applies `f` to every leaf (and the matching leaves of `rest`, which must have the same structure).
 *
 * @example
 * ```ts
 * import { tree, tensor, mul } from "diffopt";
 * tree.map((x) => mul(x, 2), { a: tensor(1), b: [tensor(2)] }); // { a: tensor(2), b: [tensor(4)] }
 * ```
 */
export function map<T extends Tree>(f: (...leaves: Tensor[]) => Tensor, t: T, ...rest: Tree[]): T {
  const [leaves, def] = flatten(t);
  const out: Tensor[] = [];
  if (rest.length === 0) {
    for (const l of leaves) out.push(f(l));
  } else {
    const others = rest.map((r) => flattenLike(r, def, leaves, "tree.map"));
    for (let i = 0; i < leaves.length; i++) out.push(f(leaves[i]!, ...others.map((o) => o[i]!)));
  }
  return unflatten<T>(def, out);
}

/**
 * Leafwise sum of two pytrees.
 * @example
 * ```ts
 * import { tree, tensor } from "diffopt";
 * tree.add([tensor(1)], [tensor(2)]); // [tensor(3)]
 * ```
 */
export function add<T extends Tree>(a: T, b: T): T {
  return map((x, y) => addOp(x, y!), a, b);
}

/**
 * Leafwise difference of two pytrees.
 * @example
 * ```ts
 * import { tree, tensor } from "diffopt";
 * tree.sub([tensor(3)], [tensor(2)]); // [tensor(1)]
 * ```
 */
export function sub<T extends Tree>(a: T, b: T): T {
  return map((x, y) => subOp(x, y!), a, b);
}

/**
 * Every leaf multiplied by a scalar.
 * @example
 * ```ts
 * import { tree, tensor } from "diffopt";
 * tree.scale(2, [tensor(3)]); // [tensor(6)]
 * ```
 */
export function scale<T extends Tree>(alpha: number | Tensor, a: T): T {
  return map((x) => mulOp(x, alpha), a);
}

/**
 * Inner product Σ ⟨aᵢ, bᵢ⟩ over all leaves, as a scalar tensor.
 * @example
 * ```ts
 * import { tree, tensor } from "diffopt";
 * tree.vdot({ a: tensor([1, 2]) }, { a: tensor([3, 4]) }).item(); // 11
 * ```
 */
export function vdot(a: Tree, b: Tree): Tensor {
  const [la, def] = flatten(a);
  const lb = flattenLike(b, def, la, "tree.vdot");
  let acc: Tensor = asTensor(0);
  la.forEach((x, i) => (acc = addOp(acc, vdotOp(x, lb[i]!))));
  return acc;
}

/**
 * Euclidean norm over all leaves, as a scalar tensor.
 * @example
 * ```ts
 * import { tree, tensor } from "diffopt";
 * tree.norm([tensor([3]), tensor([4])]).item(); // 5
 * ```
 */
export function norm(a: Tree): Tensor {
  const [la] = flatten(a);
  let acc: Tensor = asTensor(0);
  for (const x of la) acc = addOp(acc, sum(mulOp(x, x)));
  return sqrt(acc);
}

/**
 * A pytree of zeros with the structure and shapes of `a`.
 * @example
 * ```ts
 * import { tree, tensor } from "diffopt";
 * tree.zerosLike({ w: tensor([1, 2]) }); // { w: tensor([0, 0]) }
 * ```
 */
export function zerosLike<T extends Tree>(a: T): T {
  return map((x) => tensorZerosLike(x), a);
}

/**
 * The leaves of a pytree as a list.
 * @example
 * ```ts
 * import { tree, tensor } from "diffopt";
 * tree.leaves({ a: tensor(1), b: [tensor(2)] }).length; // 2
 * ```
 */
export function leaves(a: Tree): Tensor[] {
  return flatten(a)[0];
}
