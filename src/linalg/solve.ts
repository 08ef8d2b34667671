/**
 * `linearSolve`: a linear solve that is differentiable with respect to the right-hand side and to every parameter
 * of the operator, in forward and reverse mode, to any order — by implicit rules that solve again, never by
 * differentiating the iterations of the solver.
 *
 * ## The rules
 * For A(θ) x = b (a well-posed square system):
 * - tangent: dx = A⁻¹ (db − dA·x), where dA·x is one JVP of θ ↦ mv(θ, x);
 * - cotangent: u = A⁻ᵀ x̄, then b̄ = u and θ̄ = −(∂_θ mv(θ, x))ᵀ u, one VJP of θ ↦ mv(θ, x).
 *
 * For least-squares / pseudo-inverse semantics (`wellPosed: false`, or a rectangular operator), x = A⁺b, and the
 * derivative of the pseudo-inverse (Golub & Pereyra, valid where the rank of A is locally constant) adds two terms:
 * dx = A⁺(db − dA·x + A⁺ᵀ dAᵀ r − A z) + z with r = b − A x, w = A⁺ᵀ x, z = dAᵀ w; its transpose gives
 * u = A⁺ᵀ x̄, b̄ = u, θ̄ = (∂_θ mv)ᵀ at (x, −u) + (q, r) + (s, w), with q = A⁺u and s = x̄ − Aᵀu. Each term vanishes for
 * a nonsingular square A; for a consistent singular system only the last one (the null-space term) remains.
 *
 * The solves inside the rules are `linearSolve` calls at the lowered values of the operator and right-hand side,
 * so they are themselves differentiable by the same rules: second and higher derivatives come out exact, for
 * dense and Krylov solvers alike.
 *
 * @module
 */
import { customCall, type CustomRule } from "../core/custom.js";
import { NonFiniteError, ShapeError, ValueError } from "../core/errors.js";
import { Tensor, zerosLike } from "../core/tensor.js";
import { elementNote, forEachElement } from "../core/element-values.js";
import { perElement } from "../core/vmap.js";
import { key as randomKey, normal, split as splitKey } from "../core/random.js";
import { jvp, vjp } from "../core/transforms.js";
import { add, flatten, flattenLike, scale, sub, unflatten, type Tree } from "../core/tree.js";
import {
  choleskyFactor,
  choleskySolve,
  gemv,
  luFactor,
  luMinPivot,
  luSolve,
  lstsqKernel,
  transposeArray,
  type LuFactors,
} from "./dense/kernels.js";
import { LinearSolveError } from "./dense/errors.js";
import { LinearOperator, requireOperator, type AnyLinearOperator } from "./operator.js";
import {
  FlatSpace,
  checkFiniteFlat,
  dot as dotFlat,
  drive,
  flatOperator,
  flatPreconditioner,
  nrm2,
  settings,
  type FlatSolution,
  type Settings,
} from "./krylov/common.js";
import { cgKernel } from "./krylov/cg.js";
import { minresKernel } from "./krylov/minres.js";
import { defaultRestart, gmresKernel } from "./krylov/gmres.js";
import { bicgstabKernel } from "./krylov/bicgstab.js";
import { lsqrKernel, normalCgKernel } from "./krylov/leastSquares.js";
import { neumannFlat, neumannParams, neumannVerdict } from "./krylov/neumann.js";

/** The solvers `linearSolve` can use. */
export type SolverName =
  "cg" | "minres" | "gmres" | "bicgstab" | "normalCg" | "lsqr" | "neumann" | "lu" | "cholesky" | "lstsq";

const SOLVERS: readonly SolverName[] = [
  "cg",
  "minres",
  "gmres",
  "bicgstab",
  "normalCg",
  "lsqr",
  "neumann",
  "lu",
  "cholesky",
  "lstsq",
];
const LEAST_SQUARES: ReadonlySet<SolverName> = new Set(["normalCg", "lsqr", "lstsq"]);
const DENSE: ReadonlySet<SolverName> = new Set(["lu", "cholesky", "lstsq"]);

/** @internal Largest number of unknowns for which `solver: "auto"` materializes the operator and solves densely. */
export const DENSE_SOLVE_MAX_SIZE = 200;

/** How one solve went. */
export interface SolveInfo {
  /** The solver used (resolved from "auto"). */
  solver: string;
  /** Iterations run (0 for a dense factorisation). */
  iterations: number;
  /** ‖b − A x‖ of the returned x; ‖Aᵀ(b − A x)‖ for the least-squares solvers (normalCg, lsqr, lstsq). */
  residualNorm: number;
  /** Whether the residual meets max(rtol·‖b‖, atol) (‖Aᵀb‖ for the least-squares solvers). */
  converged: boolean;
  /** "solve" for the requested solve; "tangent"/"cotangent" for solves made by the derivative rules. */
  phase: "solve" | "tangent" | "cotangent";
}

/** Options of {@link linearSolve}. */
export interface LinearSolveOptions {
  /** The solver; "auto" (default) chooses by tags and size, see {@link linearSolve}. */
  solver?: "auto" | SolverName;
  /** Relative tolerance (default 1e-10): converged when ‖b − A x‖ ≤ max(rtol·‖b‖, atol). */
  rtol?: number;
  /** Absolute tolerance (default 0). */
  atol?: number;
  /** Iteration cap of an iterative solver (default 10·n, at least 100). */
  maxIter?: number;
  /** Warm start of an iterative solver, shaped like the operator's input (used by the primal solve only). */
  x0?: Tree;
  /** Restart length of GMRES (default min(n, 50)). */
  restart?: number;
  /**
   * An approximation of A⁻¹ for cg/minres/gmres/bicgstab (ignored by the other solvers). Derivative rules reuse it
   * for solves with A, and for solves with Aᵀ when A is symmetric or the preconditioner is a LinearOperator
   * (transposed); a function preconditioner is dropped for a transposed nonsymmetric solve.
   */
  preconditioner?: AnyLinearOperator | ((r: Tree) => Tree);
  /** Throw a `LinearSolveError` on non-convergence or a singular matrix (default true). */
  throwOnFailure?: boolean;
  /**
   * Default true: A is square and nonsingular. False: least-squares / pseudo-inverse semantics — x is the
   * minimum-norm minimiser of ‖A x − b‖ (from a zero start) and the derivatives are those of A⁺b.
   */
  wellPosed?: boolean;
  /** Terms and step of the Neumann series (solver "neumann"); defaults k = 10, alpha = 1. */
  neumann?: { k?: number; alpha?: number };
  /** Called for every solve, including those made inside derivative rules (`phase` tells which). */
  onInfo?: (info: SolveInfo) => void;
}

/** The solution of {@link linearSolve} and how it was obtained. */
export interface LinearSolveResult<T extends Tree = Tree> {
  /** The solution, a pytree shaped like the operator's input space (the type of `b` for square operators). */
  value: T;
  info: SolveInfo;
}

type Phase = SolveInfo["phase"];

/**
 * Solves A x = b for a {@link LinearOperator} A and a pytree b (shaped like the operator's output), and returns
 * x (shaped like its input) with a {@link SolveInfo}.
 *
 * Differentiable with respect to `b` and every leaf of `op.params`, in every mode and to any order, by implicit
 * rules (see the module notes): derivatives cost one more solve each, with the same solver. The operator must
 * depend on differentiated tensors only through its params; an `mv` that closes over one raises a
 * `DifferentiationError` rather than losing its derivative.
 *
 * `solver: "auto"` (the default) chooses by the tags and the size n (the larger of input and output sizes):
 * - `wellPosed: false` or a rectangular operator: `lstsq` (dense minimum-norm least squares) if n ≤ 200, else `lsqr`;
 * - positive definite: `cholesky` if n ≤ 200, else `cg`;
 * - symmetric (or diagonal): `lu` if n ≤ 200, else `minres`;
 * - otherwise: `lu` if n ≤ 200, else `gmres`.
 * Dense solvers materialize the operator (one batched matvec over the identity unless it holds a matrix). `info.solver` names the choice.
 *
 * Failures: a `LinearSolveError` (with `residualNorm` and `iterations`) on non-convergence, a singular or
 * non-positive-definite matrix, unless `throwOnFailure: false` (then `info.converged` is false; a failed dense
 * factorisation then returns the minimum-norm least-squares solution). A non-finite b raises a `NonFiniteError`.
 *
 * Under `vmap`, each batch element is solved on its own (an element that fails throws); when only `b` is batched,
 * a dense solver factorises the operator once for the whole batch. `info` then sums up the batch: the most
 * iterations, the largest residual norm, and `converged` when every element converged.
 *
 * @example
 * ```ts
 * import { linalg, tensor, grad, sum, mul } from "diffopt";
 * const A = tensor([[4, 1], [1, 3]]);
 * const b = tensor([1, 2]);
 * const op = linalg.LinearOperator.fromMatrix(A, { symmetric: true, positiveDefinite: true });
 * const { value, info } = linalg.linearSolve(op, b);
 * info.solver; // "cholesky"
 * // d/dA of sum(A⁻¹b), by the implicit rule
 * const g = grad((M) => sum(linalg.linearSolve(linalg.LinearOperator.fromMatrix(M), b).value))(A);
 * ```
 */
export function linearSolve<T extends Tree = Tensor>(
  op: AnyLinearOperator,
  b: T,
  opts: LinearSolveOptions = {},
): LinearSolveResult<T> {
  return solveAt(op, b, opts, "solve", { factors: {}, transposed: false }) as LinearSolveResult<T>;
}

/**
 * The solver `linearSolve` uses for `op` under `opts`: the rule of "auto" (see {@link linearSolve}), or the
 * requested solver after checking it fits the operator's shape.
 *
 * @example
 * ```ts
 * import { linalg, tensor } from "diffopt";
 * const op = linalg.LinearOperator.fromMatrix(tensor([[2, 1], [1, 2]]), { symmetric: true, positiveDefinite: true });
 * linalg.resolveSolver(op);                       // "cholesky"
 * linalg.resolveSolver(op, { wellPosed: false }); // "lstsq"
 * ```
 */
export function resolveSolver(
  op: AnyLinearOperator,
  opts: Pick<LinearSolveOptions, "solver" | "wellPosed"> = {},
): SolverName {
  const requested = opts.solver ?? "auto";
  if (requested !== "auto" && !SOLVERS.includes(requested)) {
    throw new ValueError(
      `linearSolve: unknown solver "${String(requested)}"; expected "auto" or one of ${SOLVERS.join(", ")}`,
    );
  }
  const n = op.inSize;
  const m = op.outSize;
  if (requested !== "auto") {
    if (n !== m && !LEAST_SQUARES.has(requested)) {
      throw new ShapeError(
        `linearSolve: solver "${requested}" needs a square operator, but it maps ${n} values to ${m}; use lstsq, lsqr or normalCg`,
      );
    }
    return requested;
  }
  const small = Math.max(n, m) <= DENSE_SOLVE_MAX_SIZE;
  if (opts.wellPosed === false || n !== m) return small ? "lstsq" : "lsqr";
  if (op.tags.positiveDefinite) return small ? "cholesky" : "cg";
  if (op.tags.symmetric || op.tags.diagonal) return small ? "lu" : "minres";
  return small ? "lu" : "gmres";
}

function checkFiniteTree(leaves: readonly Tensor[], who: string, what: string): void {
  leaves.forEach((l, i) => {
    forEachElement(l, (d, e) => {
      for (let j = 0; j < d.length; j++) {
        if (!Number.isFinite(d[j]))
          throw new NonFiniteError(
            `${who}: ${what} has a non-finite entry ${d[j]} (leaf ${i}, index ${j})${elementNote(e)}`,
          );
      }
    });
  });
}

/** The options of a solve made by a derivative rule: same solver and tolerances, no warm start. */
function ruleOptions(
  opts: LinearSolveOptions,
  solver: SolverName,
  transposed: boolean,
  op: AnyLinearOperator,
): LinearSolveOptions {
  const out: LinearSolveOptions = { ...opts, solver };
  delete out.x0;
  const pre = opts.preconditioner;
  if (pre !== undefined && transposed && !(op.tags.symmetric || op.tags.positiveDefinite || op.tags.diagonal)) {
    if (pre instanceof LinearOperator) out.preconditioner = pre.transpose();
    else delete out.preconditioner;
  }
  return out;
}

/**
 * Dense factors shared by a solve and every solve its derivative rules make: those all see the same values of the
 * operator (tracers carry their primal's values) or of its transpose, so one factorisation serves them all.
 */
interface DenseFactors {
  /** The symmetry tag was probed for this family (see {@link transposeForRules}). */
  symmetryProbed?: boolean;
  matrix?: Float64Array;
  transposedMatrix?: Float64Array;
  lu?: { factors: LuFactors; singular: boolean };
  cholesky?: Float64Array | null;
}

/** The shared factors and whether this solve is with the transpose of the matrix they were taken from. */
interface DenseContext {
  factors: DenseFactors;
  transposed: boolean;
}

function solveAt(
  op: AnyLinearOperator,
  b: Tree,
  opts: LinearSolveOptions,
  phase: Phase,
  dense: DenseContext,
): LinearSolveResult {
  const who = "linearSolve";
  requireOperator(op, who);
  const solver = resolveSolver(op, opts);
  const pinv = opts.wellPosed === false || op.inSize !== op.outSize;
  const inSpace = new FlatSpace(op.inExample);
  const outSpace = new FlatSpace(op.outExample);
  const bLeaves = flattenLike(
    b,
    outSpace.def,
    outSpace.leaves,
    `${who}: b vs the operator's output space (${outSpace.describe()})`,
  );
  checkFiniteTree(bLeaves, who, "b");
  const s = settings(opts, inSpace.size, who);
  const restart = opts.restart ?? defaultRestart(inSpace.size);
  if (!Number.isInteger(restart) || restart < 1)
    throw new ValueError(`${who}: restart must be a positive integer, got ${restart}`);
  const neumann = neumannParams(opts.neumann ?? {}, who);
  let x0: Float64Array | null = null;
  if (phase === "solve" && opts.x0 !== undefined && opts.x0 !== null) {
    x0 = inSpace.read(opts.x0, `${who}: x0 vs the operator's input space (${inSpace.describe()})`);
    checkFiniteFlat(x0, who, "x0");
  }
  const [pLeaves, pDef] = flatten(op.params);
  const np = pLeaves.length;
  const paramsOf = (xs: readonly Tensor[]): Tree => unflatten(pDef, xs.slice(0, np));
  const rhsOf = (xs: readonly Tensor[]): Tree => unflatten(outSpace.def, xs.slice(np));
  const fill = (ts: readonly (Tensor | null)[], like: readonly Tensor[]): Tensor[] =>
    ts.map((t, i) => t ?? zerosLike(like[i]!));
  const sub_ = (o: LinearSolveOptions, transposed: boolean, at: AnyLinearOperator) =>
    ruleOptions(o, solver, transposed, at);

  let info: SolveInfo | null = null;
  const rule: CustomRule<null> = {
    name: "linearSolve",
    primal(args) {
      const at = op.withParams(paramsOf(args));
      const bFlat = outSpace.read(rhsOf(args), who);
      const sol = concreteSolve(at, bFlat, solver, s, {
        restart,
        neumann,
        x0,
        preconditioner: opts.preconditioner,
        inSpace,
        dense,
      });
      info = {
        solver,
        iterations: sol.info.iterations,
        residualNorm: sol.info.residualNorm,
        converged: sol.info.converged,
        phase,
      };
      opts.onInfo?.(info);
      if (sol.failure !== undefined && s.throwOnFailure) {
        throw new LinearSolveError(
          `${who} (${solver}, ${phase}): ${sol.failure}`,
          sol.info.residualNorm,
          sol.info.iterations,
        );
      }
      return { outs: flatten(inSpace.tree(sol.x))[0], res: null };
    },
    residuals() {
      return null;
    },
    jvp(primals, tangents, outs) {
      const p = paramsOf(primals);
      const at = op.withParams(p);
      const x = unflatten(inSpace.def, outs);
      const tp = tangents.slice(0, np);
      const tb = tangents.slice(np);
      const withP = tp.some((t) => t !== null);
      const tpTree = withP ? unflatten(pDef, fill(tp, primals)) : null;
      let rhs: Tree = unflatten(outSpace.def, fill(tb, primals.slice(np)));
      if (withP) rhs = sub(rhs, jvp<Tree>((q: Tree) => op.mv(q, x), [p], [tpTree])[1]);
      const tangentOpts = sub_(opts, false, at);
      if (!pinv || !withP)
        return flatten(
          solveAt(at, rhs, tangentOpts, "tangent", { factors: dense.factors, transposed: dense.transposed }).value,
        )[0];
      const atT = transposeForRules(at, solver, dense.factors);
      const transposedOpts = sub_(opts, true, at);
      const r = sub(rhsOf(primals), at.mv(p, x));
      const w = solveAt(atT, x, transposedOpts, "tangent", {
        factors: dense.factors,
        transposed: !dense.transposed,
      }).value;
      const [dATr, z] = jvp<Tree[]>((q: Tree) => [op.rmv(q, r), op.rmv(q, w)], [p], [tpTree])[1];
      rhs = add(
        rhs,
        solveAt(atT, dATr!, transposedOpts, "tangent", { factors: dense.factors, transposed: !dense.transposed }).value,
      );
      rhs = sub(rhs, at.mv(p, z!));
      return flatten(
        add(
          solveAt(at, rhs, tangentOpts, "tangent", { factors: dense.factors, transposed: dense.transposed }).value,
          z!,
        ),
      )[0];
    },
    vjp(primals, outs, cts, _res, needs) {
      if (cts.every((c) => c === null)) return needs.map(() => null);
      const p = paramsOf(primals);
      const at = op.withParams(p);
      const atT = transposeForRules(at, solver, dense.factors);
      const x = unflatten(inSpace.def, outs);
      const xbar = unflatten(inSpace.def, fill(cts, outs));
      const transposedOpts = sub_(opts, true, at);
      const u = solveAt(atT, xbar, transposedOpts, "cotangent", {
        factors: dense.factors,
        transposed: !dense.transposed,
      }).value;
      const needP = needs.slice(0, np).some(Boolean);
      let pbar: Tensor[] | null = null;
      if (needP) {
        if (!pinv) {
          const [, pull] = vjp<Tree>((q: Tree) => op.mv(q, x), p);
          pbar = flatten(pull(scale(-1, u))[0])[0];
        } else {
          const r = sub(rhsOf(primals), at.mv(p, x));
          const q = solveAt(at, u, sub_(opts, false, at), "cotangent", {
            factors: dense.factors,
            transposed: dense.transposed,
          }).value;
          const sres = sub(xbar, atT.mv(p, u));
          const w = solveAt(atT, x, transposedOpts, "cotangent", {
            factors: dense.factors,
            transposed: !dense.transposed,
          }).value;
          const [, pull] = vjp<Tree[]>((pp: Tree) => [op.mv(pp, x), op.mv(pp, q), op.mv(pp, sres)], p);
          pbar = flatten(pull([scale(-1, u), r, w])[0])[0];
        }
      }
      const ubar = flatten(u)[0];
      return [
        ...pLeaves.map((_, i) => (needs[i] && pbar ? pbar[i]! : null)),
        ...bLeaves.map((_, i) => (needs[np + i] ? ubar[i]! : null)),
      ];
    },
  };
  rule.batch = (vals, dims, size) => {
    // Under vmap, one solve per element. With the operator shared by the batch (only b batched) every element's
    // solve uses this family's dense factors: one factorisation for the whole batch of right-hand sides. With the
    // operator batched, each element is a family of its own (its own matrix and factors).
    // `info` then sums up the batch: the most iterations, the largest residual, converged when all are.
    const shared = dims.slice(0, np).every((d) => d === null);
    const infos: SolveInfo[] = [];
    const quiet = { ...opts };
    delete quiet.onInfo;
    const outs = perElement("linearSolve", vals, dims, size, (xs) => {
      const ctx = shared ? dense : { factors: {}, transposed: dense.transposed };
      const sol = solveAt(op.withParams(paramsOf(xs)), rhsOf(xs), quiet, phase, ctx);
      infos.push(sol.info);
      return flatten(sol.value)[0];
    });
    info = {
      solver,
      iterations: Math.max(0, ...infos.map((i) => i.iterations)),
      residualNorm: Math.max(0, ...infos.map((i) => i.residualNorm)),
      converged: infos.every((i) => i.converged),
      phase,
    };
    opts.onInfo?.(info);
    return [outs, outs.map(() => 0)];
  };
  const outs = customCall(rule, [...pLeaves, ...bLeaves]);
  return { value: unflatten(inSpace.def, outs), info: info! };
}

/** Relative tolerance of the symmetry probe: far above rounding in two matvecs, far below a real asymmetry. */
const SYMMETRY_RTOL = 1e-8;

/**
 * Aᵀ for the solves of the derivative rules. A `symmetric`, `positiveDefinite` or `diagonal` tag makes
 * `transpose()` return A itself, and an iterative solver would then solve with A where Aᵀ is meant: a wrong tag
 * on a function operator gave a silently wrong derivative (the primal solve is safe: its residual is checked
 * with A itself). So, as `customRoot` does with its hints, the tag is probed once per family of solves, and only
 * when an iterative solver is about to trust it: ⟨u, Av⟩ = ⟨Au, v⟩ for two fixed pseudo-random u, v (two
 * matvecs, at the concrete values of the params). Dense solvers transpose the materialized matrix themselves,
 * whatever the tags say, and need no probe.
 */
function transposeForRules(at: AnyLinearOperator, solver: SolverName, shared: DenseFactors): AnyLinearOperator {
  const atT = at.transpose();
  if (atT !== at || DENSE.has(solver) || shared.symmetryProbed) return atT;
  const [leaves, def] = flatten(at.params);
  const concrete = at.withParams(
    unflatten(
      def,
      leaves.map((l) => new Tensor(l.raw, l.shape)),
    ),
  );
  const A = flatOperator(concrete, "linearSolve");
  const [ku, kv] = splitKey(randomKey(0x5e11));
  const u = normal(ku!, [A.n]).raw;
  const v = normal(kv!, [A.n]).raw;
  const Au = A.apply(u);
  const Av = A.apply(v);
  const uAv = dotFlat(u, Av);
  const vAu = dotFlat(v, Au);
  if (!(Math.abs(uAv - vAu) <= SYMMETRY_RTOL * (nrm2(u) * nrm2(Av) + nrm2(v) * nrm2(Au)))) {
    throw new ValueError(
      `linearSolve: op is tagged ${JSON.stringify(at.tags)} but is not symmetric (⟨u, Av⟩ = ${uAv.toExponential(6)}, ⟨Au, v⟩ = ${vAu.toExponential(6)} for random u, v); drop the tag: the derivative solves with Aᵀ, and would be wrong with it`,
    );
  }
  shared.symmetryProbed = true;
  return atT;
}

interface ConcreteExtras {
  restart: number;
  neumann: { k: number; alpha: number };
  x0: Float64Array | null;
  preconditioner: LinearSolveOptions["preconditioner"];
  inSpace: FlatSpace;
  dense: DenseContext;
}

/** Solves with concrete params and b; never throws on a failed solve (the caller decides). */
function concreteSolve(
  op: AnyLinearOperator,
  b: Float64Array,
  solver: SolverName,
  s: Settings,
  e: ConcreteExtras,
): FlatSolution {
  if (DENSE.has(solver)) return denseSolve(op, b, solver, s, e.dense);
  const A = flatOperator(op, "linearSolve");
  const soft: Settings = { ...s, throwOnFailure: false };
  if (solver === "neumann") {
    const { x, residualNorm } = neumannFlat(A, b, e.neumann.k, e.neumann.alpha);
    let failure: string | undefined;
    let converged: boolean;
    try {
      converged = neumannVerdict(residualNorm, nrm2(b), e.neumann.k, { ...s, throwOnFailure: true }, "neumann");
    } catch (err) {
      if (!(err instanceof LinearSolveError)) throw err;
      failure = err.message;
      converged = false;
    }
    const info = { iterations: e.neumann.k, residualNorm, converged };
    return failure === undefined ? { x, info } : { x, info, failure };
  }
  const usesPreconditioner = solver === "cg" || solver === "minres" || solver === "gmres" || solver === "bicgstab";
  const M =
    usesPreconditioner && e.preconditioner !== undefined
      ? flatPreconditioner(e.preconditioner, e.inSpace, "linearSolve")
      : null;
  const kernel =
    solver === "cg"
      ? cgKernel
      : solver === "minres"
        ? minresKernel
        : solver === "gmres"
          ? gmresKernel(e.restart)
          : solver === "bicgstab"
            ? bicgstabKernel
            : solver === "normalCg"
              ? normalCgKernel
              : lsqrKernel;
  return drive(solver, kernel, A, b, e.x0, soft, M, LEAST_SQUARES.has(solver));
}

/** The matrix of `op` (concrete params) as a row-major array; rejects an `mv` closing over traced tensors. */
function concreteMatrix(op: AnyLinearOperator): Float64Array {
  const A = op.materialize();
  if (A.level > 0) {
    // flatOperator raises the precise closure error on the first matvec
    flatOperator(op, "linearSolve").apply(new Float64Array(op.inSize));
  }
  return A.raw;
}

/** The matrix in the orientation of this solve, materialized once per family of solves. */
function orientedMatrix(op: AnyLinearOperator, ctx: DenseContext): Float64Array {
  const f = ctx.factors;
  if (f.matrix === undefined) {
    // the first solve of the family materializes its own operator: store it in the family's orientation
    const a = concreteMatrix(op);
    if (!ctx.transposed) f.matrix = a;
    else f.transposedMatrix = a;
  }
  if (!ctx.transposed) return (f.matrix ??= transposeArray(f.transposedMatrix!, op.inSize, op.outSize));
  return (f.transposedMatrix ??= transposeArray(f.matrix!, op.inSize, op.outSize));
}

function denseSolve(
  op: AnyLinearOperator,
  b: Float64Array,
  solver: SolverName,
  s: Settings,
  ctx: DenseContext,
): FlatSolution {
  const n = op.inSize;
  const m = op.outSize;
  const A = orientedMatrix(op, ctx);
  const f = ctx.factors;
  let x: Float64Array | null = null;
  let failure: string | undefined;
  if (solver === "lu") {
    // factor the family's matrix (not its transpose) once; solve with it or its transpose
    f.lu ??= (() => {
      const base = f.matrix ?? transposeArray(f.transposedMatrix!, n, n);
      const lu = luFactor(base, n);
      return { factors: { lu: lu.lu, piv: lu.piv }, singular: lu.singular };
    })();
    if (f.lu.singular) {
      const pivot = luMinPivot(f.lu.factors.lu, n);
      failure = `the matrix is singular (LU pivot ${pivot.index} is ${pivot.value.toExponential(3)}); use wellPosed: false for least-squares semantics`;
    } else x = luSolve(f.lu.factors, n, b, ctx.transposed);
  } else if (solver === "cholesky") {
    // symmetric by promise: the transpose has the same factor
    if (f.cholesky === undefined) f.cholesky = choleskyFactor(A, n);
    if (f.cholesky === null)
      failure = "the matrix is not positive definite (Cholesky failed); use lu, or check the positiveDefinite tag";
    else x = choleskySolve(f.cholesky, n, b);
  }
  const leastSquares = solver === "lstsq";
  if (x === null) x = lstsqKernel(A, m, n, b);
  const r = b.slice();
  const ax = gemv(A, m, n, x, false);
  for (let i = 0; i < m; i++) r[i]! -= ax[i]!;
  const res = leastSquares ? nrm2(gemv(A, m, n, r, true)) : nrm2(r);
  const tol = Math.max(s.rtol * (leastSquares ? nrm2(gemv(A, m, n, b, true)) : nrm2(b)), s.atol);
  const accurate = res <= tol;
  if (failure === undefined && !accurate) {
    failure = `the residual ${res.toExponential(3)} exceeds the tolerance ${tol.toExponential(3)}: the matrix is too ill-conditioned (or not finite) for this precision`;
  }
  const info = { iterations: 0, residualNorm: res, converged: failure === undefined };
  return failure === undefined ? { x, info } : { x, info, failure };
}
