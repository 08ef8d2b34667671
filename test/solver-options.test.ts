/**
 * Every solver checks its options at construction: a misspelled or unknown option throws a `ValueError` naming the
 * solver and listing the valid options (never silently ignored), a missing required function throws, and the
 * minimal valid options construct. One table row per solver class; a guard test fails when the library exports a
 * concrete solver that is not in the table.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as diffopt from "../src/index.js";
import {
  AndersonAcceleration,
  AndersonWrapper,
  BFGS,
  Bisection,
  BlockCoordinateDescent,
  BoxOSQP,
  Broyden,
  EqualityConstrainedQP,
  FixedPointIteration,
  GaussNewton,
  GradientDescent,
  InteriorPointQP,
  LBFGS,
  LBFGSB,
  LevenbergMarquardt,
  MirrorDescent,
  Newton,
  NonlinearCG,
  OSQP,
  ProjectedGradient,
  ProximalGradient,
  Solver,
  TrustRegion,
  ValueError,
  linearProgram,
  objective,
  projection,
  prox,
  tensor,
  type Tensor,
} from "../src/index.js";

/** Asserts that `run` throws a ValueError whose message matches every pattern. */
function throwsValue(run: () => unknown, ...patterns: RegExp[]): void {
  assert.throws(run, (e: unknown) => {
    assert.ok(e instanceof ValueError, `expected a ValueError, got ${String(e)}`);
    for (const p of patterns) assert.match(e.message, p);
    return true;
  });
}

const fun = objective.leastSquares;
const vectorField = (x: Tensor) => x.mul(0.5);
const residualFun = (x: Tensor) => x.sub(1);

interface Row {
  /** Constructs the solver from (deliberately untyped) options. */
  make: (opts: Record<string, unknown>) => { name: string };
  /** The smallest valid options. */
  minimal: Record<string, unknown>;
  /** The required function-valued options. */
  functions: string[];
  /** One of the solver's own options, which the error message must list. */
  own: string;
  /** Whether omitting the options altogether is an error (false: every option has a default). */
  optionsRequired: boolean;
}

const row = (
  make: (opts: never) => { name: string },
  minimal: Record<string, unknown>,
  functions: string[],
  own: string,
  optionsRequired = true,
): Row => ({ make: make as Row["make"], minimal, functions, own, optionsRequired });

const SOLVERS: Record<string, Row> = {
  GradientDescent: row((o) => new GradientDescent(o), { fun }, ["fun"], "stepsize"),
  ProximalGradient: row((o) => new ProximalGradient(o), { fun, prox: prox.lasso }, ["fun"], "acceleration"),
  ProjectedGradient: row(
    (o) => new ProjectedGradient(o),
    { fun, projection: projection.simplex },
    ["fun", "projection"],
    "stepsize",
  ),
  MirrorDescent: row((o) => new MirrorDescent(o), { fun, stepsize: 1 }, ["fun"], "projectionGrad"),
  BlockCoordinateDescent: row(
    (o) => new BlockCoordinateDescent(o),
    { fun, blockProx: prox.lasso },
    ["fun", "blockProx"],
    "lipschitz",
  ),
  LBFGS: row((o) => new LBFGS(o), { fun }, ["fun"], "historySize"),
  BFGS: row((o) => new BFGS(o), { fun }, ["fun"], "lineSearch"),
  NonlinearCG: row((o) => new NonlinearCG(o), { fun }, ["fun"], "restartEvery"),
  Newton: row((o) => new Newton(o), { fun }, ["fun"], "maxCgIter"),
  TrustRegion: row((o) => new TrustRegion(o), { fun }, ["fun"], "initialRadius"),
  LBFGSB: row((o) => new LBFGSB(o), { fun }, ["fun"], "maxLineSearchIter"),
  GaussNewton: row((o) => new GaussNewton(o), { residualFun }, ["residualFun"], "c2"),
  LevenbergMarquardt: row((o) => new LevenbergMarquardt(o), { residualFun }, ["residualFun"], "geodesicAcceleration"),
  FixedPointIteration: row(
    (o) => new FixedPointIteration(o),
    { fixedPointFun: vectorField },
    ["fixedPointFun"],
    "damping",
  ),
  AndersonAcceleration: row(
    (o) => new AndersonAcceleration(o),
    { fixedPointFun: vectorField },
    ["fixedPointFun"],
    "ridge",
  ),
  AndersonWrapper: row((o) => new AndersonWrapper(o), { solver: new GradientDescent({ fun }) }, [], "historySize"),
  Broyden: row((o) => new Broyden(o), { fun: vectorField }, ["fun"], "initialJacobian"),
  Bisection: row(
    (o) => new Bisection(o),
    { optimalityFun: vectorField, lower: -1, upper: 1 },
    ["optimalityFun"],
    "lower",
  ),
  EqualityConstrainedQP: row((o) => new EqualityConstrainedQP(o), {}, [], "solve", false),
  InteriorPointQP: row((o) => new InteriorPointQP(o), {}, [], "infeasibilityTol", false),
  OSQP: row((o) => new OSQP(o), {}, [], "adaptiveRhoInterval", false),
  BoxOSQP: row((o) => new BoxOSQP(o), {}, [], "throwOnFailure", false),
};

/** Exported abstract solver classes (no constructor of their own to check). */
const ABSTRACT = new Set([
  "Solver",
  "DescentMinimizer",
  "Minimizer",
  "LeastSquaresSolver",
  "RootFinder",
  "FixedPointSolver",
  "StandardQPSolver",
  "QPSolverBase",
]);

describe("solver options", () => {
  test("the table covers every concrete solver class the library exports", () => {
    const exported = Object.entries(diffopt)
      .filter(([, v]) => typeof v === "function" && (v === Solver || v.prototype instanceof Solver))
      .map(([k]) => k)
      .filter((k) => !ABSTRACT.has(k))
      .sort();
    assert.deepEqual(exported, Object.keys(SOLVERS).sort());
  });

  for (const [name, r] of Object.entries(SOLVERS)) {
    describe(name, () => {
      test("the minimal options construct", () => {
        const solver = r.make(r.minimal);
        assert.ok(solver instanceof Solver);
        assert.equal(solver.name, name);
      });

      test("a misspelled option throws a ValueError naming the solver and listing the valid options", () => {
        throwsValue(
          () => r.make({ ...r.minimal, maxiter: 10 }),
          new RegExp(`^${name}: unknown options "maxiter" \\(did you mean "maxIter"\\?\\)`),
          /the valid options are .*"maxIter"/,
          new RegExp(`"${r.own}"`),
        );
      });

      test("maxIter and tol of the wrong kind throw, saying what was given", () => {
        throwsValue(
          () => r.make({ ...r.minimal, tol: "1e-3" as never }),
          new RegExp(`^${name}: tol must be a non-negative number, got the string "1e-3"`),
        );
        throwsValue(
          () => r.make({ ...r.minimal, maxIter: 2.5 }),
          new RegExp(`^${name}: maxIter must be a non-negative integer, got 2\\.5`),
        );
      });

      for (const f of r.functions) {
        test(`a missing ${f} throws`, () => {
          const { [f]: _omitted, ...rest } = r.minimal;
          throwsValue(() => r.make(rest), new RegExp(`^${name}: options\\.${f} must be a function, got undefined`));
          throwsValue(
            () => r.make({ ...r.minimal, [f]: 3 }),
            new RegExp(`^${name}: options\\.${f} must be a function, got number`),
          );
        });
      }

      if (r.optionsRequired) {
        test("missing options throw a ValueError, not a TypeError", () => {
          throwsValue(
            () => r.make(undefined as never),
            new RegExp(`^${name}: (the options must be an object|options\\.)`),
          );
        });
      }
    });
  }

  test("AndersonWrapper: a missing or non-solver `solver` throws", () => {
    throwsValue(() => new AndersonWrapper({} as never), /^AndersonWrapper: options\.solver must be a solver/);
    throwsValue(
      () => new AndersonWrapper({ solver: fun } as never),
      /^AndersonWrapper: options\.solver must be a solver/,
    );
  });

  test("linearProgram: misspelled options and constraints throw, naming linearProgram", () => {
    const c = tensor([-1, -2]);
    const G = tensor([[1, 1]]);
    const h = tensor([4]);
    throwsValue(
      () => linearProgram(c, { G, h }, { maxiter: 10 } as never),
      /^linearProgram: unknown options "maxiter" \(did you mean "maxIter"\?\)/,
      /"infeasibilityTol"/,
      /"init"/,
    );
    throwsValue(
      () => linearProgram(c, { g: G, h } as never),
      /^linearProgram: unknown constraints "g" \(did you mean "G"\?\)/,
    );
    assert.ok(
      linearProgram(
        c,
        {
          G: tensor([
            [1, 1],
            [-1, 0],
            [0, -1],
          ]),
          h: tensor([4, 0, 0]),
        },
        { polish: true },
      ),
    );
  });
});
