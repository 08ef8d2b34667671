/**
 * A small differentiable dense solve z = M⁻¹y (LU with partial pivoting), used by `affineSet` and the
 * implicit derivative of the Sinkhorn projections. Its rules are the usual implicit ones, written with ops
 * (so they nest): JVP  ż = M⁻¹(ẏ − Ṁ z);  VJP  ȳ = M⁻ᵀ z̄,  M̄ = −ȳ zᵀ.
 * @module
 */
import { bind, type Primitive } from "../core/engine.js";
import { ShapeError, ValueError } from "../core/errors.js";
import { neg, sub } from "../core/ops/elementwise.js";
import { matmul, matrixTranspose } from "../core/ops/matmul.js";
import { reshape } from "../core/ops/shape.js";
import { fmt } from "../core/shape.js";
import { Tensor } from "../core/tensor.js";

/** Solves in place: `a` (m×m, overwritten by its LU factors), `b` (m×k, overwritten by the solution). */
function luSolveInPlace(a: Float64Array, b: Float64Array, m: number, k: number, who: string): void {
  let scale = 0;
  for (let i = 0; i < a.length; i++) scale = Math.max(scale, Math.abs(a[i]!));
  for (let c = 0; c < m; c++) {
    let piv = c;
    for (let r = c + 1; r < m; r++) if (Math.abs(a[r * m + c]!) > Math.abs(a[piv * m + c]!)) piv = r;
    const p = a[piv * m + c]!;
    if (!(Math.abs(p) > 1e-14 * scale)) {
      throw new ValueError(`${who}: the ${m}×${m} system matrix is singular (pivot ${p} in column ${c})`);
    }
    if (piv !== c) {
      for (let j = 0; j < m; j++) [a[c * m + j], a[piv * m + j]] = [a[piv * m + j]!, a[c * m + j]!];
      for (let j = 0; j < k; j++) [b[c * k + j], b[piv * k + j]] = [b[piv * k + j]!, b[c * k + j]!];
    }
    for (let r = c + 1; r < m; r++) {
      const f = a[r * m + c]! / p;
      if (f === 0) continue;
      for (let j = c + 1; j < m; j++) a[r * m + j]! -= f * a[c * m + j]!;
      for (let j = 0; j < k; j++) b[r * k + j]! -= f * b[c * k + j]!;
    }
  }
  for (let r = m - 1; r >= 0; r--) {
    const d = a[r * m + r]!;
    for (let j = 0; j < k; j++) {
      let s = b[r * k + j]!;
      for (let c = r + 1; c < m; c++) s -= a[r * m + c]! * b[c * k + j]!;
      b[r * k + j] = s / d;
    }
  }
}

const solvePrim: Primitive<string> = {
  name: "denseSolve",
  impl([M, y], who) {
    const m = M!.shape[0]!;
    const k = y!.ndim === 1 ? 1 : y!.shape[1]!;
    const out = y!.data.slice();
    luSolveInPlace(M!.data.slice(), out, m, k, who);
    return new Tensor(out, y!.shape);
  },
  jvp([M], [tM, ty], z, who) {
    let rhs = ty;
    if (tM !== null) {
      const tMz = matmul(tM, z);
      rhs = rhs === null ? neg(tMz) : sub(rhs, tMz);
    }
    return denseSolve(M!, rhs!, who);
  },
  vjp(ct, [M], z, who, needs) {
    const g = denseSolve(matrixTranspose(M!), ct, who);
    const gm = g.ndim === 1 ? reshape(g, [g.size, 1]) : g;
    const zm = z.ndim === 1 ? reshape(z, [1, z.size]) : matrixTranspose(z);
    return [needs[0] ? neg(matmul(gm, zm)) : null, needs[1] ? g : null];
  },
};

/** @internal z = M⁻¹y for a square M [m, m] and y [m] or [m, k]; `who` names the caller in errors. */
export function denseSolve(M: Tensor, y: Tensor, who: string): Tensor {
  const m = M.shape[0];
  if (M.ndim !== 2 || M.shape[1] !== m || (y.ndim !== 1 && y.ndim !== 2) || y.shape[0] !== m) {
    throw new ShapeError(
      `${who}: cannot solve with a matrix of shape ${fmt(M.shape)} and a right-hand side of shape ${fmt(y.shape)}`,
    );
  }
  return bind(solvePrim, [M, y], who);
}
