/**
 * Mirror descent: the KL (entropic) geometry on products of simplices by default, or any mirror map given as a
 * `projectionGrad` (JAXopt's convention; build one with {@link makeProjectionGrad}).
 * @module
 */
import { ValueError } from "../core/errors.js";
import { Tensor, asTensor, tensor } from "../core/tensor.js";
import { div } from "../core/ops/elementwise.js";
import { grad, stopGradient } from "../core/transforms.js";
import { norm, scale, sub, type Tree } from "../core/tree.js";
import type { ImplicitOptions } from "../implicit/root.js";
import { Solver, type SolverOptions, type SolverResult, type SolverState } from "./base.js";
import { normOf, objectiveValueAndGrad } from "./common.js";
import { checkSimplexRows, klMirrorStep, type ObjectiveFn, type ProjectionFn } from "./conditions.js";
import { stepsizeOption, type Stepsize, type StepsizeSchedule } from "./schedule.js";
import { numberFields, tensorFields, type TensorState, type TensorUpdate } from "./batched-run.js";

/**
 * One mirror-descent step x⁺ = projectionGrad(x, ∇f(x), η, hyperparamsProj): the Bregman projection onto the
 * feasible set of the point whose mirror image is ∇φ(x) − η∇f(x).
 */
// `any` in user callbacks: users annotate their own parameter types, and a `(x: Tensor) => …` is not assignable to a `(x: Tree) => …`.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ProjectionGradFn = (x: any, grad: any, stepsize: number, hyperparamsProj: any) => Tree;

/**
 * The mirror step of a mirror map φ (JAXopt's `make_projection_grad`): `mappingFun` is ∇φ (from the primal to
 * the dual space), `projection(z, hyperparamsProj)` maps a dual point z back, Bregman-projected onto the feasible
 * set (argmin over the set of φ(x) − ⟨z, x⟩). The step is projection(mappingFun(x) − η·g, hyperparamsProj).
 * With `mappingFun` the identity and a Euclidean projection, mirror descent is projected gradient; with
 * `log` and a row-wise softmax, it is the KL geometry on the simplex.
 *
 * @example
 * ```ts
 * import { MirrorDescent, makeProjectionGrad, projection, sum, square, sub, tensor, type Tensor } from "diffopt";
 * // the Euclidean mirror map on the simplex (projected gradient)
 * const euclidean = makeProjectionGrad(projection.simplex, (x) => x);
 * const f = (x: Tensor, c: Tensor) => sum(square(sub(x, c))).mul(0.5);
 * const solver = new MirrorDescent({ fun: f, stepsize: 1, projectionGrad: euclidean, tol: 1e-12 });
 * solver.run(tensor([1, 0, 0]), tensor(1), tensor([0.6, 0.5, -0.2])).params.toArray(); // ≈ [0.55, 0.45, 0]
 * ```
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function makeProjectionGrad(projection: ProjectionFn, mappingFun: (x: any) => Tree): ProjectionGradFn {
  return (x, g, stepsize, hyperparamsProj) =>
    projection(sub(mappingFun(x), scale(stepsize, g)), hyperparamsProj ?? undefined);
}

/** Options of {@link MirrorDescent}. */
export interface MirrorDescentOptions extends SolverOptions {
  /** The objective f(params, ...args), a scalar (with the KL default, a tensor whose rows lie on the simplex). */
  fun: ObjectiveFn;
  /**
   * The step size η (≤ 1/L, with L the Lipschitz constant of ∇f in the mirror map's norm pairing, for
   * convergence), or a schedule k ↦ η_k (a function of the iteration number).
   */
  stepsize: number | StepsizeSchedule;
  /**
   * The mirror step (see {@link makeProjectionGrad}); default: the KL geometry on the rows of x. With one,
   * call `run(init, hyperparamsProj, ...args)` (as JAXopt's MirrorDescent): hyperparamsProj goes to the
   * projection, args to `fun`.
   */
  projectionGrad?: ProjectionGradFn;
}

/** The number fields of {@link MirrorDescentState} (besides `iterNum`). */
const MIRROR_DESCENT_SCALARS = ["error", "value", "stepsize"] as const;

/** The state of {@link MirrorDescent}. */
export interface MirrorDescentState extends SolverState {
  value: number;
  /** ∇f at the current iterate. */
  grad: Tree;
  /** The last step size taken (the first one in `init`). */
  stepsize: number;
}

/**
 * Mirror descent for min f(x, ...args) over a set given by its mirror map. By default the KL geometry on
 * x ∈ (△ᵏ)ᵐ (each row of x on the probability simplex): x ← softmax(log x − η∇f(x)) row-wise, the
 * exponentiated-gradient update, computed in a stable multiplicative form (no logarithm of zero, no overflow).
 * Its iterates keep every zero coordinate of `init` at zero forever, so a start on a face of the simplex (such as
 * a vertex) could stop at a non-optimal point that is a fixed point of the update: `init` must have positive
 * entries (a `ValueError` says so otherwise). With `projectionGrad`, any mirror map (see
 * {@link makeProjectionGrad}) and `run(init, hyperparamsProj, ...args)`.
 *
 * `error` is ‖x⁺ − x‖/η. The implicit derivative uses the fixed point T(x) = step(x, ∇f(x), η) with the fixed
 * step (or the last one taken).
 *
 * @example
 * ```ts
 * import { MirrorDescent, sum, square, sub, tensor, type Tensor } from "diffopt";
 * // the point of the simplex nearest to c
 * const f = (x: Tensor, c: Tensor) => sum(square(sub(x, c))).mul(0.5);
 * const solver = new MirrorDescent({ fun: f, stepsize: 1, tol: 1e-9, maxIter: 5000 });
 * solver.run(tensor([1 / 3, 1 / 3, 1 / 3]), tensor([0.6, 0.5, -0.2])).params; // ≈ [0.55, 0.45, 0]
 * ```
 */
export class MirrorDescent extends Solver<MirrorDescentState> {
  readonly fun: ObjectiveFn;
  readonly stepsize: number | StepsizeSchedule;
  readonly projectionGrad: ProjectionGradFn | undefined;
  private readonly schedule: Stepsize;

  constructor(opts: MirrorDescentOptions) {
    super("MirrorDescent", opts, {
      keys: ["fun", "stepsize", "projectionGrad"] satisfies (keyof MirrorDescentOptions)[],
      functions: ["fun"],
    });
    this.fun = opts.fun;
    this.stepsize = opts.stepsize;
    this.schedule = stepsizeOption(opts.stepsize, this.name);
    this.projectionGrad = opts.projectionGrad;
  }

  /** [hyperparamsProj, args of fun] from the arguments after params. */
  private split(args: readonly Tree[]): [Tree, Tree[]] {
    return this.projectionGrad === undefined ? [undefined, [...args]] : [args[0], args.slice(1)];
  }

  private step(x: Tree, g: Tree, eta: number, hyperparamsProj: Tree): Tree {
    return this.projectionGrad === undefined
      ? klMirrorStep(asTensor(x as Tensor), g as Tensor, eta)
      : this.projectionGrad(x, g, eta, hyperparamsProj);
  }

  // `any`: each solver narrows the step-by-step methods' params and arguments (see `Solver.init` in base.ts).
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  init(init: any, ...args: any[]): MirrorDescentState {
    const [hp, funArgs] = this.split(args);
    if (this.projectionGrad === undefined) checkInterior(asTensor(init), this.name);
    const [v, g] = objectiveValueAndGrad(this.fun, init, funArgs, this.name);
    const eta = this.schedule.at(0);
    const next = this.step(init, g, eta, hp);
    return {
      iterNum: 0,
      error: normOf(sub(next, init)) / eta,
      status: "maxIterReached",
      value: stopGradient(v).item(),
      grad: g,
      stepsize: eta,
    };
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  update(params: any, state: MirrorDescentState, ...args: any[]): SolverResult<MirrorDescentState> {
    const r = this.advance(params, tensorFields(state, MIRROR_DESCENT_SCALARS), args);
    return { params: r.params, state: numberFields(r.state, MIRROR_DESCENT_SCALARS) };
  }

  /**
   * @internal The update is arithmetic (a fixed step or a schedule): `run` under `vmap` batches it (`init` checks that the
   * start is interior, so it runs per element).
   */
  protected override tensorUpdate(): TensorUpdate<MirrorDescentState> {
    return { scalars: MIRROR_DESCENT_SCALARS, update: (params, state, args) => this.advance(params, state, args) };
  }

  /** One mirror step with ops only (so that it batches). */
  private advance(
    params: Tree,
    state: TensorState<MirrorDescentState>,
    args: readonly Tree[],
  ): { params: Tree; state: TensorState<MirrorDescentState> } {
    const [hp, funArgs] = this.split(args);
    const eta = this.schedule.at(state.iterNum);
    const next = this.step(params, state.grad, eta, hp);
    const error = div(norm(stopGradient(sub(next, params))), eta);
    const [v, g] = objectiveValueAndGrad(this.fun, next, funArgs, this.name);
    return {
      params: next,
      state: {
        ...state,
        iterNum: state.iterNum + 1,
        error,
        value: stopGradient(v),
        grad: g,
        stepsize: tensor(eta),
      },
    };
  }

  /** The fixed-point residual T(x) − x of the mirror step with step size η. */
  private residual(eta: number): (x: Tree, ...args: Tree[]) => Tree {
    return (x, ...args) => {
      const [hp, funArgs] = this.split(args);
      return sub(this.step(x, grad(this.fun)(x, ...funArgs) as Tree, eta, hp), x);
    };
  }

  /** T(params) − params for the mirror step T with the fixed step (the schedule's first one): zero at a solution. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  optimalityFun(params: any, ...args: any[]): Tree {
    return this.residual(this.schedule.at(0))(params, ...args);
  }

  protected override implicitCondition(state: MirrorDescentState): (x: Tree, ...args: Tree[]) => Tree {
    return this.residual(state.stepsize);
  }

  protected implicitHints(): ImplicitOptions {
    return {};
  }
}

/**
 * Rows on the simplex with positive entries: the KL update multiplies coordinates, so a zero stays zero and a
 * start on a face (a vertex, say) would report convergence at a non-optimal fixed point with a zero derivative.
 */
function checkInterior(x: Tensor, who: string): void {
  checkSimplexRows(x, who, "init");
  const j = x.raw.findIndex((v) => v === 0);
  if (j >= 0) {
    const k = x.shape[x.ndim - 1]!;
    throw new ValueError(
      `${who}: init has a zero entry (flat index ${j}); the KL geometry keeps zero coordinates at zero, so the run could stop at a non-optimal point of the simplex's face. Start in the interior, e.g. (1 − ε)·init + ε/${k} with ε = 1e-3`,
    );
  }
}
