/**
 * The QP layers' backward pass reuses the solver's last KKT factorisation.
 *
 * The backward matrix of the active-set conditions (see `condition.ts`), on the solution (x, ν, λ), is
 * [[Qₛ, Aᵀ, G𝒜ᵀ], [A, 0, 0], [G𝒜, 0, 0]] on (x, ν, λ𝒜) and the identity on the inactive multipliers. A solver
 * that ends with a factorisation of that saddle-point matrix — `InteriorPointQP`'s polishing step on a basis of
 * the active rows, `OSQP`'s and `BoxOSQP`'s polishing step, `EqualityConstrainedQP`'s direct solve (no
 * inequalities) — hands it to `customRoot` through
 * `backwardFactor`, and the backward pass costs a few triangular solves instead of rebuilding the matrix by
 * n + p + m JVPs and factorising it again. The matrix is symmetric, so the transposed solve is the same solve.
 *
 * The factorisation is handed back only when it is exactly of that matrix: the rows it holds must be the active
 * set the derivative uses. `customRoot` certifies every solve with it by the true residual (after at most three
 * refinement steps, which absorb the regularisation of a nearly singular system).
 *
 * @internal
 * @module
 */
import { Tensor } from "../../core/tensor.js";
import type { Tree } from "../../core/tree.js";
import type { BackwardFactor } from "../../implicit/backward-solver.js";
import { luSolve, type LuFactors } from "../../linalg/dense/kernels.js";
import type { BoxQPSolution, PlainQP, QPSolution } from "./problem.js";

/**
 * Solves the saddle-point system factorised in `factors` for a right-hand side laid out as the pytree:
 * `head` (the n primal entries, then the equality multipliers) and the row multipliers `mult`, of which only the
 * factorised `rows` enter the system (the others are identity rows). Returns the solution in the same layout.
 */
function saddleSolve(
  factors: LuFactors,
  rows: readonly number[],
  head: Float64Array,
  mult: Float64Array | undefined,
): { head: Float64Array; mult: Float64Array | undefined } {
  const h = head.length;
  const size = h + rows.length;
  const b = new Float64Array(size);
  b.set(head);
  rows.forEach((i, k) => (b[h + k] = mult![i]!));
  const z = luSolve(factors, size, b);
  // inactive multipliers: identity rows
  const out = mult && Float64Array.from(mult);
  rows.forEach((i, k) => (out![i] = z[h + k]!));
  return { head: z.slice(0, h), mult: out };
}

/** True when the factorised `rows` are exactly the rows with a nonzero entry in `active`. */
function rowsAreActive(rows: readonly number[], active: Float64Array): boolean {
  const activeCount = active.reduce((a, v) => a + (v !== 0 ? 1 : 0), 0);
  return rows.length === activeCount && rows.every((i) => active[i] !== 0);
}

/**
 * @internal The backward factorisation of a standard-form QP from `factors` of [[Qₛ, Cᵀ], [C, 0]] with
 * C = [A; G_rows] (`rows` the inequality rows, in the order they were factorised), or undefined when `rows` is
 * not the active set `active` (0/1 per inequality).
 */
export function kktBackwardFactor(
  p: PlainQP,
  factors: LuFactors,
  rows: readonly number[],
  active: Float64Array,
): BackwardFactor | undefined {
  if (!rowsAreActive(rows, active)) return undefined;
  const { n } = p;
  return {
    name: "kkt-lu",
    solve(rhs: Tree): Tree {
      const r = rhs as unknown as QPSolution;
      const head = new Float64Array(n + p.p);
      head.set(r.primal.raw);
      if (r.dualEq) head.set(r.dualEq.raw, n);
      const z = saddleSolve(factors, rows, head, r.dualIneq?.raw);
      const sol: QPSolution = {
        primal: new Tensor(z.head.slice(0, n), [n]),
        dualEq: r.dualEq ? new Tensor(z.head.slice(n), [p.p]) : undefined,
        dualIneq: z.mult && new Tensor(z.mult, [p.m]),
      };
      return sol as unknown as Tree;
    },
  };
}

/**
 * @internal The backward factorisation of a box-form QP (`BoxOSQP`) from `factors` of [[Qₛ, A_rowsᵀ], [A_rows, 0]]
 * (`rows` the rows of A held at a bound, in the order they were factorised), or undefined when `rows` are not the
 * active rows of `side` (+1/−1 active at the upper/lower bound, 0 inactive). The signed multipliers enter the
 * system as they are: a row's side only picks its bound, which the right-hand side does not see.
 */
export function boxKktBackwardFactor(
  n: number,
  factors: LuFactors,
  rows: readonly number[],
  side: Float64Array,
): BackwardFactor | undefined {
  if (!rowsAreActive(rows, side)) return undefined;
  return {
    name: "kkt-lu",
    solve(rhs: Tree): Tree {
      const r = rhs as unknown as BoxQPSolution;
      const z = saddleSolve(factors, rows, r.primal.raw, r.dual.raw);
      const sol: BoxQPSolution = { primal: new Tensor(z.head, [n]), dual: new Tensor(z.mult!, [side.length]) };
      return sol as unknown as Tree;
    },
  };
}
