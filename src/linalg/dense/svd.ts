/**
 * `svd` and `svdvals`: the differentiable thin singular value decomposition.
 * @module
 */
import { customCall, type CustomRule } from "../../core/custom.js";
import { DifferentiationError } from "../../core/errors.js";
import { Tensor, eye, type TensorLike } from "../../core/tensor.js";
import { add, div, mul, sub } from "../../core/ops/elementwise.js";
import { matmul } from "../../core/ops/matmul.js";
import { sum } from "../../core/ops/reduce.js";
import { reshape, transpose } from "../../core/ops/shape.js";
import { elementNote, forEachElement } from "../../core/element-values.js";
import { inverseGaps, matrixArg } from "./checks.js";
import { svdKernel } from "./svd-kernel.js";

/** Thin SVD factors as tensors: A = u·diag(s)·vt. */
export interface Svd {
  /** m×k, orthonormal columns (k = min(m, n)). */
  u: Tensor;
  /** k singular values, descending. */
  s: Tensor;
  /** k×n, orthonormal rows (Vᵀ, as NumPy's `Vh`). */
  vt: Tensor;
}

/**
 * Thin singular value decomposition A = U·diag(s)·Vᵀ of an m×n matrix (NumPy's `svd(a, full_matrices=False)`),
 * singular values descending; computed by one-sided Jacobi rotations (see `svdKernel`).
 *
 * Derivatives (distinct nonzero singular values): with dP = Uᵀ·dA·V and Fᵢⱼ = 1/(sⱼ² − sᵢ²) off the diagonal,
 * ds = diag(dP), dU = U·(F ∘ (dP·S + S·dPᵀ)) + (I − UUᵀ)·dA·V·S⁻¹ and dV = V·(F ∘ (S·dP + dPᵀ·S)) + (I − VVᵀ)·dAᵀ·U·S⁻¹,
 * and the reverse rule is their adjoint. F is never formed: Fᵢⱼ·sⱼ = sⱼ/(sᵢ + sⱼ) / (sⱼ − sᵢ), which stays in
 * range where sⱼ² would overflow or underflow (singular values beyond 1e154 or below 1e-154). The singular
 * vectors' derivative does not exist at repeated singular values (nor, for the (I − UUᵀ) terms of a non-square
 * matrix, at a zero one): asking for it there throws a
 * `DifferentiationError`; use {@link svdvals} when only the singular values are needed. The sign of each pair
 * (uᵢ, vᵢ) is whatever the algorithm produced; its derivative keeps that sign fixed.
 *
 * @example
 * ```ts
 * import { linalg, tensor, matmul, mul } from "diffopt";
 * const A = tensor([[3, 1], [1, 3], [0, 2]]);
 * const { u, s, vt } = linalg.svd(A);
 * s.shape;                              // [2]
 * matmul(mul(u, s), vt).toArray();      // ≈ A
 * ```
 */
export function svd(a: TensorLike): Svd {
  const { t, m, n } = matrixArg(a, "svd", "A", false);
  const k = Math.min(m, n);
  const rule: CustomRule<undefined> = {
    name: "svd",
    primal([av]) {
      const f = svdKernel(av!.raw, m, n);
      return {
        outs: [new Tensor(f.u, [m, k]), new Tensor(f.s, [k]), new Tensor(f.v, [n, k])],
        res: undefined,
      };
    },
    residuals() {
      return undefined;
    },
    jvp(_primals, [ta], [u, s, v]) {
      const dP = matmul(matmul(transpose(u!), ta!), v!);
      const ds = sum(mul(dP, eye(k)), { axis: 1 });
      const { G, R, RT } = gapFactors(s!, k);
      const dPT = transpose(dP);
      let du = matmul(u!, mul(G, add(mul(R, dP), mul(RT, dPT))));
      let dv = matmul(v!, mul(G, add(mul(RT, dP), mul(R, dPT))));
      if (m > k) du = add(du, div(complement(u!, matmul(ta!, v!)), checkedRow(s!, "U")));
      if (n > k) dv = add(dv, div(complement(v!, matmul(transpose(ta!), u!)), checkedRow(s!, "V")));
      return [du, ds, dv];
    },
    vjp(_primals, [u, s, v], [uBar, sBar, vBar]) {
      if (uBar === null && sBar === null && vBar === null) return [null];
      const { G, R, RT } = gapFactors(s!, k);
      // A̅ = U·K·Vᵀ + (I − UUᵀ)·U̅·S⁻¹·Vᵀ + U·S⁻¹·V̅ᵀ·(I − VVᵀ), K = diag(s̄) + (F ∘ (UᵀU̅ − U̅ᵀU))·S + S·(F ∘ (VᵀV̅ − V̅ᵀV)).
      let core: Tensor | null = sBar === null ? null : mul(eye(k), reshape(sBar, [1, k]));
      const plus = (x: Tensor) => (core = core === null ? x : add(core, x));
      let extra: Tensor | null = null;
      const vT = transpose(v!);
      if (uBar !== null) {
        const utUb = matmul(transpose(u!), uBar);
        plus(mul(mul(G, R), sub(utUb, transpose(utUb))));
        if (m > k) extra = matmul(div(complement(u!, uBar), checkedRow(s!, "U")), vT);
      }
      if (vBar !== null) {
        const vtVb = matmul(vT, vBar);
        plus(mul(mul(G, RT), sub(vtVb, transpose(vtVb))));
        if (n > k) {
          const term = transpose(matmul(div(complement(v!, vBar), checkedRow(s!, "V")), transpose(u!)));
          extra = extra === null ? term : add(extra, term);
        }
      }
      const main = core === null ? null : matmul(matmul(u!, core), vT);
      return [main === null ? extra : extra === null ? main : add(main, extra)];
    },
  };
  const [u, s, v] = customCall(rule, [t]);
  return { u: u!, s: s!, vt: transpose(v!) };
}

/**
 * Singular values of an m×n matrix, descending (NumPy's `svd(a, compute_uv=False)`). Differentiable to any order
 * wherever they are distinct: ds = diag(Uᵀ·dA·V) and, in reverse mode, A̅ = U·diag(s̄)·Vᵀ. A first derivative is
 * defined even at repeated or zero singular values (a valid one-sided derivative / subgradient), unlike the
 * singular vectors'.
 *
 * @example
 * ```ts
 * import { linalg, grad, sum, tensor } from "diffopt";
 * linalg.svdvals(tensor([[0, 2], [-1, 0]])).toArray(); // [2, 1]
 * // ∇ of the nuclear norm Σ sᵢ is U·Vᵀ
 * grad((a) => sum(linalg.svdvals(a)))(tensor([[2, 0], [0, 1]])).toArray(); // [[1, 0], [0, 1]]
 * ```
 */
export function svdvals(a: TensorLike): Tensor {
  const { t, m, n } = matrixArg(a, "svdvals", "A", false);
  const k = Math.min(m, n);
  type Factors = { u: Tensor; v: Tensor };
  const rule: CustomRule<Factors> = {
    name: "svdvals",
    primal([av]) {
      const f = svdKernel(av!.raw, m, n);
      return { outs: [new Tensor(f.s, [k])], res: { u: new Tensor(f.u, [m, k]), v: new Tensor(f.v, [n, k]) } };
    },
    // Under nesting the factors must carry the outer derivatives: the differentiable `svd` of the traced input.
    residuals([av]) {
      const f = svd(av!);
      return { u: f.u, v: transpose(f.vt) };
    },
    jvp(_primals, [ta], _outs, { u, v }) {
      return [sum(mul(matmul(transpose(u), ta!), transpose(v)), { axis: 1 })];
    },
    vjp(_primals, _outs, [sBar], { u, v }) {
      return [sBar === null ? null : matmul(mul(u, reshape(sBar, [1, k])), transpose(v))];
    },
  };
  return customCall(rule, [t])[0]!;
}

/** (I − QQᵀ)·X for Q with orthonormal columns (differentiable). */
function complement(q: Tensor, x: Tensor): Tensor {
  return sub(x, matmul(q, matmul(transpose(q), x)));
}

/** The singular values as a row (to divide by), after checking none is zero (the S⁻¹ terms of a non-square matrix). */
function checkedRow(s: Tensor, which: string): Tensor {
  // Relative to the largest singular value: the derivative exists at any scale of A.
  // Checked on each batch element's values under vmap.
  forEachElement(s, (values, element) => {
    const tiny = 10 * Number.EPSILON * Math.abs(values[0] ?? 0);
    if (values.some((v) => v <= tiny)) {
      throw new DifferentiationError(
        `svd: the derivative of ${which} is undefined for a non-square matrix with a zero singular value (s = [${Array.from(values).join(", ")}])${elementNote(element)}; use svdvals if only singular values are needed`,
      );
    }
  });
  return reshape(s, [1, s.size]);
}

/**
 * The factors of Fᵢⱼ·sⱼ = Gᵢⱼ·Rᵢⱼ and sᵢ·Fᵢⱼ = Gᵢⱼ·Rⱼᵢ, with Fᵢⱼ = 1/(sⱼ² − sᵢ²): G with Gᵢⱼ = 1/(sⱼ − sᵢ) off the
 * diagonal, R with Rᵢⱼ = sⱼ/(sᵢ + sⱼ), and Rᵀ; each of the order of 1/s or 1, so nothing leaves the float range.
 * Throws on repeated singular values.
 */
function gapFactors(s: Tensor, k: number): { G: Tensor; R: Tensor; RT: Tensor } {
  const sRow = reshape(s, [1, k]);
  // sᵢ + sⱼ > 0 off the diagonal (two zero singular values are repeated); the eye keeps the diagonal finite.
  const R = div(sRow, add(add(sRow, reshape(s, [k, 1])), eye(k)));
  return { G: gapInverse(s, k), R, RT: transpose(R) };
}

/** G with Gᵢⱼ = 1/(sⱼ − sᵢ) off the diagonal; throws on repeated singular values. */
function gapInverse(s: Tensor, k: number): Tensor {
  return inverseGaps(
    s,
    k,
    (i, values, element) =>
      new DifferentiationError(
        `svd: the singular vectors' derivative is undefined for repeated singular values (s[${i - 1}] = ${values[i - 1]}, s[${i}] = ${values[i]})${elementNote(element)}; use svdvals if only singular values are needed`,
      ),
  );
}
