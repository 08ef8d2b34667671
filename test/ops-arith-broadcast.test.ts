import { test } from "node:test";
import { add, sub, mul, div, where, broadcastTo, greater, tensor, type Tensor } from "../src/index.js";
import { assertClose, randTensor, rng } from "./helpers.js";

/** The specialised broadcast loops of add/sub/mul/div against broadcasting both operands explicitly first. */
test("arithmetic broadcast fast paths agree with explicit broadcasting on random shape pairs", () => {
  const r = rng(99);
  const ops: [string, (a: Tensor, b: Tensor) => Tensor, (x: number, y: number) => number][] = [
    ["add", add, (x, y) => x + y],
    ["sub", sub, (x, y) => x - y],
    ["mul", mul, (x, y) => x * y],
    ["div", div, (x, y) => x / y],
  ];
  for (let trial = 0; trial < 300; trial++) {
    const nd = 1 + Math.floor(r.uniform() * 4);
    const out = Array.from({ length: nd }, () => 1 + Math.floor(r.uniform() * 4));
    const pick = () => {
      const drop = Math.floor(r.uniform() * (nd + 1));
      return out.slice(drop).map((d) => (r.uniform() < 0.4 ? 1 : d));
    };
    const [sa, sb] = r.uniform() < 0.5 ? [out, pick()] : [pick(), out];
    const a = randTensor(r, sa, 0.5, 2);
    const b = randTensor(r, sb, 0.5, 2);
    const full = out.slice(Math.max(0, out.length - Math.max(sa.length, sb.length)));
    const A = broadcastTo(a, full);
    const B = broadcastTo(b, full);
    for (const [name, op, f] of ops) {
      const expected = tensor(
        A.data.map((x, i) => f(x, B.data[i]!)),
        full,
      );
      assertClose(op(a, b), expected, { rtol: 0, atol: 0 }, `${name} [${sa}] ∘ [${sb}]`);
    }
    const c = greater(a, 1);
    assertClose(
      where(broadcastTo(c, full), A, B),
      tensor(
        A.data.map((x, i) => (broadcastTo(c, full).data[i] ? x : B.data[i]!)),
        full,
      ),
      { rtol: 0, atol: 0 },
    );
  }
});
