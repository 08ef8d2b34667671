/**
 * The dictionary-learning experiment: its AUC (by hand and against scikit-learn), its confidence intervals, the
 * shipped breast cancer data, and its quick mode, whose claim must hold.
 */
import assert from "node:assert/strict";
import { claimFails } from "../paper/experiment.js";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { ValueError } from "../src/index.js";
import { auc, meanInterval95, studentT975 } from "../paper/experiments/dictionary-learning-stats.js";
import { loadBreastCancer } from "../paper/data/breast-cancer.js";
import { dictionaryLearning } from "../paper/experiments/dictionary-learning.js";
import { runQuick } from "./paper-helpers.js";
import { assertClose } from "./helpers.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

test("auc counts the ordered positive–negative pairs, ties as one half", () => {
  // positives 0.35, 0.8; negatives 0.1, 0.4: pairs won 1 + 0 + 1 + 1 = 3 of 4
  assert.equal(auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]), 0.75);
  // positives 0.5, 0.9; negatives 0.5, 0.2: ½ (tie) + 1 + 1 + 1 = 3.5 of 4
  assert.equal(auc([0.5, 0.5, 0.2, 0.9], [1, 0, 0, 1]), 0.875);
  assert.equal(auc([1, 2, 3], [0, 1, 1]), 1);
  assert.equal(auc([1, 2, 3], [1, 0, 0]), 0);
  assert.equal(auc([2, 2, 2, 2], [1, 0, 1, 0]), 0.5);
});

test("auc matches scikit-learn's roc_auc_score (fixture from paper/fixtures/auc-fixture.py)", () => {
  const scores = [
    -0.1, 0.1, 0.1, -0.2, 1.1, 1.4, -0.5, 0.9, 0.1, -0.6, 3.0, 1.8, -0.2, 0.1, 0.6, -0.2, 0.7, -0.1, 0.7, 1.4, 0.3, 1.2,
    -0.5, 1.1, -0.2, -0.6, -0.2, 0.9, 1.1, -1.3, -0.8, 1.6, -1.0, 0.5, -0.1, 2.3, 1.7, 0.7, -0.4, 0.7,
  ];
  const labels = [
    0, 0, 0, 1, 1, 0, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0,
    1,
  ];
  assertClose(auc(scores, labels), 0.6841432225063939, { rtol: 1e-14 });
});

test("auc rejects one-class labels, non-binary labels and mismatched lengths", () => {
  assert.throws(() => auc([1, 2], [1, 1]), /both classes/);
  assert.throws(() => auc([1, 2], [0, 2]), ValueError);
  assert.throws(() => auc([1, 2, 3], [0, 1]), /3 scores but 2 labels/);
});

test("meanInterval95 uses Student's t with n − 1 degrees of freedom", () => {
  const r = meanInterval95([1, 2, 3]); // s = 1, t(0.975, 2) = 4.303
  assert.equal(r.mean, 2);
  assertClose(r.halfWidth, 4.303 / Math.sqrt(3), { rtol: 1e-12 });
  assert.equal(meanInterval95([5]).halfWidth, 0);
  assert.equal(studentT975(9), 2.262);
  // the expansion beyond the table continues it (t(0.975, 40) = 2.0211, t(0.975, 120) = 1.9799)
  assertClose(studentT975(40), 2.0211, { rtol: 1e-4 });
  assertClose(studentT975(120), 1.9799, { rtol: 1e-4 });
  assert.ok(studentT975(31) < studentT975(30));
});

test("the shipped breast cancer data: 569 × 30, 212 malignant (0) and 357 benign (1)", () => {
  const data = loadBreastCancer(root);
  assert.equal(data.n, 569);
  assert.equal(data.d, 30);
  assert.equal(data.y.filter((v) => v === 1).length, 357);
  assert.equal(data.X[0], 17.99); // first feature of the first sample (mean radius)
  assert.equal(data.X[30], 20.57); // first feature of the second sample
});

test("dictionary-learning --quick: the task-driven dictionary lowers the task loss; the AUC table is complete", async () => {
  const r = await runQuick(dictionaryLearning);
  for (const c of r.claims)
    assert.ok(!claimFails(c, true), `${c.id}: ${c.statement} (value ${c.value}, bound ${c.bound})`);
  const table = r.tables[0]!;
  assert.equal(table.rows.length, 4);
  for (const row of table.rows) for (const cell of row.slice(1)) assert.match(String(cell), /^0\.\d{3} ± 0\.\d{3}$/);
  const synthetic = r.results.synthetic as { aucPerSplit: number[][] };
  assert.equal(synthetic.aucPerSplit.length, 3);
  assert.ok(synthetic.aucPerSplit.flat().every((a) => a > 0.5 && a <= 1));
});
