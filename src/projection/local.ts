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
import { Tensor, zerosLike } from "../core/tensor.js";
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

/** @internal Applies a structured op to `args` under any nesting of transforms. */
export function structuredCall<S>(op: StructuredOp<S>, args: readonly Tensor[]): Tensor[] {
  const rule: CustomRule<S> = {
    name: op.name,
    primal(xs) {
      const { outs, structure } = op.compute(xs);
      return { outs, res: structure };
    },
    residuals(xs) {
      return op.compute(xs).structure;
    },
    jvp(primals, tangents, _outs, structure) {
      const filled = tangents.map((t, i) => t ?? zerosLike(primals[i]!));
      const [, touts] = jvp<Tensor[]>((...xs: Tensor[]) => op.local(xs, structure), [...primals], filled);
      return touts;
    },
    vjp(primals, outs, cts, structure, needs) {
      const [, pullback] = vjp<Tensor[]>((...xs: Tensor[]) => op.local(xs, structure), ...primals);
      const grads = pullback(cts.map((c, i) => c ?? zerosLike(outs[i]!))) as Tensor[];
      return grads.map((g, i) => (needs[i] ? g : null));
    },
  };
  return customCall(rule, args);
}
