/**
 * `triangularSolve`: differentiable solves with a triangular matrix.
 * @module
 */
import { customCall, type CustomRule } from "../../core/custom.js";
import { Tensor, describeValue, type TensorLike } from "../../core/tensor.js";
import { ValueError } from "../../core/errors.js";
import { checkOptions } from "../../core/options.js";
import { mul, neg, sub } from "../../core/ops/elementwise.js";
import { matmul } from "../../core/ops/matmul.js";
import { transpose } from "../../core/ops/shape.js";
import { mask, matrixArg, restoreRhs, rhsArg, rhsBatch } from "./checks.js";
import { LinearSolveError } from "./errors.js";
import { triangularSolveKernel } from "./kernels.js";

/** Options of {@link triangularSolve}. */
export interface TriangularSolveOptions {
  /** True: T is lower triangular (its strict upper triangle is ignored); false: upper. */
  readonly lower: boolean;
  /** Solve Tᵀ·x = b instead of T·x = b. */
  readonly transpose?: boolean;
  /** Take the diagonal of T as ones (its stored diagonal is ignored). */
  readonly unitDiagonal?: boolean;
}

/**
 * Solves T·x = b (or Tᵀ·x = b) for a triangular n×n `t`; `b` is a vector [n] or a matrix [n, k]. Only the
 * triangle named by `lower` (and the diagonal unless `unitDiagonal`) is read, and only those entries receive
 * derivatives. Differentiable with respect to T and b (to any order).
 *
 * Throws a `LinearSolveError` when a diagonal entry is zero, a `ShapeError` for a non-square T or a mismatched
 * b, a `NonFiniteError` for NaN/Inf entries.
 *
 * @example
 * ```ts
 * import { linalg, tensor } from "diffopt";
 * linalg.triangularSolve(tensor([[2, 0], [1, 1]]), tensor([2, 3]), { lower: true }).toArray(); // [1, 2]
 * ```
 */
export function triangularSolve(t: TensorLike, b: TensorLike, opts: TriangularSolveOptions): Tensor {
  const fn = "triangularSolve";
  checkOptions(fn, opts, TRIANGULAR_OPTION_KEYS);
  if (typeof opts?.lower !== "boolean") {
    throw new ValueError(
      `${fn}: options.lower must be given, true (T is lower triangular) or false (upper), got ${describeValue(opts?.lower)}`,
    );
  }
  const { t: tt, n } = matrixArg(t, fn, "T", true);
  const { b: bb, vector } = rhsArg(b, n, fn);
  const o = { lower: opts.lower, transpose: opts.transpose ?? false, unitDiagonal: opts.unitDiagonal ?? false };
  return restoreRhs(triangularSolveRaw(tt, bb, o), vector);
}

const TRIANGULAR_OPTION_KEYS = [
  "lower",
  "transpose",
  "unitDiagonal",
] as const satisfies readonly (keyof TriangularSolveOptions)[];

type Opts = { lower: boolean; transpose: boolean; unitDiagonal: boolean };

/**
 * @internal The differentiable triangular solve on checked arguments (`b` is n×k): the derivative rules of
 * Cholesky and QR call it on their factors.
 */
export function triangularSolveRaw(t: Tensor, b: Tensor, opts: Opts): Tensor {
  const rule: CustomRule<undefined> = {
    name: "triangularSolve",
    primal([tv, bv]) {
      const n = tv!.shape[0]!;
      // Checked on the values (here, once per matrix also under vmap), not before the call.
      if (!opts.unitDiagonal) {
        for (let i = 0; i < n; i++) {
          if (tv!.raw[i * n + i] === 0) {
            throw new LinearSolveError(`triangularSolve: T is singular: diagonal entry ${i} is 0`);
          }
        }
      }
      const x = triangularSolveKernel(tv!.raw, n, bv!.raw, opts);
      return { outs: [new Tensor(x, bv!.shape)], res: undefined };
    },
    residuals() {
      return undefined;
    },
    jvp([tv], [tt, tb], [x]) {
      let rhs: Tensor | null = tb;
      if (tt !== null) {
        const dT = mul(tt, structureMask(tv!.shape[0]!, opts));
        const dTx = matmul(opts.transpose ? transpose(dT, [1, 0]) : dT, x!);
        rhs = rhs === null ? neg(dTx) : sub(rhs, dTx);
      }
      return [triangularSolveRaw(tv!, rhs!, opts)];
    },
    vjp([tv], [x], [ct], _res, needs) {
      if (ct === null) return [null, null];
      const bBar = triangularSolveRaw(tv!, ct, { ...opts, transpose: !opts.transpose });
      let tBar: Tensor | null = null;
      if (needs[0]) {
        const outer = opts.transpose ? matmul(x!, transpose(bBar, [1, 0])) : matmul(bBar, transpose(x!, [1, 0]));
        tBar = neg(mul(outer, structureMask(tv!.shape[0]!, opts)));
      }
      return [tBar, needs[1] ? bBar : null];
    },
  };
  rule.batch = rhsBatch(rule, (tv, cols) => triangularSolveRaw(tv, cols, opts));
  return customCall(rule, [t, b])[0]!;
}

/** 1 on the entries of T the solve reads (its triangle, without the diagonal when it is taken as unit). */
function structureMask(n: number, opts: Opts): Tensor {
  return mask(n, (i, j) => {
    if (i === j) return opts.unitDiagonal ? 0 : 1;
    return (opts.lower ? i > j : i < j) ? 1 : 0;
  });
}
