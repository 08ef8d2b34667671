/**
 * Bad arguments at the public boundary get a typed error naming the public function and the argument: functions
 * that are not functions, repeated `argnums`, misspelled or invalid options of the transforms, the implicit layers
 * and the solvers. Each check is also a guarantee that the option is not silently ignored.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  GradientDescent,
  MirrorDescent,
  ProjectedGradient,
  ProximalGradient,
  BlockCoordinateDescent,
  ValueError,
  customFixedPoint,
  customRoot,
  grad,
  hessian,
  hvp,
  jacfwd,
  jacrev,
  jvp,
  linearize,
  mul,
  objective,
  projection,
  prox,
  rootJvp,
  rootVjp,
  sub,
  sum,
  tensor,
  valueAndGrad,
  vjp,
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

const x = tensor([1, 2]);
const f = (a: Tensor, b: Tensor) => sum(mul(a, b));
const notAFunction = 3 as unknown as (x: Tensor) => Tensor;

describe("transforms", () => {
  test("a non-function is rejected by every transform, naming it and the argument", () => {
    const cases: [string, () => unknown][] = [
      ["grad", () => grad(notAFunction)],
      ["valueAndGrad", () => valueAndGrad(notAFunction)],
      ["jacfwd", () => jacfwd(notAFunction)],
      ["jacrev", () => jacrev(notAFunction)],
      ["hessian", () => hessian(notAFunction)],
      ["jvp", () => jvp(notAFunction, [x], [x])],
      ["vjp", () => vjp(notAFunction, x)],
      ["hvp", () => hvp(notAFunction, [x], [x])],
      ["linearize", () => linearize(notAFunction, x)],
    ];
    for (const [name, run] of cases) throwsValue(run, new RegExp(`^${name}: f must be a function, got number`));
  });

  test("repeated argnums are rejected (not answered with disagreeing entries)", () => {
    throwsValue(() => grad(f, { argnums: [0, 0] })(x, x), /^grad: argnums \[0, 0\] names argument 0 twice/);
    throwsValue(() => valueAndGrad(f, { argnums: [1, 0, 1] })(x, x), /^valueAndGrad: .*argument 1 twice/);
    throwsValue(() => jacrev(f, { argnums: [1, 1] })(x, x), /^jacrev: /);
    throwsValue(() => jacfwd(f, { argnums: [0, 0] })(x, x), /^jacfwd: /);
    // distinct argnums in any order stay fine
    const [gb, ga] = grad(f, { argnums: [1, 0] })(tensor([1, 2]), tensor([3, 4]));
    assert.deepEqual(
      [gb.toArray(), ga.toArray()],
      [
        [1, 2],
        [3, 4],
      ],
    );
  });

  test("misspelled transform options are rejected with the valid ones", () => {
    throwsValue(() => grad(f, { argnum: 1 } as never), /^grad: unknown options "argnum"/, /"argnums", "hasAux"/);
    throwsValue(
      () => jacrev(f, { has_aux: true } as never),
      /^jacrev: unknown options "has_aux"; the valid options are "argnums", "hasAux"/,
    );
    throwsValue(() => hessian(f, 1 as never), /^hessian: options must be an object, got number/);
  });
});

describe("implicit layers", () => {
  const F = (x: Tensor, a: Tensor) => sub(mul(x, x), a);
  const solver = (_init: Tensor | undefined, a: Tensor) => tensor(Math.sqrt(a.item()));

  test("non-functions for F, T or the solver", () => {
    throwsValue(() => customRoot(notAFunction), /^customRoot: F must be a function/);
    throwsValue(() => customFixedPoint(notAFunction), /^customFixedPoint: T must be a function/);
    throwsValue(() => customRoot(F)(notAFunction), /^customRoot: solver must be a function, got number/);
    throwsValue(() => rootJvp(notAFunction, x, [], []), /^rootJvp: F must be a function/);
    throwsValue(() => rootVjp(notAFunction, x, [], x), /^rootVjp: F must be a function/);
  });

  test("invalid options throw when the layer is made, listing the valid ones", () => {
    throwsValue(
      () => customRoot(F, { residualTol: -1 }),
      /^customRoot: options\.residualTol must be a non-negative number, got -1/,
    );
    throwsValue(
      () => customRoot(F, { policy: "ignore" as never }),
      /^customRoot: options\.policy must be one of "throw", "warn", "lstsq", got "ignore"/,
    );
    throwsValue(
      () => customFixedPoint(F, { maxiter: 10 } as never),
      /^customFixedPoint: unknown options "maxiter" \(did you mean "maxIter"\?\)/,
      /"residualTol"/,
    );
    throwsValue(() => customRoot(F, { maxIter: 0 }), /maxIter must be a positive integer/);
    throwsValue(() => customRoot(F, { rtol: Number.NaN }), /rtol must be a non-negative number, got NaN/);
    throwsValue(() => customRoot(F, { symmetric: "yes" as never }), /symmetric must be true or false/);
    throwsValue(() => rootVjp(F, tensor(2), [tensor(4)], tensor(1), { atol: -1 }), /^rootVjp: options\.atol/);
    // valid options still work
    const sqrtOf = customRoot(F, { residualTol: 1e-8, policy: "throw", maxIter: 50 })(solver);
    assert.equal(grad((a: Tensor) => sqrtOf(undefined, a))(tensor(4)).item(), 0.25);
  });
});

describe("solvers", () => {
  const fun = objective.leastSquares;

  test("a missing or non-function fun is rejected at construction", () => {
    throwsValue(
      () => new GradientDescent({} as never),
      /^GradientDescent: options\.fun must be a function, got undefined/,
    );
    throwsValue(
      () => new GradientDescent(undefined as never),
      /^GradientDescent: the options must be an object with at least `fun`/,
    );
    throwsValue(
      () => new ProximalGradient({ fun: 1 } as never),
      /^ProximalGradient: options\.fun must be a function, got number/,
    );
    throwsValue(
      () => new ProximalGradient({ fun, prox: "lasso" } as never),
      /^ProximalGradient: options\.prox must be a function/,
    );
    throwsValue(
      () => new ProjectedGradient({ fun } as never),
      /^ProjectedGradient: options\.projection must be a function/,
    );
    throwsValue(() => new MirrorDescent({ stepsize: 1 } as never), /^MirrorDescent: options\.fun/);
    throwsValue(() => new BlockCoordinateDescent({ fun } as never), /^BlockCoordinateDescent: options\.blockProx/);
  });

  test("misspelled options are rejected with the nearest valid name and the full list", () => {
    throwsValue(
      () => new GradientDescent({ fun, maxiter: 10 } as never),
      /^GradientDescent: unknown options "maxiter" \(did you mean "maxIter"\?\)/,
      /"stepsize".*"maxIter"/,
    );
    throwsValue(
      () => new ProximalGradient({ fun, prox: prox.lasso, stepSize: 1 } as never),
      /"stepSize" \(did you mean "stepsize"\?\)/,
    );
    throwsValue(
      () => new ProjectedGradient({ fun, projection: projection.simplex, tolerance: 1 } as never),
      /^ProjectedGradient: unknown options "tolerance"/,
    );
    throwsValue(
      () => new MirrorDescent({ fun, stepsize: 1, mapping: 1 } as never),
      /^MirrorDescent: unknown options "mapping"/,
    );
  });

  test("invalid shared options, including the implicit ones", () => {
    throwsValue(
      () => new GradientDescent({ fun, verbose: "yes" as never }),
      /^GradientDescent: verbose must be true or false/,
    );
    throwsValue(
      () => new GradientDescent({ fun, callback: 1 as never }),
      /^GradientDescent: options\.callback must be a function/,
    );
    throwsValue(
      () => new GradientDescent({ fun, implicit: { residualTol: -1 } }),
      /^GradientDescent: options\.implicit\.residualTol must be a non-negative number/,
    );
    throwsValue(
      () => new GradientDescent({ fun, implicit: { policy: "ignore" as never } }),
      /^GradientDescent: options\.implicit\.policy must be one of "throw", "warn", "lstsq"/,
    );
    throwsValue(
      () => new GradientDescent({ fun, implicit: { tol: 1 } as never }),
      /^GradientDescent: unknown options\.implicit "tol"/,
    );
  });
});
