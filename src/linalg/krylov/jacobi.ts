/**
 * The Jacobi (diagonal) preconditioner.
 * @module
 */
import { Tensor } from "../../core/tensor.js";
import { ValueError } from "../../core/errors.js";
import { flatten, unflatten, type Tree } from "../../core/tree.js";
import { batchLoop } from "../../core/vmap.js";
import { LinearOperator, diagonal, diagonalValues, type AnyLinearOperator } from "../operator.js";

/**
 * The Jacobi preconditioner M = diag(A)⁻¹, from a square operator (its diagonal is read from the matrix when the
 * operator has one, else found with one matvec per unknown) or from the diagonal itself (a pytree). Returns a
 * diagonal LinearOperator; throws a `ValueError` on a zero diagonal entry. It suits diagonally dominant systems.
 *
 * @example
 * ```ts
 * import { linalg, tensor } from "diffopt";
 * const A = linalg.LinearOperator.fromMatrix(tensor([[100, 1], [1, 2]]), { symmetric: true, positiveDefinite: true });
 * const M = linalg.jacobiPreconditioner(A);
 * M.matvec(tensor([100, 2])).toArray(); // [1, 1]
 * linalg.cg(A, tensor([1, 1]), { preconditioner: M }).info.converged; // true
 * ```
 */
export function jacobiPreconditioner(opOrDiagonal: AnyLinearOperator | Tree): LinearOperator<Tree> {
  // Under vmap (a batched operator or diagonal), each element's inverse diagonal: the parameters of one
  // batched diagonal operator.
  const op = opOrDiagonal instanceof LinearOperator ? opOrDiagonal : null;
  const looped = batchLoop(
    "jacobiPreconditioner",
    (p) => jacobiPreconditioner(op === null ? p : op.withParams(p)).params,
    [op === null ? (opOrDiagonal as Tree) : op.params],
  );
  if (looped !== undefined) return diagonal<Tree>(looped);
  let example: Tree;
  let d: Float64Array;
  if (opOrDiagonal instanceof LinearOperator) {
    if (opOrDiagonal.inSize !== opOrDiagonal.outSize) {
      throw new ValueError(
        `jacobiPreconditioner: the operator must be square, it maps ${opOrDiagonal.inSize} to ${opOrDiagonal.outSize} values`,
      );
    }
    example = opOrDiagonal.inExample;
    d = diagonalValues(opOrDiagonal);
  } else {
    example = opOrDiagonal;
    const leaves = flatten(opOrDiagonal)[0];
    d = new Float64Array(leaves.reduce((s, l) => s + l.size, 0));
    let off = 0;
    for (const l of leaves) {
      d.set(l.raw, off);
      off += l.size;
    }
  }
  const inv = new Float64Array(d.length);
  for (let i = 0; i < d.length; i++) {
    if (d[i] === 0 || !Number.isFinite(d[i])) {
      throw new ValueError(
        `jacobiPreconditioner: diagonal entry ${i} is ${d[i]}; the Jacobi preconditioner needs finite non-zero entries`,
      );
    }
    inv[i] = 1 / d[i]!;
  }
  const [leaves, def] = flatten(example);
  let off = 0;
  const invTree = unflatten(
    def,
    leaves.map((l) => {
      const t = new Tensor(inv.slice(off, off + l.size), l.shape);
      off += l.size;
      return t;
    }),
  );
  return diagonal(invTree);
}
