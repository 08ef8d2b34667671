/**
 * `qr`: the differentiable reduced QR factorisation.
 * @module
 */
import { customCall, type CustomRule } from "../../core/custom.js";
import { DifferentiationError } from "../../core/errors.js";
import { fmt } from "../../core/shape.js";
import { elementNote, forEachElement } from "../../core/element-values.js";
import { Tensor, type TensorLike } from "../../core/tensor.js";
import { add, mul, neg, sub } from "../../core/ops/elementwise.js";
import { matmul } from "../../core/ops/matmul.js";
import { transpose } from "../../core/ops/shape.js";
import { mask, matrixArg } from "./checks.js";
import { qrExplicit, qrFactor } from "./kernels.js";
import { triangularSolveRaw } from "./triangular.js";

/**
 * The reduced QR factorisation A = Q·R of an m×n matrix by Householder reflections: Q is m×k with orthonormal
 * columns and R is k×n upper triangular, k = min(m, n). The signs follow LAPACK (R's diagonal may be negative).
 *
 * Differentiable for m ≥ n and full column rank, with the standard rule: for X = dA·R⁻¹ and C = Qᵀ·X, let
 * Ω = tril(C, −1) − tril(C, −1)ᵀ; then dR = (C − Ω)·R and dQ = X − Q·(C − Ω). The reverse rule is its transpose,
 * Ā = (Q̄ + Q·copyltu(R̄·Rᵀ − Qᵀ·Q̄))·R⁻ᵀ. Differentiating when m < n or A is rank deficient throws a
 * `DifferentiationError` (Q and R are not differentiable functions of A there).
 *
 * @example
 * ```ts
 * import { linalg, tensor, matmul } from "diffopt";
 * const { Q, R } = linalg.qr(tensor([[3, 1], [4, 2], [0, 2]]));
 * Q.shape; // [3, 2]
 * matmul(Q, R).toArray(); // [[3, 1], [4, 2], [0, 2]] (to rounding)
 * ```
 */
export function qr(a: TensorLike): { Q: Tensor; R: Tensor } {
  const { t, m, n } = matrixArg(a, "qr", "A", false);
  const k = Math.min(m, n);
  const rule: CustomRule<undefined> = {
    name: "qr",
    primal([av]) {
      const { q, r } = qrExplicit(qrFactor(av!.raw, m, n));
      return { outs: [new Tensor(q, [m, k]), new Tensor(r, [k, n])], res: undefined };
    },
    residuals() {
      return undefined;
    },
    jvp(_primals, [ta], [q, r]) {
      checkDifferentiable(r!, m, n);
      const x = rightSolveR(ta!, r!);
      const c = matmul(transpose(q!, [1, 0]), x);
      const low = mul(c, strictLower(n));
      const cMinusOmega = sub(c, sub(low, transpose(low, [1, 0])));
      return [sub(x, matmul(q!, cMinusOmega)), matmul(cMinusOmega, r!)];
    },
    vjp(_primals, [q, r], [qBar, rBar]) {
      if (qBar === null && rBar === null) return [null];
      checkDifferentiable(r!, m, n);
      const qt = transpose(q!, [1, 0]);
      const parts: Tensor[] = [];
      if (rBar !== null) parts.push(matmul(rBar, transpose(r!, [1, 0])));
      if (qBar !== null) parts.push(neg(matmul(qt, qBar)));
      const g = parts.length === 2 ? add(parts[0]!, parts[1]!) : parts[0]!;
      // copyltu: the symmetric matrix with g's upper triangle (diagonal included) mirrored below.
      const h = add(mul(g, upperWithDiagonal(n)), transpose(mul(g, strictUpper(n)), [1, 0]));
      const qh = matmul(q!, h);
      const z = qBar === null ? qh : add(qBar, qh);
      // Z·R⁻ᵀ = (R⁻¹·Zᵀ)ᵀ.
      return [transpose(triangularSolveRaw(r!, transpose(z, [1, 0]), upperOpts), [1, 0])];
    },
  };
  const [Q, R] = customCall(rule, [t]);
  return { Q: Q!, R: R! };
}

const upperOpts = { lower: false, transpose: false, unitDiagonal: false };

/** dA·R⁻¹ = (R⁻ᵀ·dAᵀ)ᵀ. */
function rightSolveR(da: Tensor, r: Tensor): Tensor {
  const y = triangularSolveRaw(r, transpose(da, [1, 0]), { lower: false, transpose: true, unitDiagonal: false });
  return transpose(y, [1, 0]);
}

function strictLower(n: number): Tensor {
  return mask(n, (i, j) => (i > j ? 1 : 0));
}

function strictUpper(n: number): Tensor {
  return mask(n, (i, j) => (i < j ? 1 : 0));
}

function upperWithDiagonal(n: number): Tensor {
  return mask(n, (i, j) => (i <= j ? 1 : 0));
}

/** Checked on each element's R when A is batched by vmap (the rules run on the whole batch). */
function checkDifferentiable(r: Tensor, m: number, n: number): void {
  if (m < n) {
    throw new DifferentiationError(
      `qr: the derivative is implemented for m ≥ n only (A has shape ${fmt([m, n])}; Q and R of a wide matrix are not unique functions of A)`,
    );
  }
  forEachElement(r, (values, element) => {
    let big = 0;
    let small = Infinity;
    for (let i = 0; i < n; i++) {
      const v = Math.abs(values[i * n + i]!);
      big = Math.max(big, v);
      small = Math.min(small, v);
    }
    if (n > 0 && !(small > n * Number.EPSILON * big)) {
      throw new DifferentiationError(
        `qr: the derivative needs A of full column rank, but min |Rᵢᵢ| = ${small.toExponential(3)} (max ${big.toExponential(3)})${elementNote(element)}`,
      );
    }
  });
}
