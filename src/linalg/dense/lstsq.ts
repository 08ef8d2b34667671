/**
 * Least squares and the pseudo-inverse: `lstsq` and `pinv`, differentiable for full-rank matrices.
 * @module
 */
import { customCall, type CustomRule } from "../../core/custom.js";
import { DifferentiationError, ValueError } from "../../core/errors.js";
import { fmt } from "../../core/shape.js";
import { elementNote, forEachElement } from "../../core/element-values.js";
import { Tensor, eye, type TensorLike } from "../../core/tensor.js";
import { add, neg, sub } from "../../core/ops/elementwise.js";
import { matmul } from "../../core/ops/matmul.js";
import { transpose } from "../../core/ops/shape.js";
import { matrixArg, restoreRhs, rhsArg, rhsBatch } from "./checks.js";
import { lstsqKernel, numericalRank } from "./kernels.js";

/** Options of {@link lstsq} and {@link pinv}. */
export interface RcondOptions {
  /**
   * Relative cut-off for the numerical rank: pivots of the column-pivoted QR with |Rᵢᵢ| ≤ rcond·|R₀₀| count as
   * zero. Default max(m, n)·eps.
   */
  readonly rcond?: number;
}

/**
 * The minimum-norm least-squares solution x = A⁺·b of A·x ≈ b for an m×n A (any shape and rank); `b` is a
 * vector [m] or a matrix [m, k]. Computed by a complete orthogonal decomposition (column-pivoted QR, then a QR of
 * the leading rows), without forming AᵀA.
 *
 * Differentiable with respect to b always, and with respect to A where A has full rank (rank = min(m, n)), by
 * the pseudo-inverse derivative dx = A⁺(db − dA·x) + A⁺A⁺ᵀ·dAᵀ·r + (I − A⁺A)·dAᵀ·A⁺ᵀ·x with r = b − A·x.
 * Differentiating with respect to a rank-deficient A throws a `DifferentiationError` (x is not a differentiable
 * function of A there).
 *
 * @example
 * ```ts
 * import { linalg, tensor } from "diffopt";
 * // fit y = c0 + c1 t through (0, 1), (1, 3), (2, 5)
 * linalg.lstsq(tensor([[1, 0], [1, 1], [1, 2]]), tensor([1, 3, 5])).toArray(); // [1, 2] (to rounding)
 * ```
 */
export function lstsq(a: TensorLike, b: TensorLike, opts: RcondOptions = {}): Tensor {
  const fn = "lstsq";
  const { t, m } = matrixArg(a, fn, "A", false);
  const { b: bb, vector } = rhsArg(b, m, fn);
  const rcond = checkRcond(opts.rcond, fn);
  return restoreRhs(lstsqRaw(t, bb, rcond), vector);
}

function lstsqRaw(a: Tensor, b: Tensor, rcond: number | undefined): Tensor {
  const [m, n] = a.shape as [number, number];
  const rule: CustomRule<undefined> = {
    name: "lstsq",
    primal([av, bv]) {
      const k = bv!.shape[1]!;
      return { outs: [new Tensor(lstsqKernel(av!.raw, m, n, bv!.raw, rcond, k), [n, k])], res: undefined };
    },
    residuals() {
      return undefined;
    },
    jvp([av, bv], [ta, tb], [x]) {
      const p = pinvRaw(av!, rcond, "lstsq");
      let rhs: Tensor | null = tb;
      if (ta !== null) {
        const dAx = matmul(ta, x!);
        rhs = rhs === null ? neg(dAx) : sub(rhs, dAx);
      }
      let dx = matmul(p, rhs!);
      if (ta !== null) {
        requireFullRank(av!, rcond, "lstsq");
        const taT = transpose(ta, [1, 0]);
        const r = sub(bv!, matmul(av!, x!));
        const pT = transpose(p, [1, 0]);
        dx = add(dx, matmul(p, matmul(pT, matmul(taT, r))));
        const w = matmul(taT, matmul(pT, x!));
        dx = add(dx, sub(w, matmul(p, matmul(av!, w))));
      }
      return [dx];
    },
    vjp([av, bv], [x], [ct], _res, needs) {
      if (ct === null) return [null, null];
      const p = pinvRaw(av!, rcond, "lstsq");
      const bBar = matmul(transpose(p, [1, 0]), ct);
      let aBar: Tensor | null = null;
      if (needs[0]) {
        requireFullRank(av!, rcond, "lstsq");
        const xT = transpose(x!, [1, 0]);
        const r = sub(bv!, matmul(av!, x!));
        const term1 = neg(matmul(bBar, xT));
        const term2 = matmul(r, transpose(matmul(p, bBar), [1, 0]));
        const proj = sub(ct, matmul(p, matmul(av!, ct)));
        const term3 = matmul(matmul(transpose(p, [1, 0]), x!), transpose(proj, [1, 0]));
        aBar = add(add(term1, term2), term3);
      }
      return [aBar, needs[1] ? bBar : null];
    },
  };
  rule.batch = rhsBatch(rule, (av, cols) => lstsqRaw(av, cols, rcond));
  return customCall(rule, [a, b])[0]!;
}

/**
 * The Moore–Penrose pseudo-inverse A⁺ (n×m) of an m×n matrix, by the same complete orthogonal decomposition as
 * {@link lstsq} (singular directions below `rcond` are dropped). Differentiable where A has full rank, with
 * dA⁺ = −A⁺·dA·A⁺ + A⁺A⁺ᵀ·dAᵀ·(I − A·A⁺) + (I − A⁺·A)·dAᵀ·A⁺ᵀA⁺; differentiating at a rank-deficient A throws a
 * `DifferentiationError`.
 *
 * @example
 * ```ts
 * import { linalg, tensor } from "diffopt";
 * linalg.pinv(tensor([[1, 1], [1, 1]])).toArray(); // ≈ [[0.25, 0.25], [0.25, 0.25]] (to rounding)
 * ```
 */
export function pinv(a: TensorLike, opts: RcondOptions = {}): Tensor {
  const { t } = matrixArg(a, "pinv", "A", false);
  return pinvRaw(t, checkRcond(opts.rcond, "pinv"), "pinv");
}

function pinvRaw(a: Tensor, rcond: number | undefined, who: string): Tensor {
  const [m, n] = a.shape as [number, number];
  const rule: CustomRule<undefined> = {
    name: "pinv",
    primal([av]) {
      return { outs: [new Tensor(lstsqKernel(av!.raw, m, n, eye(m).raw, rcond, m), [n, m])], res: undefined };
    },
    residuals() {
      return undefined;
    },
    jvp([av], [ta], [p]) {
      requireFullRank(av!, rcond, who);
      const taT = transpose(ta!, [1, 0]);
      const pT = transpose(p!, [1, 0]);
      const first = neg(matmul(p!, matmul(ta!, p!)));
      const u = matmul(p!, matmul(pT, taT));
      const second = sub(u, matmul(matmul(u, av!), p!));
      const v = matmul(taT, matmul(pT, p!));
      const third = sub(v, matmul(p!, matmul(av!, v)));
      return [add(add(first, second), third)];
    },
    vjp([av], [p], [ct]) {
      if (ct === null) return [null];
      requireFullRank(av!, rcond, who);
      const pT = transpose(p!, [1, 0]);
      const ctT = transpose(ct, [1, 0]);
      const first = neg(matmul(pT, matmul(ct, pT)));
      const u = matmul(ctT, matmul(p!, pT));
      const second = sub(u, matmul(av!, matmul(p!, u)));
      const v = matmul(matmul(pT, p!), ctT);
      const third = sub(v, matmul(matmul(v, p!), av!));
      return [add(add(first, second), third)];
    },
  };
  return customCall(rule, [a])[0]!;
}

/** Checked on each element's values when A is batched by vmap (the rules run on the whole batch). */
function requireFullRank(a: Tensor, rcond: number | undefined, who: string): void {
  const [m, n] = a.shape as [number, number];
  forEachElement(a, (values, element) => {
    const rank = numericalRank(values, m, n, rcond);
    if (rank < Math.min(m, n)) {
      throw new DifferentiationError(
        `${who}: the derivative with respect to A needs full rank, but A (shape ${fmt(a.shape)}) has numerical rank ${rank}${elementNote(element)}`,
      );
    }
  });
}

function checkRcond(rcond: number | undefined, fn: string): number | undefined {
  if (rcond !== undefined && !(rcond >= 0 && rcond < 1)) {
    throw new ValueError(`${fn}: rcond must be in [0, 1), got ${rcond}`);
  }
  return rcond;
}
