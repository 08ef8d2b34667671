/**
 * Type tests, compiled by `npm run typecheck` (not run): the transforms, the implicit layers and the solvers carry
 * the argument and result types of the user's function, and calls that cannot work do not compile
 * (`@ts-expect-error` fails the typecheck if the line below it compiles). `expectType<Exact<A, B>>()` fails unless
 * A and B are the same type, so a result type that degrades to `any` is caught too.
 */
/* eslint-disable @typescript-eslint/no-unused-vars -- the values below exist for their types */
import {
  GradientDescent,
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
  rootJvp,
  rootVjp,
  stationarity,
  sub,
  sum,
  square,
  tensor,
  valueAndGrad,
  vjp,
  vmap,
  type ImplicitLayer,
  type SolverFn,
  type SolverResult,
  type GradientDescentState,
  type Tensor,
  type TensorTree,
  type Tree,
} from "../src/index.js";

type Exact<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<_T extends true>(): void {}

interface Params {
  a: Tensor;
  b: Tensor[];
}
const w: Params = { a: tensor([1, 2]), b: [tensor(3)] };
const x = tensor([1, 2]);
const loss = (p: Params, z: Tensor) => sum(mul(p.a, z)).add(sum(square(p.b[0]!)));

// grad: the gradient has the type of the argument; argnums picks arguments; hasAux adds the aux output.
const g0 = grad(loss)(w, x);
expectType<Exact<typeof g0, { a: Tensor; b: Tensor[] }>>();
const g1 = grad(loss, { argnums: 1 })(w, x);
expectType<Exact<typeof g1, Tensor>>();
const g01 = grad(loss, { argnums: [0, 1] })(w, x);
expectType<Exact<typeof g01, [{ a: Tensor; b: Tensor[] }, Tensor]>>();
const withAux = (z: Tensor) => [sum(z), { n: z, k: 3 }] as const;
const ga = grad(withAux, { hasAux: true })(x);
expectType<Exact<typeof ga, [Tensor, { n: Tensor; k: Tensor }]>>();
const [v, gv] = valueAndGrad(loss)(w, x);
expectType<Exact<typeof v, Tensor>>();
expectType<Exact<typeof gv, { a: Tensor; b: Tensor[] }>>();
// numbers are scalar leaves: their gradients are tensors
const gn = grad((p: { s: number; t: Tensor }) => mul(p.s, sum(p.t)))({ s: 2, t: x });
expectType<Exact<typeof gn, { s: Tensor; t: Tensor }>>();
// unannotated parameters take the type of the call's arguments
const gu = grad((z) => sum(square(z)))(x);
expectType<Exact<typeof gu, Tensor>>();

// @ts-expect-error a gradient of a pytree is not a tensor
grad(loss)(w, x).toArray();
// @ts-expect-error the arguments must fit the function
grad(loss)(x, x);
// @ts-expect-error argnums out of the options' vocabulary
grad(loss, { argnum: 1 });

// Jacobians: the output's structure, with the input's structure at each leaf.
const J = jacrev((z: Tensor) => ({ p: mul(z, z), q: [z] }))(x);
expectType<Exact<typeof J, { p: Tensor; q: Tensor[] }>>();
const Jw = jacfwd((p: Params) => mul(p.a, 2))(w);
expectType<Exact<typeof Jw, { a: Tensor; b: Tensor[] }>>();
const J2 = jacfwd((a: Tensor, b: Tensor) => mul(a, b), { argnums: [0, 1] })(x, x);
expectType<Exact<typeof J2, [Tensor, Tensor]>>();
const H = hessian(loss)(w, x);
expectType<Exact<typeof H, { a: { a: Tensor; b: Tensor[] }; b: { a: Tensor; b: Tensor[] }[] }>>();
const Hx = hessian((z: Tensor) => sum(square(z)))(x);
expectType<Exact<typeof Hx, Tensor>>();
// hasAux: [jacobian of the first output, aux] (aux leaves become tensors, as for grad)
const Ja = jacrev((z: Tensor) => [{ p: mul(z, z) }, { n: z, k: 3 }] as const, { hasAux: true })(x);
expectType<Exact<typeof Ja, [{ p: Tensor }, { n: Tensor; k: Tensor }]>>();
const Jfa = jacfwd(withAux, { hasAux: true })(x);
expectType<Exact<typeof Jfa, [Tensor, { n: Tensor; k: Tensor }]>>();
const Ha = hessian(withAux, { hasAux: true })(x);
expectType<Exact<typeof Ha, [Tensor, { n: Tensor; k: Tensor }]>>();

// jvp, vjp, hvp, linearize
const [y, dy] = jvp(loss, [w, x], [w, x]);
expectType<Exact<typeof y, Tensor>>();
expectType<Exact<typeof dy, Tensor>>();
// @ts-expect-error tangents must have the primals' structure
jvp(loss, [w, x], [x, x]);
const [out, pullback] = vjp((p: Params) => ({ s: sum(p.a), t: p.b }), w);
expectType<Exact<typeof out, { s: Tensor; t: Tensor[] }>>();
const cts = pullback({ s: tensor(1), t: [tensor(1)] });
expectType<Exact<typeof cts, [{ a: Tensor; b: Tensor[] }]>>();
// @ts-expect-error the cotangent must have the output's structure
pullback(tensor(1));
const hv = hvp(loss, [w, x], [w, x]);
expectType<Exact<typeof hv, [{ a: Tensor; b: Tensor[] }, Tensor]>>();
const [y0, lin] = linearize(loss, w, x);
expectType<Exact<typeof y0, Tensor>>();
expectType<Exact<ReturnType<typeof lin>, Tensor>>();

// TensorTree maps leaves and keeps structure
expectType<Exact<TensorTree<{ a: number; b: [Tensor, { c: null }] }>, { a: Tensor; b: [Tensor, { c: null }] }>>();
expectType<Exact<TensorTree<Tree>, Tree>>();

// Implicit layers keep the solver's signature; rootJvp / rootVjp are typed by x and the arguments.
const F = (z: Tensor, a: Tensor) => sub(mul(z, z), a);
const solver = (_init: Tensor | undefined, a: Tensor) => tensor(Math.sqrt(a.item()));
const layer = customRoot(F)(solver);
expectType<Exact<typeof layer, ImplicitLayer<typeof solver>>>();
expectType<Exact<ReturnType<typeof layer>, Tensor>>();
expectType<Exact<Parameters<typeof layer>, [init: Tensor | undefined, a: Tensor]>>();
const asSolverFn: SolverFn = solver;
const rj = rootJvp(F, tensor(2), [tensor(4)], [tensor(1)]);
expectType<Exact<typeof rj, Tensor>>();
const rv = rootVjp(F, tensor(2), [tensor(4)], tensor(1));
expectType<Exact<typeof rv, [Tensor]>>();
const ridge = customRoot(stationarity((p: Params, lam: Tensor) => sum(square(p.a)).mul(lam)))(
  (_init: Params | undefined, _lam: Tensor): Params => w,
);
expectType<Exact<ReturnType<typeof ridge>, Params>>();

// Solvers: run returns params of the type of init.
const gd = new GradientDescent({ fun: objective.ridgeRegression });
const run = gd.run(tensor([0, 0]), tensor(0.1), [tensor([[1, 0]]), tensor([1])]);
expectType<Exact<typeof run, SolverResult<GradientDescentState, Tensor>>>();
run.params.toArray();
// @ts-expect-error GradientDescent needs fun
new GradientDescent({ stepsize: 1 });
// @ts-expect-error options are checked by name
new GradientDescent({ fun: objective.ridgeRegression, maxiter: 10 });

// vmap: the output keeps its structure (numbers become tensors); the arguments are checked against f's.
const vm = vmap((p: Params, v: Tensor) => ({ y: mul(p.a, v), n: 1 }), { inAxes: [null, 0] })(w, x);
expectType<Exact<typeof vm, { y: Tensor; n: Tensor }>>();
const perExample = vmap(
  grad((p: Params, v: Tensor) => sum(mul(p.a, v))),
  { inAxes: [null, 0] },
)(w, x);
expectType<Exact<typeof perExample, TensorTree<Params>>>();
// @ts-expect-error a string is no tensor argument
vmap((v: Tensor) => v)("x");
// @ts-expect-error inAxes entries are axes, null or pytrees of them
vmap((v: Tensor) => v, { inAxes: ["0"] });
