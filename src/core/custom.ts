/**
 * Custom derivative rules: `customJvp`, `customVjp`, and the internal `customCall` they (and the implicit
 * layers) are built on.
 *
 * A custom call is a multi-input, multi-output primitive whose rules are functions of the call. As with every
 * primitive, the rules run on values one level down and are written with differentiable ops, so custom rules
 * compose with any nesting of transforms:
 * - a `customVjp` function under `jvp`: the tangent is the transpose of the (linear) `bwd`, obtained by
 *   reverse-differentiating `bwd` with respect to its cotangent;
 * - a `customJvp` function under `vjp`: the cotangent is the transpose of the (linear) tangent map, obtained
 *   the same way.
 *
 * Under `vmap` a custom call runs its rule's `batch` when it has one; `customJvp`/`customVjp` have one that runs
 * the user's function and rules under a fresh batch level (so the rules stay in force for the transforms below
 * `vmap`). Without one (the linear-algebra and projection rules, the implicit layers), the call runs once per
 * batch element on plain values, which is always correct.
 *
 * @module
 */
import { batchTracer, jvpTracer, lower, makeNode, topLevel, vjpTracer, withBatchLevel } from "./engine.js";
import { BatchingError, DifferentiationError, ValueError } from "./errors.js";
import { Tensor, TraceKind, baseValues, describeValue, onesLike, zerosLike, type TapeNode } from "./tensor.js";
import { flatten, flattenLike, unflatten, type Tree, type TreeDef } from "./tree.js";
import { vjp, type TreeFn } from "./transforms.js";
import { batchLoop, perElement, splitBatch } from "./vmap.js";
import { moveBatchAxis } from "./ops/shape.js";
import { sum } from "./ops/reduce.js";
import { mul } from "./ops/elementwise.js";

/** @internal The rules of a custom call over flat lists of tensors. */
export interface CustomRule<R = unknown> {
  readonly name: string;
  /** Evaluates on concrete inputs: outputs and residuals for the rules. */
  primal(args: readonly Tensor[]): { outs: Tensor[]; res: R };
  /**
   * Residuals for inputs traced below the level being handled; they must carry those levels' derivatives.
   * Called only under nested transforms. Default: `primal` on the traced inputs.
   */
  residuals?(args: readonly Tensor[], outs: readonly Tensor[]): R;
  /** Tangents of the outputs (null: zero) given tangents of the inputs (null: zero). */
  jvp(
    primals: readonly Tensor[],
    tangents: readonly (Tensor | null)[],
    outs: readonly Tensor[],
    res: R,
  ): (Tensor | null)[];
  /** Cotangents of the inputs (null: zero) given cotangents of the outputs (null: zero). */
  vjp(
    primals: readonly Tensor[],
    outs: readonly Tensor[],
    cts: readonly (Tensor | null)[],
    res: R,
    needs: readonly boolean[],
  ): (Tensor | null)[];
  /**
   * Batching rule (see `Primitive.batch`): `args[i]` batched along `dims[i]` (null: not batched), `size` elements;
   * returns the batched outputs and their batch axes. Absent: the call runs once per element.
   */
  batch?(args: readonly Tensor[], dims: readonly (number | null)[], size: number): [Tensor[], (number | null)[]];
}

/**
 * @internal Applies a custom rule to `args`, dispatching to the transform of the highest level, like `bind`.
 */
export function customCall<R>(rule: CustomRule<R>, args: readonly Tensor[]): Tensor[] {
  return customCallRes(rule, args).outs;
}

function customCallRes<R>(rule: CustomRule<R>, args: readonly Tensor[]): { outs: Tensor[]; res: R } {
  const level = topLevel(args);
  if (level === 0) return rule.primal(args);
  let kind = TraceKind.Concrete;
  for (const a of args) if (a.level === level) kind = a.kind;
  // Callers above the batch level use only the outputs; residuals are recomputed by the rules that need them.
  if (kind === TraceKind.Batch) return { outs: batchCustomCall(rule, args, level), res: undefined as R };
  const primals = args.map((a) => lower(a, level));
  let outs: Tensor[];
  let res: R;
  if (topLevel(primals) === 0) {
    ({ outs, res } = rule.primal(primals));
  } else {
    outs = customCallRes(rule, primals).outs;
    res = rule.residuals ? rule.residuals(primals, outs) : rule.primal(primals).res;
  }
  if (kind === TraceKind.Jvp) {
    const tangents = args.map((a) => (a.level === level ? a.tangent : null));
    if (tangents.every((t) => t === null)) return { outs, res };
    const touts = perElementIfUnbatchable(
      `the JVP of ${rule.name}`,
      (...ts) => rule.jvp(primals, ts as (Tensor | null)[], outs, res),
      tangents,
      [...primals, ...outs],
    );
    return { outs: outs.map((o, i) => (touts[i] ? jvpTracer(level, o, touts[i]!) : o)), res };
  }
  const needs = args.map((a) => a.level === level);
  const parents: (TapeNode | null)[] = args.map((a) => (a.level === level ? a.node : null));
  const parentOut = args.map((a) => (a.level === level ? a.outIndex : 0));
  const node = makeNode(parents, parentOut, outs.length, (cts) =>
    perElementIfUnbatchable(
      `the VJP of ${rule.name}`,
      (...cs) => rule.vjp(primals, outs, cs as (Tensor | null)[], res, needs),
      cts,
      [...primals, ...outs],
    ),
  );
  return { outs: outs.map((o, i) => vjpTracer(level, o, node, i)), res };
}

/**
 * Runs a rule's JVP (VJP) on `batched` tangents (cotangents), or, when the rule cannot take a batch of them (it
 * reads their numbers: a `BatchingError`) and the point it is evaluated at is not batched, once per batch element.
 * That is what `jacfwd`/`jacrev` of a custom rule that calls a solver or a plain kernel needs: their basis is a batch
 * of tangents at one point, and the forward computation (a solve, a factorisation) then still runs only once.
 */
function perElementIfUnbatchable(
  who: string,
  rule: (...xs: (Tensor | null)[]) => (Tensor | null)[],
  batched: readonly (Tensor | null)[],
  point: readonly Tensor[],
): (Tensor | null)[] {
  try {
    return rule(...batched);
  } catch (e) {
    if (!(e instanceof BatchingError)) throw e;
    const level = topLevel(batched.filter((t): t is Tensor => t !== null));
    if (topLevel(point) >= level) throw e;
    const out = batchLoop(who, (...xs: Tree[]) => rule(...(xs as (Tensor | null)[])), batched);
    if (out === undefined) throw e;
    return out;
  }
}

/** A custom call on arguments batched at `level`: the rule's `batch`, or one call per element. */
function batchCustomCall<R>(rule: CustomRule<R>, args: readonly Tensor[], level: number): Tensor[] {
  const { vals, dims, size } = splitBatch(args, level);
  if (rule.batch !== undefined) {
    const [outs, ds] = rule.batch(vals, dims, size);
    return outs.map((o, i) => (ds[i] === null ? o : batchTracer(level, o, ds[i]!)));
  }
  const outs = perElement(`the custom rule ${rule.name}`, vals, dims, size, (xs) => customCall(rule, xs));
  return outs.map((o) => batchTracer(level, o, 0));
}

/**
 * The batching rule of a custom rule whose parts are written with ops (`customJvp`, `customVjp`): a custom call,
 * one level down, whose primal, JVP and VJP each run the original part under a fresh batch level (batch tracers
 * over the batched values) and return batched values with the batch at axis 0. Residuals are recomputed inside
 * the JVP and VJP (they would have to cross levels otherwise). The cotangent of an unbatched argument is summed
 * over the batch, as it is shared by every element.
 */
function batchRuleOf<R>(rule: CustomRule<R>): NonNullable<CustomRule["batch"]> {
  return (vals, dims, size) => {
    const wrap = (lv: number, xs: readonly (Tensor | null)[], ds: readonly (number | null)[]) =>
      xs.map((x, i) => (x === null || ds[i] === null ? x : batchTracer(lv, x, ds[i]!)));
    const batched = (lv: number, t: Tensor) => t.level === lv && t.kind === TraceKind.Batch;
    const unwrap = (lv: number, t: Tensor, to: number) =>
      batched(lv, t) ? moveBatchAxis(t.primal!, t.outIndex, to, size) : moveBatchAxis(t, null, to, size);
    const atZero = (xs: readonly unknown[]) => xs.map(() => 0);
    const partsAt = (lv: number, ps: readonly Tensor[], outs: readonly Tensor[]) => {
      const pw = wrap(lv, ps, dims) as Tensor[];
      const ow = wrap(lv, outs, atZero(outs)) as Tensor[];
      return { pw, ow, res: rule.residuals ? rule.residuals(pw, ow) : rule.primal(pw).res };
    };
    const inner: CustomRule<null> = {
      name: rule.name,
      primal(xs) {
        return withBatchLevel((lv) => ({
          outs: rule.primal(wrap(lv, xs, dims) as Tensor[]).outs.map((o) => unwrap(lv, o, 0)),
          res: null,
        }));
      },
      residuals() {
        return null;
      },
      jvp(ps, ts, outs) {
        return withBatchLevel((lv) => {
          const { pw, ow, res } = partsAt(lv, ps, outs);
          return rule.jvp(pw, wrap(lv, ts, dims), ow, res).map((t) => (t === null ? null : unwrap(lv, t, 0)));
        });
      },
      vjp(ps, outs, cts, _res, needs) {
        return withBatchLevel((lv) => {
          const { pw, ow, res } = partsAt(lv, ps, outs);
          return rule.vjp(pw, ow, wrap(lv, cts, atZero(cts)), res, needs).map((g, i) => {
            if (g === null) return null;
            if (dims[i] !== null) return unwrap(lv, g, dims[i]!);
            return batched(lv, g) ? sum(g.primal!, { axis: g.outIndex }) : mul(g, size);
          });
        });
      },
    };
    const outs = customCall(inner, vals);
    return [outs, atZero(outs)];
  };
}

/**
 * Transposes a linear map `lin` (given at a point `at` of its input) by reverse mode: returns lin*(ct).
 * Throws a `DifferentiationError` if `lin` is not written with differentiable ops (its output does not
 * depend on its input although it is non-zero), which would otherwise give a silently wrong derivative.
 */
function transposeLinear(what: string, lin: (...xs: Tree[]) => Tree, at: readonly Tree[], ct: Tree): Tree[] {
  let traced = false;
  const [, pullback] = vjp<Tree>(
    (...xs: Tree[]) => {
      const out = lin(...xs);
      const level = topLevel(xs.flatMap((x) => flatten(x)[0]));
      traced = flatten(out)[0].some((l) => l.level === level);
      return out;
    },
    ...at,
  );
  if (!traced) {
    // The output does not depend on the input: fine only if the map is identically zero.
    const probe = at.map((x) =>
      unflatten(
        flatten(x)[1],
        flatten(x)[0].map((l) => onesLike(l)),
      ),
    );
    // Under vmap the values of the whole batch: zero exactly when every element's are.
    if (flatten(lin(...probe))[0].some((l) => baseValues(l).raw.some((v) => v !== 0))) {
      throw new DifferentiationError(
        `${what} is not written with differentiable diffopt ops, so the transform nested around it cannot be computed; write it with ops on its inputs`,
      );
    }
  }
  return pullback(ct);
}

/** `customJvp(name)` for a named function, `customJvp` otherwise: how errors name a rule. */
function ruleName(kind: string, f: (...args: never[]) => unknown): string {
  return f.name ? `${kind}(${f.name})` : kind;
}

/**
 * Runs a user-written part of a custom rule, naming the rule in any `DifferentiationError` it raises: typically a
 * rule that reads plain numbers (`item()`, `toArray()`, `data`) from a traced input, which would otherwise give a
 * silently wrong derivative at an order (reverse over reverse, `jacrev(grad(f))`, `hessian`) that traces it.
 */
function runPart<T>(who: string, part: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (!(e instanceof DifferentiationError) || e.message.startsWith(`${who}: ${part}`)) throw e;
    throw new DifferentiationError(
      `${who}: ${part} cannot be differentiated by the transform applied to it (write it with diffopt ops on its ` +
        `inputs so that it is differentiable to the order needed): ${e.message}`,
    );
  }
}

/** `fn` renamed `name` (a custom rule's wrapper keeps the name of the function it wraps, for errors and traces). */
function withName<T extends (...args: never[]) => unknown>(fn: T, name: string): T {
  return Object.defineProperty(fn, "name", { value: name });
}

function checkFunction<T>(fn: T, who: string, arg: string): T {
  if (typeof fn !== "function") throw new ValueError(`${who}: ${arg} must be a function, got ${describeValue(fn)}`);
  return fn;
}

/** Checks that a user rule returned a pair `[a, b]` (as `fwd` and a JVP rule must). */
function checkPair(value: unknown, who: string, what: string): [Tree, Tree] {
  if (!Array.isArray(value) || value.length !== 2) {
    throw new ValueError(
      `${who}: ${what} must return a pair [${what === "fwd" ? "output, residuals" : "output, tangent"}], got ${describeValue(value)}`,
    );
  }
  return value as [Tree, Tree];
}

function zeroTree(def: TreeDef, like: readonly Tensor[]): Tree {
  return unflatten(
    def,
    like.map((l) => zerosLike(l)),
  );
}

/**
 * Defines `f` with a custom forward-mode rule. `jvpRule(primals, tangents)` returns `[out, tangentOut]`, with
 * `primals`/`tangents` the argument lists; write it with diffopt ops so higher derivatives work. Under reverse
 * mode the rule is transposed automatically (it must be linear in the tangents, as every JVP is). A rule that reads
 * its inputs as plain numbers (`item()`, `toArray()`, `data`) is right at first order only: where a transform
 * traces those inputs (a second derivative) it throws a `DifferentiationError` naming the rule — `customJvp(f)`
 * for a named `f` — instead of giving a silently wrong derivative. Malformed returns are typed errors naming it too.
 *
 * @example
 * ```ts
 * import { customJvp, grad, log1p, exp, mul, sigmoid, tensor } from "diffopt";
 * // softplus with a hand-written derivative
 * const softplus = customJvp(
 *   (x) => log1p(exp(x)),
 *   ([x], [t]) => [log1p(exp(x)), mul(t, sigmoid(x))],
 * );
 * grad(softplus)(tensor(0)).item(); // 0.5
 * ```
 */
// `any` in user callbacks: users annotate their own parameter types, and a `(x: Tensor) => …` is not assignable to a `(x: Tree) => …`.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function customJvp<F extends TreeFn>(f: F, jvpRule: (primals: any[], tangents: any[]) => [Tree, Tree]): F {
  const who = ruleName("customJvp", checkFunction(f, "customJvp", "f"));
  checkFunction(jvpRule, who, "jvpRule");
  const tangentOf = (ps: Tree[], ts: Tree[]): Tree =>
    runPart(who, "the jvp rule", () => checkPair(jvpRule(ps, ts), who, "the jvp rule")[1]);
  const wrapped = (...args: Tree[]) => {
    const [leaves, def] = flatten(args);
    let outDef: TreeDef | null = null;
    const primalTree = (xs: readonly Tensor[]) => unflatten<Tree[]>(def, xs);
    const rule: CustomRule<null> = {
      name: "customJvp",
      primal(xs) {
        const [outs, od] = flatten(runPart(who, "f", () => f(...primalTree(xs))));
        outDef = od;
        return { outs, res: null };
      },
      residuals() {
        return null;
      },
      jvp(ps, ts, outs) {
        const full = ts.map((t, i) => t ?? zerosLike(ps[i]!));
        const tout = tangentOf(primalTree(ps), primalTree(full));
        return flattenLike(tout, outDef!, outs, `${who}: the jvp rule's tangent vs f's output`);
      },
      vjp(ps, outs, cts) {
        const ctTree = unflatten(
          outDef!,
          cts.map((c, i) => c ?? zerosLike(outs[i]!)),
        );
        const zeroTangents = primalTree(ps.map((p) => zerosLike(p)));
        const g = transposeLinear(
          `${who}: the jvp rule`,
          (...ts: Tree[]) => {
            const tout = tangentOf(primalTree(ps), ts);
            flattenLike(tout, outDef!, outs, `${who}: the jvp rule's tangent vs f's output`);
            return tout;
          },
          zeroTangents,
          ctTree,
        );
        return flatten(g)[0];
      },
    };
    rule.batch = batchRuleOf(rule);
    const outs = customCall(rule, leaves);
    return unflatten(outDef!, outs);
  };
  return withName(wrapped, f.name) as unknown as F;
}

/**
 * Defines `f` with a custom reverse-mode rule, like `jax.custom_vjp`. `fwd(...args)` returns `[out, residuals]`;
 * `bwd(residuals, cotangent)` returns the list of cotangents, one per argument. Write `bwd` with diffopt ops so
 * higher derivatives work; under forward mode `bwd` is transposed automatically. A `bwd` (or `fwd`) that reads its
 * inputs as plain numbers (`item()`, `toArray()`, `data`) is right for a first derivative only: under
 * reverse-over-reverse, `jacrev(grad(f))`, `hessian` or `jvp` those inputs are traced, and the read throws a
 * `DifferentiationError` naming the rule — `customVjp(f)` for a named `f` — instead of giving a silent zero.
 * Malformed returns (not a pair from `fwd`, not one cotangent per argument from `bwd`, wrong shapes) are typed
 * errors naming it too.
 *
 * @example
 * ```ts
 * import { customVjp, grad, sqrt, div, mul, tensor } from "diffopt";
 * // sqrt whose gradient reuses the forward value
 * const mySqrt = customVjp(
 *   (x) => sqrt(x),
 *   (x) => { const y = sqrt(x); return [y, y]; },
 *   (y, g) => [div(mul(g, 0.5), y)],
 * );
 * grad(mySqrt)(tensor(4)).item(); // 0.25
 * ```
 */
export function customVjp<F extends TreeFn>(
  f: F,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  fwd: (...args: any[]) => [Tree, Tree],
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  bwd: (residuals: any, cotangent: any) => Tree[],
): F {
  const who = ruleName("customVjp", checkFunction(f, "customVjp", "f"));
  checkFunction(fwd, who, "fwd");
  checkFunction(bwd, who, "bwd");
  const runFwd = (xs: Tree[]) => runPart(who, "fwd", () => checkPair(fwd(...xs), who, "fwd"));
  const wrapped = (...args: Tree[]) => {
    const [leaves, def] = flatten(args);
    let outDef: TreeDef | null = null;
    const primalTree = (xs: readonly Tensor[]) => unflatten<Tree[]>(def, xs);
    // bwd's cotangents, checked: an array with one cotangent per argument, of the arguments' structure and shapes.
    const runBwd = (ps: readonly Tensor[], res: Tree, ct: Tree): Tensor[] => {
      const g = runPart(who, "bwd", () => bwd(res, ct));
      if (!Array.isArray(g) || g.length !== args.length) {
        throw new ValueError(
          `${who}: bwd must return an array with one cotangent per argument (${args.length}), got ${describeValue(g)}`,
        );
      }
      return flattenLike(g, def, ps, `${who}: bwd's cotangents vs the arguments`);
    };
    const rule: CustomRule<Tree> = {
      name: "customVjp",
      primal(xs) {
        const [out, res] = runFwd(primalTree(xs));
        const [outs, od] = flatten(out);
        outDef = od;
        return { outs, res };
      },
      residuals(xs) {
        return runFwd(primalTree(xs))[1];
      },
      jvp(ps, ts, outs, res) {
        const full = ts.map((t, i) => t ?? zerosLike(ps[i]!));
        const g = transposeLinear(
          `${who}: bwd`,
          (ct: Tree) => unflatten<Tree[]>(def, runBwd(ps, res, ct)),
          [zeroTree(outDef!, outs)],
          primalTree(full),
        );
        return flatten(g[0]!)[0];
      },
      vjp(ps, outs, cts, res) {
        const ctTree = unflatten(
          outDef!,
          cts.map((c, i) => c ?? zerosLike(outs[i]!)),
        );
        return runBwd(ps, res, ctTree);
      },
    };
    rule.batch = batchRuleOf(rule);
    const outs = customCall(rule, leaves);
    return unflatten(outDef!, outs);
  };
  return withName(wrapped, f.name) as unknown as F;
}
