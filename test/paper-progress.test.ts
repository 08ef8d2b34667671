/**
 * The paper runner's progress bars: drawn in place on a TTY (label, bar, count, elapsed, ETA, message), silent
 * when the stream is not a TTY, throttled, and finished with a newline.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createProgress, formatDuration, progressLine } from "../paper/progress.js";

function fakeStream(isTTY: boolean, columns = 200) {
  const writes: string[] = [];
  return { isTTY, columns, writes, write: (chunk: string) => writes.push(chunk) };
}

test("progressLine shows label, bar, count, elapsed, ETA and message", () => {
  const line = progressLine("solve", 10, 40, 5000, "loss 0.25", 20);
  assert.equal(line, "solve [#####...............] 10/40  elapsed 5.0s  ETA 15.0s  loss 0.25");
  assert.match(progressLine("x", 0, 3, 10), /ETA \?/);
  assert.match(progressLine("x", 3, 3, 10, "", 4), /\[####\] 3\/3/);
});

test("formatDuration picks a readable unit", () => {
  assert.equal(formatDuration(850), "850ms");
  assert.equal(formatDuration(12_340), "12.3s");
  assert.equal(formatDuration(245_000), "4m05s");
  assert.equal(formatDuration(3_720_000), "1h02m");
  assert.equal(formatDuration(NaN), "?");
});

test("a bar draws in place on a TTY, throttled, and ends with a newline", () => {
  const stream = fakeStream(true);
  let t = 0;
  const bar = createProgress("outer", 4, { stream, now: () => t, minIntervalMs: 100, width: 8 });
  assert.equal(stream.writes.length, 1, "the empty bar is drawn at once");
  t = 50;
  bar.tick();
  assert.equal(stream.writes.length, 1, "a redraw within 100 ms is skipped");
  t = 200;
  bar.tick(1, "loss 1.5");
  assert.equal(stream.writes.length, 2);
  const last = stream.writes.at(-1)!;
  assert.ok(last.startsWith("\r") && last.includes("\x1b[K"), "redrawn in place");
  assert.match(last, /outer \[####\.\.\.\.\] 2\/4 {2}elapsed 200ms {2}ETA 200ms {2}loss 1\.5/);
  t = 210;
  bar.tick(2);
  bar.done();
  const final = stream.writes.at(-1)!;
  assert.match(final, /4\/4 .*loss 1\.5/);
  assert.ok(final.endsWith("\x1b[K\n"), "the final line ends with a newline");
  const count = stream.writes.length;
  bar.tick();
  bar.done();
  assert.equal(stream.writes.length, count, "a finished bar stays silent");
});

test("a bar is cut to the terminal width", () => {
  const stream = fakeStream(true, 30);
  createProgress("a long label", 10, { stream }).done();
  const visible = stream.writes.at(-1)!.replace("\r", "").replace("\x1b[K", "").replace("\n", "");
  assert.equal(visible.length, 29);
});

test("a bar is silent when the stream is not a TTY", () => {
  const stream = fakeStream(false);
  const bar = createProgress("quiet", 3, { stream });
  bar.tick();
  bar.tick(2, "message");
  bar.done();
  assert.deepEqual(stream.writes, []);
});
