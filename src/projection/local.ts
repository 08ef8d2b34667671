/**
 * The pattern shared by the projections: a fast Float64Array kernel computes the output *and* the discrete
 * structure of the solution (active set, support, blocks…); the derivatives come from a closed form that is
 * exact on the neighbourhood where that structure does not change, written with differentiable diffopt ops.
 *
 * `structuredCall` wraps both in a custom call: the kernel gives the value (so the output is exactly the
 * kernel's, e.g. exactly feasible), and the JVP/VJP are those of the closed form at the same point, with the
 * structure held fixed. Since the closed form is made of ops on the (possibly traced) inputs, the rules are
 * themselves differentiable and second derivatives are exact wherever the structure is locally constant.
 *
 * @module
 */
import { customCall, type CustomRule } from "../core/custom.js";
import { BatchingError } from "../core/errors.js";
import { Tensor, isBatched, zerosLike } from "../core/tensor.js";
import { batchLoop } from "../core/vmap.js";
import { jvp, vjp } from "../core/transforms.js";

/** @internal A structured op: kernel plus local closed form. */
export interface StructuredOp<S> {
  readonly name: string;
  /** The kernel, on the values of the inputs (reads `.raw` only): outputs and the discrete structure. */
  compute(args: readonly Tensor[]): { outs: Tensor[]; structure: S };
  /**
   * The closed form valid where `structure` holds, written with differentiable ops. Its value equals the
   * kernel's output up to rounding; only its derivatives are used.
   */
  local(args: readonly Tensor[], structure: S): Tensor[];
}

/**
 * @internal Applies a structured op to `args` under any nesting of transforms. Under `vmap` the structure differs
 * from element to element: the kernel runs per element (the custom call's loop), and a derivative rule over batched
 * inputs (`vmap(grad(f))`) rebuilds each element's structure and closed form in a loop (`batchLoop`).
 */
export function structuredCall<S>(op: StructuredOp<S>, args: readonly Tensor[]): Tensor[] {
  /** `rule(xs, structure)` on the primals `xs[0..n)`: directly, or per batch element when they are batched. */
  const local = (xs: Tensor[], n: number, structure: S | null, rule: (xs: Tensor[], s: S) => Tensor[]): Tensor[] => {
    if (structure !== null) return rule(xs, structure);
    const out = batchLoop(
      op.name,
      (...ys) => rule(ys as Tensor[], op.compute((ys as Tensor[]).slice(0, n)).structure),
      xs,
    );
    if (out === undefined) {
      throw new BatchingError(`${op.name}: its derivative rule met inputs batched by a vmap it cannot loop over here`);
    }
    return out;
  };
  const rule: CustomRule<S | null> = {
    name: op.name,
    primal(xs) {
      const { outs, structure } = op.compute(xs);
      return { outs, res: structure };
    },
    residuals(xs) {
      // Batched inputs have one structure per element: the rules rebuild them (see `local`).
      return xs.some(isBatched) ? null : op.compute(xs).structure;
    },
    jvp(primals, tangents, _outs, structure) {
      const n = primals.length;
      const filled = tangents.map((t, i) => t ?? zerosLike(primals[i]!));
      return local([...primals, ...filled], n, structure, (xs, st) => {
        const [, touts] = jvp<Tensor[]>((...ys: Tensor[]) => op.local(ys, st), xs.slice(0, n), xs.slice(n));
        return touts;
      });
    },
    vjp(primals, outs, cts, structure, needs) {
      const n = primals.length;
      const filled = cts.map((c, i) => c ?? zerosLike(outs[i]!));
      const grads = local([...primals, ...filled], n, structure, (xs, st) => {
        const [, pullback] = vjp<Tensor[]>((...ys: Tensor[]) => op.local(ys, st), ...xs.slice(0, n));
        return pullback(xs.slice(n)) as Tensor[];
      });
      return grads.map((g, i) => (needs[i] ? g : null));
    },
  };
  return customCall(rule, args);
}
