/**
 * The paper's `molecular-dynamics` experiment in quick mode (what CI runs through `npm run paper -- --quick`): it completes,
 * every claim holds, and every claim, figure and table is well-formed.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { claimFails } from "../paper/experiment.js";
import { molecularDynamics } from "../paper/experiments/molecular-dynamics.js";
import { assertWellFormedResult, runQuick } from "./paper-helpers.js";

test("molecular-dynamics (quick): every claim holds", async () => {
  const result = await runQuick(molecularDynamics);
  assertWellFormedResult(result);
  for (const c of result.claims) {
    assert.ok(!claimFails(c, true), `${c.id}: ${c.statement}: value ${c.value}, bound ${c.bound}`);
  }
});
