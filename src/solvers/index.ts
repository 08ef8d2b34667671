/**
 * Solvers with one shape (`new Solver(options)`, `run`, `init`, `update`, `optimalityFun`), differentiable
 * implicitly by default (`implicitDiff: false` unrolls them); line searches; and the solvers' fixed points as
 * standalone conditions, to differentiate a solution whichever solver produced it.
 *
 * @example
 * ```ts
 * import { ProjectedGradient, objective, projection, grad, tensor } from "diffopt";
 * const X = tensor([[1, 0.5], [0, 2], [1, 1]]);
 * const solver = new ProjectedGradient({ fun: objective.leastSquares, projection: projection.simplex });
 * // derivative of a loss of the constrained solution with respect to the targets y
 * grad((y) => solver.run(tensor([0.5, 0.5]), tensor(1), [X, y]).params.square().sum())(tensor([1, 2, 3]));
 * ```
 * @module
 */
export {
  Solver,
  type SolverStatus,
  type SolverState,
  type SolverResult,
  type SolverOptions,
  type SolverOptionSpec,
  type RunParams,
} from "./base.js";
export type { BatchStates } from "./batched-run.js";
export {
  backtrackingLineSearch,
  wolfeLineSearch,
  hagerZhangLineSearch,
  type HagerZhangOptions,
  type LineSearchFunction,
  type LineSearchResult,
  type BacktrackingOptions,
  type WolfeOptions,
} from "./linesearch.js";
export {
  gradientStepFixedPoint,
  proxGradFixedPoint,
  projectedGradientFixedPoint,
  mirrorDescentFixedPoint,
  blockProxGradFixedPoint,
  type ObjectiveFn,
  type ProxFn,
  type ProjectionFn,
  type BlockProxFn,
} from "./conditions.js";
export { GradientDescent, type GradientDescentOptions, type GradientDescentState } from "./gradient-descent.js";
export {
  ProximalGradient,
  ProjectedGradient,
  type ProximalGradientOptions,
  type ProximalGradientState,
  type ProjectedGradientOptions,
} from "./proximal-gradient.js";
export {
  MirrorDescent,
  makeProjectionGrad,
  type MirrorDescentOptions,
  type MirrorDescentState,
  type ProjectionGradFn,
} from "./mirror-descent.js";
export type { StepsizeSchedule } from "./schedule.js";
export {
  BlockCoordinateDescent,
  type BlockCoordinateDescentOptions,
  type BlockCoordinateDescentState,
} from "./block-coordinate-descent.js";
export * from "./qp/index.js";
export { DescentMinimizer, Minimizer, type MinimizerOptions, type MinimizerState } from "./minimize/minimizer.js";
export {
  LBFGS,
  BFGS,
  NonlinearCG,
  Newton,
  TrustRegion,
  type LineSearchMinimizerOptions,
  type LBFGSOptions,
  type NonlinearCGOptions,
  type NewtonOptions,
  type TrustRegionOptions,
} from "./minimize/solvers.js";
export type { ConjugateGradientMethod } from "./minimize/descents.js";
export type { LineSearchName } from "./minimize/steps.js";
export type { ResidualFn } from "./minimize/model.js";
export {
  LeastSquaresSolver,
  GaussNewton,
  LevenbergMarquardt,
  type LeastSquaresOptions,
  type GaussNewtonOptions,
  type LevenbergMarquardtOptions,
} from "./minimize/least-squares.js";
export { LBFGSB, type LBFGSBOptions, type LBFGSBState, type Bounds } from "./minimize/lbfgsb.js";
export { RootFinder, FixedPointSolver, type VectorFieldFn } from "./families.js";
export { Bisection, type BisectionOptions, type BisectionState } from "./bisection.js";
export { Broyden, type BroydenOptions, type BroydenState } from "./broyden.js";
export {
  FixedPointIteration,
  AndersonAcceleration,
  type FixedPointIterationOptions,
  type FixedPointState,
  type AndersonAccelerationOptions,
  type AndersonMixingOptions,
  type AndersonState,
  type AndersonHistory,
} from "./fixed-point.js";
export { AndersonWrapper, type AndersonWrapperOptions, type AndersonWrapperState } from "./anderson-wrapper.js";
