/**
 * Contractions: `einsum`, `tensordot` and `kron`, written with differentiable ops (transpose, reshape, diagonal,
 * sum, mul and matmul) so that their derivatives of every order and their `vmap` rules are those ops' rules.
 *
 * `einsum` reduces a subscript string to a sequence of those ops:
 * 1. each operand: a label repeated within it takes the diagonal (`"ii->i"`, traces `"ii"`); an axis of length 1
 *    whose label is longer elsewhere is dropped (broadcasting); a label that no other operand and not the output
 *    names is summed away;
 * 2. operands are combined left to right, two at a time: labels the two share and that are still needed later
 *    (by the output or a later operand) become batch axes, shared labels not needed are contracted, and the rest
 *    are kept, so that each step is one batched `matmul` of [batch, M, K]·[batch, K, N];
 * 3. the result's axes are put in the order of the output.
 * Labels are letters (case-sensitive); `...` stands for the broadcast axes, aligned from the right as in NumPy.
 * @module
 */
import { ShapeError, ValueError } from "../errors.js";
import { fmt, normalizeAxis } from "../shape.js";
import { Tensor, asTensorArg, describeValue, type TensorLike } from "../tensor.js";
import { mul } from "./elementwise.js";
import { diagonal } from "./diag.js";
import { matmul } from "./matmul.js";
import { sum } from "./reduce.js";
import { reshape, transpose } from "./shape.js";

/** A tensor whose axes carry labels (a letter, or `…k` for the k-th broadcast axis counted from the left). */
interface Labelled {
  t: Tensor;
  labels: string[];
}

/** The parse of one term of the subscripts: its letters, and where its `...` sits (-1: none). */
interface Term {
  letters: string[];
  ellipsisAt: number;
}

function parseTerm(term: string, where: string): Term {
  const letters: string[] = [];
  let ellipsisAt = -1;
  for (let i = 0; i < term.length; i++) {
    const c = term[i]!;
    if (c === ".") {
      if (term.slice(i, i + 3) !== "..." || ellipsisAt >= 0) {
        throw new ValueError(
          `einsum: subscripts: ${where} '${term}' has a '.' that is not part of a single '...' (one ellipsis per term)`,
        );
      }
      ellipsisAt = letters.length;
      i += 2;
    } else if (/^[a-zA-Z]$/.test(c)) {
      letters.push(c);
    } else {
      throw new ValueError(
        `einsum: subscripts: invalid character '${c}' in ${where} '${term}'; labels are letters a–z, A–Z, and '...' for broadcast axes`,
      );
    }
  }
  return { letters, ellipsisAt };
}

/** The labels of an operand of rank `ndim` described by `term`, its `...` standing for `ndim − letters` axes. */
function termLabels(term: Term, ndim: number, nEllipsis: number, where: string, text: string): string[] {
  const extra = ndim - term.letters.length;
  if (extra < 0 || (extra > 0 && term.ellipsisAt < 0)) {
    throw new ShapeError(
      `einsum: ${where} has ${ndim} axes but its subscripts '${text}' name ${term.letters.length}${term.ellipsisAt >= 0 ? " plus '...'" : ""}`,
    );
  }
  if (term.ellipsisAt < 0) return [...term.letters];
  const broadcast = Array.from({ length: extra }, (_, k) => `…${nEllipsis - extra + k}`);
  return [...term.letters.slice(0, term.ellipsisAt), ...broadcast, ...term.letters.slice(term.ellipsisAt)];
}

/** Takes the diagonal over every label repeated within one operand (the diagonal becomes the last axis). */
function diagonals(x: Labelled, where: string): Labelled {
  let { t, labels } = x;
  for (;;) {
    const p = labels.findIndex((l, i) => labels.indexOf(l) !== i);
    if (p < 0) return { t, labels };
    const first = labels.indexOf(labels[p]!);
    if (t.shape[first] !== t.shape[p]) {
      throw new ShapeError(
        `einsum: ${where} repeats label '${labels[p]}' over axes of lengths ${t.shape[first]} and ${t.shape[p]} (shape ${fmt(t.shape)}); a repeated label takes a diagonal and needs equal lengths`,
      );
    }
    t = diagonal(t, 0, first, p);
    labels = [...labels.filter((_, i) => i !== first && i !== p), labels[p]!];
  }
}

/** Sums away the axes of `x` whose labels are not in `keep`. */
function sumUnless(x: Labelled, keep: ReadonlySet<string>): Labelled {
  const axes = x.labels.map((l, i) => (keep.has(l) ? -1 : i)).filter((i) => i >= 0);
  if (axes.length === 0) return x;
  return { t: sum(x.t, { axis: axes }), labels: x.labels.filter((l) => keep.has(l)) };
}

/** `x` with its axes in the order of `order` (a permutation of its labels). */
function arrange(x: Labelled, order: readonly string[]): Tensor {
  const perm = order.map((l) => x.labels.indexOf(l));
  return perm.every((p, i) => p === i) ? x.t : transpose(x.t, perm);
}

/** Multiplies the lengths of the labels `ls`. */
function sizeOf(ls: readonly string[], size: ReadonlyMap<string, number>): number {
  return ls.reduce((acc, l) => acc * size.get(l)!, 1);
}

/** One pairwise step: shared labels in `needed` are batch axes, other shared labels are contracted. */
function contractPair(a: Labelled, b: Labelled, needed: ReadonlySet<string>, size: ReadonlyMap<string, number>) {
  const inB = new Set(b.labels);
  const inA = new Set(a.labels);
  const batch = a.labels.filter((l) => inB.has(l) && needed.has(l));
  const contracted = a.labels.filter((l) => inB.has(l) && !needed.has(l));
  const freeA = a.labels.filter((l) => !inB.has(l));
  const freeB = b.labels.filter((l) => !inA.has(l));
  const [nb, m, k, n] = [sizeOf(batch, size), sizeOf(freeA, size), sizeOf(contracted, size), sizeOf(freeB, size)];
  const at = reshape(arrange(a, [...batch, ...freeA, ...contracted]), [nb, m, k]);
  const bt = reshape(arrange(b, [...batch, ...contracted, ...freeB]), [nb, k, n]);
  const labels = [...batch, ...freeA, ...freeB];
  return {
    t: reshape(
      matmul(at, bt),
      labels.map((l) => size.get(l)!),
    ),
    labels,
  };
}

/**
 * Einstein summation, like `numpy.einsum` (and `jax.numpy.einsum`): `"ij,jk->ik"` is a matrix product,
 * `"ii"` a trace, `"ii->i"` a diagonal, `"ij->ji"` a transpose, `"i,j->ij"` an outer product, `"...ij,...jk"`
 * a batched product. Without `->` the output is every label used exactly once, in alphabetical order (upper case
 * first), after the broadcast axes. Axes of length 1 broadcast. Built from differentiable ops, so `grad`, `jvp`,
 * `vmap` and higher derivatives all apply. A malformed subscript string is a `ValueError` naming the problem;
 * operands that do not fit it, a `ShapeError`.
 * @example
 * ```ts
 * import { einsum, tensor } from "diffopt";
 * const a = tensor([[1, 2], [3, 4]]);
 * einsum("ij,jk->ik", a, a).toArray();  // [[7, 10], [15, 22]]
 * einsum("ii", a).item();               // 5 (the trace)
 * einsum("ij", a).toArray();            // [[1, 2], [3, 4]]
 * einsum("ji", a).toArray();            // [[1, 3], [2, 4]] (implicit output "ij")
 * einsum("...i,...i->...", a, a).toArray(); // [5, 25]
 * ```
 */
export function einsum(subscripts: string, ...operands: TensorLike[]): Tensor {
  if (typeof subscripts !== "string") {
    throw new ValueError(`einsum: subscripts must be a string such as "ij,jk->ik", got ${describeValue(subscripts)}`);
  }
  const spec = subscripts.replace(/\s+/g, "");
  const arrow = spec.indexOf("->");
  if (arrow >= 0 && spec.indexOf("->", arrow + 2) >= 0) {
    throw new ValueError(`einsum: subscripts '${subscripts}' contain '->' more than once`);
  }
  const lhs = arrow >= 0 ? spec.slice(0, arrow) : spec;
  if (/[->]/.test(lhs) || (arrow >= 0 && /[->]/.test(spec.slice(arrow + 2)))) {
    throw new ValueError(`einsum: subscripts '${subscripts}' have a stray '-' or '>' (the output follows one '->')`);
  }
  const inputTerms = lhs.split(",");
  if (inputTerms.length !== operands.length) {
    throw new ValueError(
      `einsum: subscripts '${subscripts}' describe ${inputTerms.length} operand(s), but ${operands.length} were given`,
    );
  }
  const ts = operands.map((x, i) => asTensorArg(x, "einsum", `operands[${i}]`));
  const terms = inputTerms.map((term, i) => parseTerm(term, `operand ${i}`));
  let nEllipsis = 0;
  terms.forEach((term, i) => {
    if (term.ellipsisAt >= 0) nEllipsis = Math.max(nEllipsis, ts[i]!.ndim - term.letters.length);
  });
  const broadcastLabels = Array.from({ length: nEllipsis }, (_, k) => `…${k}`);
  let ops: Labelled[] = ts.map((t, i) => ({
    t,
    labels: termLabels(terms[i]!, t.ndim, nEllipsis, `operands[${i}]`, inputTerms[i]!),
  }));

  // The output labels.
  const counts = new Map<string, number>();
  for (const term of terms) for (const l of term.letters) counts.set(l, (counts.get(l) ?? 0) + 1);
  let output: string[];
  if (arrow >= 0) {
    const outText = spec.slice(arrow + 2);
    const out = parseTerm(outText, "the output");
    const repeated = out.letters.find((l, i) => out.letters.indexOf(l) !== i);
    if (repeated !== undefined) {
      throw new ValueError(`einsum: subscripts: the output '${outText}' repeats label '${repeated}'`);
    }
    const unknown = out.letters.find((l) => !counts.has(l));
    if (unknown !== undefined) {
      throw new ValueError(`einsum: subscripts: output label '${unknown}' does not appear in any operand`);
    }
    if (out.ellipsisAt < 0 && nEllipsis > 0) {
      throw new ValueError(
        `einsum: subscripts: the operands' '...' stands for ${nEllipsis} axes, but the output '${outText}' has no '...' to place them`,
      );
    }
    output =
      out.ellipsisAt < 0
        ? out.letters
        : [...out.letters.slice(0, out.ellipsisAt), ...broadcastLabels, ...out.letters.slice(out.ellipsisAt)];
  } else {
    const once = [...counts].filter(([, c]) => c === 1).map(([l]) => l);
    once.sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
    output = [...broadcastLabels, ...once];
  }

  // Diagonals, then the length of each label (1 broadcasts against a longer one).
  ops = ops.map((o, i) => diagonals(o, `operands[${i}]`));
  const size = new Map<string, number>();
  const first = new Map<string, string>();
  ops.forEach((o, i) =>
    o.labels.forEach((l, ax) => {
      const n = o.t.shape[ax]!;
      const seen = size.get(l);
      if (seen === undefined || seen === 1) {
        size.set(l, n);
        if (seen === undefined || n !== 1) first.set(l, `operands[${i}] has ${n}`);
      } else if (n !== 1 && n !== seen) {
        const what = l.startsWith("…") ? "a broadcast ('...') axis" : `label '${l}'`;
        throw new ShapeError(
          `einsum: ${what} has different lengths: ${first.get(l)}, operands[${i}] has ${n} (shape ${fmt(o.t.shape)})`,
        );
      }
    }),
  );
  // Axes of length 1 under a longer label are constant along it: drop them.
  ops = ops.map((o) => {
    const keep = o.labels.map((l, ax) => o.t.shape[ax] === size.get(l) || o.t.shape[ax] !== 1);
    if (keep.every(Boolean)) return o;
    const labels = o.labels.filter((_, ax) => keep[ax]);
    return {
      t: reshape(
        o.t,
        labels.map((l) => size.get(l)!),
      ),
      labels,
    };
  });

  const outSet = new Set(output);
  const neededAfter = (i: number): Set<string> => {
    const s = new Set(outSet);
    for (let j = i + 1; j < ops.length; j++) for (const l of ops[j]!.labels) s.add(l);
    return s;
  };
  let acc = sumUnless(ops[0]!, neededAfter(0));
  for (let i = 1; i < ops.length; i++) {
    const needed = neededAfter(i);
    const withB = new Set([...needed, ...ops[i]!.labels]);
    const withA = new Set([...needed, ...acc.labels]);
    acc = contractPair(sumUnless(acc, withB), sumUnless(ops[i]!, withA), needed, size);
  }
  return arrange(sumUnless(acc, outSet), output);
}

/** The axes of one operand of `tensordot`, normalised, with the argument named in errors. */
function contractionAxes(axes: number | readonly number[], t: Tensor, what: string): number[] {
  const list = typeof axes === "number" ? [axes] : [...axes];
  const out = list.map((a) => normalizeAxis(a, t.ndim, "tensordot"));
  const repeated = out.find((a, i) => out.indexOf(a) !== i);
  if (repeated !== undefined) throw new ValueError(`tensordot: axes for ${what} repeat axis ${repeated}`);
  return out;
}

/**
 * Sums the products of `a` and `b` over pairs of axes, like `numpy.tensordot`: `axes = n` (default 2) pairs the
 * last n axes of `a` with the first n of `b`; `axes = [axesA, axesB]` names them (a number or a list each). The
 * result's axes are a's free axes, then b's. One `matmul` after a transpose and a reshape of each side.
 * @example
 * ```ts
 * import { tensordot, tensor } from "diffopt";
 * const a = tensor([[1, 2], [3, 4]]);
 * tensordot(a, a).item();                     // 30 (all of both axes: Σ aᵢⱼ²)
 * tensordot(a, a, 1).toArray();               // [[7, 10], [15, 22]] (matmul)
 * tensordot(a, a, [[0], [0]]).toArray();      // [[10, 14], [14, 20]] (aᵀa)
 * ```
 */
export function tensordot(
  a: TensorLike,
  b: TensorLike,
  axes: number | readonly [number | readonly number[], number | readonly number[]] = 2,
): Tensor {
  const x = asTensorArg(a, "tensordot", "a");
  const y = asTensorArg(b, "tensordot", "b");
  let axA: number[];
  let axB: number[];
  if (typeof axes === "number") {
    if (!Number.isSafeInteger(axes) || axes < 0 || axes > x.ndim || axes > y.ndim) {
      throw new ValueError(
        `tensordot: axes ${axes} must be an integer in [0, ${Math.min(x.ndim, y.ndim)}] for shapes ${fmt(x.shape)} and ${fmt(y.shape)}`,
      );
    }
    axA = Array.from({ length: axes }, (_, i) => x.ndim - axes + i);
    axB = Array.from({ length: axes }, (_, i) => i);
  } else if (Array.isArray(axes) && axes.length === 2) {
    axA = contractionAxes(axes[0], x, "a");
    axB = contractionAxes(axes[1], y, "b");
    if (axA.length !== axB.length) {
      throw new ValueError(`tensordot: axes name ${axA.length} axes of a but ${axB.length} of b; they must pair up`);
    }
  } else {
    throw new ValueError(`tensordot: axes must be a number or a pair [axesA, axesB], got ${describeValue(axes)}`);
  }
  axA.forEach((p, i) => {
    if (x.shape[p] !== y.shape[axB[i]!]) {
      throw new ShapeError(
        `tensordot: axis ${p} of a (length ${x.shape[p]}) and axis ${axB[i]} of b (length ${y.shape[axB[i]!]}) are paired but differ; shapes ${fmt(x.shape)} and ${fmt(y.shape)}`,
      );
    }
  });
  const freeA = x.shape.map((_, i) => i).filter((i) => !axA.includes(i));
  const freeB = y.shape.map((_, i) => i).filter((i) => !axB.includes(i));
  const k = axA.reduce((acc, p) => acc * x.shape[p]!, 1);
  const m = freeA.reduce((acc, p) => acc * x.shape[p]!, 1);
  const n = freeB.reduce((acc, p) => acc * y.shape[p]!, 1);
  const xm = reshape(transpose(x, [...freeA, ...axA]), [m, k]);
  const ym = reshape(transpose(y, [...axB, ...freeB]), [k, n]);
  return reshape(matmul(xm, ym), [...freeA.map((p) => x.shape[p]!), ...freeB.map((p) => y.shape[p]!)]);
}

/**
 * The Kronecker product, like `numpy.kron`: the block tensor whose block i is `a[i]·b`; the operand of lower
 * rank gets leading axes of length 1 first, and the result has shape `a.shape[k]·b.shape[k]` on each axis k.
 * @example
 * ```ts
 * import { kron, eye, tensor } from "diffopt";
 * kron(tensor([1, 10]), tensor([1, 2, 3])).toArray(); // [1, 2, 3, 10, 20, 30]
 * kron(eye(2), tensor([[1, 2]])).toArray();          // [[1, 2, 0, 0], [0, 0, 1, 2]]
 * ```
 */
export function kron(a: TensorLike, b: TensorLike): Tensor {
  const x = asTensorArg(a, "kron", "a");
  const y = asTensorArg(b, "kron", "b");
  const nd = Math.max(x.ndim, y.ndim);
  const sa = [...new Array<number>(nd - x.ndim).fill(1), ...x.shape];
  const sb = [...new Array<number>(nd - y.ndim).fill(1), ...y.shape];
  // a as [a0, 1, a1, 1, …] times b as [1, b0, 1, b1, …] is [a0, b0, a1, b1, …]; merging pairs gives the blocks.
  const xa = reshape(
    x,
    sa.flatMap((d) => [d, 1]),
  );
  const yb = reshape(
    y,
    sb.flatMap((d) => [1, d]),
  );
  return reshape(
    mul(xa, yb),
    sa.map((d, i) => d * sb[i]!),
  );
}
