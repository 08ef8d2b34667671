/**
 * vmap core benchmark: a full Jacobian of a plain function by `jacrev` (one batched backward pass) against the
 * loop of pullbacks it replaces. (Per-example gradients and implicit layers are in `vmap.bench.ts`.)
 */
import { Tensor, jacrev, mul, random, stack, sum, tanh, vjp } from "../src/index.js";
import { formatTime, printTable, timeIt } from "./util.js";

function jacobianRows(): string[][] {
  const n = 200;
  const x = random.normal(random.key(4), [n]);
  const f = (v: Tensor) => tanh(mul(v, sum(v)));
  const tj = timeIt(() => jacrev(f)(x), { minBatches: 3 }).median;
  const tl = timeIt(
    () => {
      const [, pull] = vjp(f, x);
      const eye = Array.from({ length: n }, (_, k) => {
        const e = new Float64Array(n);
        e[k] = 1;
        return new Tensor(e, [n]);
      });
      return stack(eye.map((e) => pull(e)[0]));
    },
    { minBatches: 3 },
  ).median;
  return [
    [`jacrev of tanh(x·Σx), ${n}→${n}: batched pullback`, formatTime(tj)],
    ["  loop of pullbacks", formatTime(tl)],
    ["  speed-up", `${(tl / tj).toFixed(1)}×`],
  ];
}

/** Runs the vmap core benchmark and prints its table. */
export async function run(): Promise<void> {
  printTable("vmap against the JavaScript loop it replaces", ["quantity", "time"], jacobianRows());
}
