/**
 * Doc-example harness: finds the ```ts blocks of `/** … *\/` comments, instruments the lines whose trailing comment
 * states a value (`EXPR; // [2, 4]`) so the value is checked when the example runs, and runs an example as an ES
 * module whose `"diffopt"` imports resolve to the repository's `src/index.ts`.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import { transformSync } from "esbuild";
import ts from "typescript";

/** One ```ts block of a doc comment: its source file, the line of its first code line and its code. */
export interface DocExample {
  file: string;
  line: number;
  code: string;
}

/**
 * What a trailing comment says about a value: `≈` prefixes loosen the tolerance, a `Float64Array` prefix also
 * checks the type.
 */
export interface Expectation {
  value: unknown;
  approx: boolean;
  float64Array: boolean;
}

/** Relative and absolute tolerance of exact literals, and the (looser) one of `≈` literals. */
const EXACT_TOL = { rtol: 1e-6, atol: 1e-9 };
const APPROX_TOL = { rtol: 1e-3, atol: 1e-3 };

/** All `.ts` files under `dir`, sorted. */
export function listSourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts"))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

/** The ```ts blocks of every doc comment of `text`, lines stripped of their leading ` * `. */
export function extractExamples(text: string, file: string): DocExample[] {
  const examples: DocExample[] = [];
  let firstLine = 1;
  let scanned = 0;
  for (const match of text.matchAll(/\/\*\*[\s\S]*?\*\//g)) {
    for (; scanned < match.index; scanned++) if (text.charCodeAt(scanned) === 10) firstLine++;
    const lines = match[0].split("\n").map((l) => l.replace(/^\s*\*(?!\/) ?/, ""));
    let start = -1;
    for (let i = 0; i < lines.length; i++) {
      const fence = lines[i]!.trim();
      if (start < 0 && fence === "```ts") start = i + 1;
      else if (start >= 0 && fence.startsWith("```")) {
        examples.push({ file, line: firstLine + start, code: lines.slice(start, i).join("\n") });
        start = -1;
      }
    }
    if (start >= 0) throw new Error(`${file}:${firstLine + start - 1}: unterminated \`\`\`ts block`);
  }
  return examples;
}

/** Removes `tensor(…)` wrappers (keeping their argument) and quotes bare object keys, so `{ a: tensor(2) }` parses. */
function jsonish(text: string): string {
  let out = "";
  const closers: boolean[] = [];
  for (let i = 0; i < text.length; i++) {
    if (text.startsWith("tensor(", i)) {
      closers.push(true);
      i += "tensor(".length - 1;
    } else if (text[i] === "(") {
      closers.push(false);
      out += "(";
    } else if (text[i] === ")") {
      if (!closers.pop()) out += ")";
    } else out += text[i];
  }
  return out.replace(/([{,]\s*)([A-Za-z_$][\w$]*)\s*:/g, '$1"$2":');
}

/** The JSON value of `text`, also accepting the `tensor(…)` and bare-key forms; undefined if it is not one. */
function parseLiteral(text: string): { value: unknown } | undefined {
  for (const candidate of [text, jsonish(text)]) {
    try {
      return { value: JSON.parse(candidate) };
    } catch {
      // not a literal in this form
    }
  }
  return undefined;
}

/** The expectation stated by a trailing comment, or undefined when the comment is prose (the line is just run). */
export function parseExpectation(comment: string): Expectation | undefined {
  let text = comment.trim();
  const approx = text.startsWith("≈");
  if (approx) text = text.slice(1).trim();
  const float64Array = text.startsWith("Float64Array ");
  if (float64Array) text = text.slice("Float64Array ".length);
  const literal = parseLiteral(text);
  return literal && { value: literal.value, approx, float64Array };
}

/** Splits `[2, 2] 4 "a b"` at the spaces outside brackets and strings. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let inString = false;
  let current = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inString && c === "\\") {
      current += c + (text[++i] ?? "");
      continue;
    }
    if (inString) {
      if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if ("[{(".includes(c)) depth++;
    else if ("]})".includes(c)) depth--;
    if (!inString && depth === 0 && /\s/.test(c)) {
      if (current) parts.push(current);
      current = "";
    } else current += c;
  }
  if (current) parts.push(current);
  return parts;
}

/** The expectations of a `console.log(a, b); // 6 [1, 2]` comment, one per printed value, or undefined if prose. */
export function parseLogExpectations(comment: string): Expectation[] | undefined {
  const expectations = splitTopLevel(comment.trim()).map(parseExpectation);
  return expectations.every((e) => e !== undefined) ? (expectations as Expectation[]) : undefined;
}

/** Tensors become nested arrays (duck-typed: `shape` and `toArray`), typed arrays plain arrays, recursively. */
function plain(value: unknown): unknown {
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) return Array.from(value as Float64Array);
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === "object") {
    const t = value as { shape?: unknown; toArray?: () => unknown };
    if (Array.isArray(t.shape) && typeof t.toArray === "function") return t.toArray();
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

/** Where `actual` first differs from `expected` (a path and a reason), or undefined if they match. */
function difference(actual: unknown, expected: unknown, tol: typeof EXACT_TOL, path = ""): string | undefined {
  if (typeof expected === "number") {
    if (typeof actual !== "number") return `${path || "value"}: expected a number, got ${JSON.stringify(actual)}`;
    const ok = Math.abs(actual - expected) <= tol.atol + tol.rtol * Math.abs(expected);
    return ok ? undefined : `${path || "value"}: expected ${expected}, got ${actual}`;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return `${path || "value"}: expected an array, got ${JSON.stringify(actual)}`;
    if (actual.length !== expected.length) {
      return `${path || "value"}: expected length ${expected.length}, got ${JSON.stringify(actual)}`;
    }
    for (let i = 0; i < expected.length; i++) {
      const d = difference(actual[i], expected[i], tol, `${path}[${i}]`);
      if (d) return d;
    }
    return undefined;
  }
  if (expected !== null && typeof expected === "object") {
    if (actual === null || typeof actual !== "object") {
      return `${path || "value"}: expected an object, got ${JSON.stringify(actual)}`;
    }
    const keys = Object.keys(expected).sort();
    const actualKeys = Object.keys(actual).sort();
    if (keys.join() !== actualKeys.join()) return `${path || "value"}: expected keys [${keys}], got [${actualKeys}]`;
    for (const k of keys) {
      const d = difference((actual as any)[k], (expected as any)[k], tol, `${path}.${k}`);
      if (d) return d;
    }
    return undefined;
  }
  return actual === expected ? undefined : `${path || "value"}: expected ${JSON.stringify(expected)}, got ${actual}`;
}

/** Throws an error naming `where` if `actual` does not match the expectation; returns `actual` otherwise. */
export function checkValue<T>(actual: T, expectation: Expectation, where: string): T {
  if (expectation.float64Array && !(actual instanceof Float64Array)) {
    throw new Error(`${where}: expected a Float64Array, got ${Object.prototype.toString.call(actual)}`);
  }
  const d = difference(plain(actual), expectation.value, expectation.approx ? APPROX_TOL : EXACT_TOL);
  if (d) throw new Error(`${where}: ${d}`);
  return actual;
}

/** Checks the values a statement logged against its comment's values. */
export function checkLog(args: unknown[], expectations: Expectation[], where: string): void {
  if (args.length !== expectations.length) {
    throw new Error(`${where}: console.log printed ${args.length} values, the comment states ${expectations.length}`);
  }
  args.forEach((a, i) => checkValue(a, expectations[i]!, `${where} (value ${i + 1})`));
}

/** Checks that `run` throws an error named `name` whose message is `message` (a prefix if it ends with `…`). */
export function checkThrows(run: () => unknown, name: string, message: string | undefined, where: string): void {
  let thrown: unknown;
  try {
    run();
  } catch (e) {
    thrown = e;
  }
  if (thrown === undefined) throw new Error(`${where}: expected a ${name}, nothing was thrown`);
  if (!(thrown instanceof Error) || thrown.name !== name) {
    throw new Error(`${where}: expected a ${name}, got ${String(thrown)}`, { cause: thrown });
  }
  const ok =
    message === undefined ||
    (message.endsWith("…") ? thrown.message.startsWith(message.slice(0, -1)) : thrown.message === message);
  if (!ok) {
    const got = JSON.stringify(thrown.message);
    throw new Error(`${where}: expected the message ${JSON.stringify(message)}, got ${got}`, { cause: thrown });
  }
}

/** `// NonFiniteError: message` or `// NonFiniteError`: the error a statement is documented to throw. */
function parseThrows(comment: string): { name: string; message: string | undefined } | undefined {
  const m = /^\s*([A-Z]\w*Error)(?::\s*(.*\S))?\s*$/.exec(comment);
  return m ? { name: m[1]!, message: m[2] } : undefined;
}

/** The text of a `//` comment ending the line of `pos`, or else filling the next line; undefined if neither. */
function commentAfter(code: string, pos: number): string | undefined {
  const trailing = ts
    .getTrailingCommentRanges(code, pos)
    ?.find((c) => c.kind === ts.SyntaxKind.SingleLineCommentTrivia);
  if (trailing) return code.slice(trailing.pos + 2, trailing.end);
  const lineEnd = code.indexOf("\n", pos);
  if (lineEnd < 0 || code.slice(pos, lineEnd).trim() !== "") return undefined;
  const next = code
    .slice(lineEnd + 1)
    .split("\n", 1)[0]!
    .trim();
  return next.startsWith("//") ? next.slice(2) : undefined;
}

/** The values passed to `console.log` while examples run, checked per statement against its comment. */
export class LogChecker {
  readonly logged: unknown[] = [];
  private start = 0;

  /** Starts a statement: only values logged from now on are checked by the next {@link check}. */
  mark(): void {
    this.start = this.logged.length;
  }

  /** Checks the values logged since {@link mark}. */
  check(expectations: Expectation[], where: string): void {
    checkLog(this.logged.slice(this.start), expectations, where);
  }
}

/** The global through which instrumented examples reach the checks: `{ checkValue, checkThrows, log }`. */
export const CHECKER = "__docExampleChecker";

/** Whether `node` is an entry of a statement list (of the module, a block, a case clause). */
function isListedStatement(node: ts.Node): node is ts.Statement {
  const p = node.parent;
  return (
    p !== undefined &&
    (ts.isSourceFile(p) || ts.isBlock(p) || ts.isCaseClause(p) || ts.isDefaultClause(p)) &&
    (p as { statements: ts.NodeArray<ts.Statement> }).statements.includes(node as ts.Statement)
  );
}

/**
 * Rewrites the statements of `example` whose comment states values: `EXPR; // v` becomes a checked `EXPR`;
 * `const x = EXPR; // v` checks `x`'s value; a statement that calls `console.log` with a comment such as
 * `// 6 [1, 2]` checks the values it logs; `EXPR;` followed by `// SomeError: message` (on the same or the next
 * line) checks that `EXPR` throws that error. Returns the rewritten code and the `file:line` of every check.
 */
export function instrument(example: DocExample): { code: string; checks: string[] } {
  const { code } = example;
  const source = ts.createSourceFile("example.ts", code, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const edits: { start: number; end: number; text: string }[] = [];
  const checks: string[] = [];
  const checker = `globalThis.${CHECKER}`;

  /** Adds the edits checking `stmt`; true if they replace code in it (so it is not searched further). */
  const instrumentStatement = (stmt: ts.Statement): boolean => {
    const line = `${example.file}:${example.line + source.getLineAndCharacterOfPosition(stmt.end).line}`;
    const where = JSON.stringify(line);
    const throws = ts.isExpressionStatement(stmt) ? parseThrows(commentAfter(code, stmt.end) ?? "") : undefined;
    if (ts.isExpressionStatement(stmt) && throws) {
      const args = [JSON.stringify(throws.name), JSON.stringify(throws.message) ?? "undefined", where];
      const run = `() => (${stmt.expression.getText()})`;
      const text = `${checker}.checkThrows(${run}, ${args.join(", ")});`;
      edits.push({ start: stmt.getStart(), end: stmt.end, text });
      checks.push(line);
      return true;
    }
    const comment = ts
      .getTrailingCommentRanges(code, stmt.end)
      ?.find((c) => c.kind === ts.SyntaxKind.SingleLineCommentTrivia);
    if (!comment) return false;
    const commentText = code.slice(comment.pos + 2, comment.end);
    if (stmt.getText().includes("console.log(")) {
      const expectations = parseLogExpectations(commentText);
      if (!expectations) return false;
      edits.push({ start: stmt.getStart(), end: stmt.getStart(), text: `${checker}.log.mark(); ` });
      const text = ` ${checker}.log.check(${JSON.stringify(expectations)}, ${where});`;
      edits.push({ start: stmt.end, end: stmt.end, text });
      checks.push(line);
      return false;
    }
    let target: ts.Expression | undefined;
    if (ts.isExpressionStatement(stmt)) target = stmt.expression;
    else if (ts.isVariableStatement(stmt)) {
      const decls = stmt.declarationList.declarations;
      if (decls.length === 1 && ts.isIdentifier(decls[0]!.name)) target = decls[0]!.initializer;
    }
    const expectation = target && parseExpectation(commentText);
    if (!target || !expectation) return false;
    const text = `${checker}.checkValue((${target.getText()}), ${JSON.stringify(expectation)}, ${where})`;
    edits.push({ start: target.getStart(), end: target.end, text });
    checks.push(line);
    return true;
  };

  const visit = (node: ts.Node): void => {
    if (isListedStatement(node) && instrumentStatement(node)) return;
    ts.forEachChild(node, visit);
  };
  visit(source);
  let out = code;
  for (const e of edits.sort((x, y) => y.start - x.start)) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  return { code: out, checks };
}

/** Example runner: instruments, transpiles with esbuild and imports each example from a temporary directory. */
export class ExampleRunner {
  private readonly dir = mkdtempSync(join(tmpdir(), "diffopt-doc-examples-"));
  private readonly indexUrl: string;
  private count = 0;

  /** `root` is the repository root; `"diffopt"` resolves to its `src/index.ts`. */
  constructor(root: string) {
    this.indexUrl = pathToFileURL(join(root, "src", "index.ts")).href;
  }

  /** Deletes the temporary directory of the compiled examples. */
  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** JavaScript of the instrumented example, with `"diffopt"` imports pointing at `src/index.ts`. */
  compile(example: DocExample): { js: string; checks: string[] } {
    const { code, checks } = instrument(example);
    const resolved = code.replace(/(\bfrom\s*|\bimport\s*\(\s*)(["'])diffopt\2/g, `$1${JSON.stringify(this.indexUrl)}`);
    const js = transformSync(resolved, { loader: "ts", format: "esm", target: "es2022", sourcefile: example.file });
    return { js: js.code, checks };
  }

  /**
   * Runs the example; its console output is captured (not printed) and returned with the number of checks.
   * Throws what the example throws, with its `file:line` prefixed, and if a checked line never ran.
   */
  async run(example: DocExample): Promise<{ checks: number; output: string[] }> {
    const { js, checks } = this.compile(example);
    const path = join(this.dir, `example-${this.count++}.mjs`);
    writeFileSync(path, js);
    const output: string[] = [];
    const ran = new Set<string>();
    const record = (where: string): string => {
      ran.add(where);
      return where;
    };
    const log = new LogChecker();
    (globalThis as any)[CHECKER] = {
      checkValue: <T>(actual: T, expectation: Expectation, where: string): T =>
        checkValue(actual, expectation, record(where)),
      checkThrows: (run: () => unknown, name: string, message: string | undefined, where: string): void =>
        checkThrows(run, name, message, record(where)),
      log: {
        mark: () => log.mark(),
        check: (expectations: Expectation[], where: string) => log.check(expectations, record(where)),
      },
    };
    const saved = { log: console.log, warn: console.warn, info: console.info };
    const capture = (...args: unknown[]): void => void output.push(args.map(String).join(" "));
    const captureLog = (...args: unknown[]): void => {
      log.logged.push(...args);
      capture(...args);
    };
    Object.assign(console, { log: captureLog, warn: capture, info: capture });
    try {
      await import(pathToFileURL(path).href);
    } catch (e) {
      if (e instanceof Error && !e.message.startsWith(`${example.file}:`)) {
        e.message = `${example.file}:${example.line}: ${e.message}`;
      }
      throw e;
    } finally {
      Object.assign(console, saved);
    }
    const missed = checks.filter((where) => !ran.has(where));
    if (missed.length > 0) throw new Error(`${missed.join(", ")}: the line stating a value never ran`);
    return { checks: checks.length, output };
  }
}

/** Every doc example of every `.ts` file under `root/src`, with paths relative to `root`. */
export function collectExamples(root: string): DocExample[] {
  return listSourceFiles(join(root, "src")).flatMap((f) => extractExamples(readFileSync(f, "utf8"), relative(root, f)));
}

/**
 * The ```ts blocks of a markdown file as one program: every line outside a ```ts block is blanked, so line k of
 * the program is line k of the file (errors and checks name the guide's own lines). Each block may repeat the
 * imports of earlier blocks, so that it can be copied on its own: a binding already imported from the same module
 * is dropped from later import declarations (a declaration left empty is blanked). Names declared at the top
 * level of one block are shared with the blocks after it, so a guide must not declare a name twice.
 */
export function extractMarkdownProgram(text: string, file: string): DocExample {
  const lines = text.split("\n");
  const out: string[] = [];
  let inTs = false;
  let fence = "";
  for (let i = 0; i < lines.length; i++) {
    const trimmed = lines[i]!.trim();
    if (fence === "") {
      const open = /^(`{3,}|~{3,})\s*(\S*)/.exec(trimmed);
      if (open) {
        fence = open[1]!;
        inTs = open[2] === "ts" || open[2] === "typescript";
      }
      out.push("");
    } else if (trimmed.startsWith(fence) && trimmed.slice(fence.length).trim() === "") {
      fence = "";
      inTs = false;
      out.push("");
    } else out.push(inTs ? lines[i]! : "");
  }
  if (fence !== "") throw new Error(`${file}: unterminated code block`);
  return { file, line: 1, code: dedupeImports(out.join("\n")) };
}

/** Removes from import declarations the bindings an earlier declaration of the same module already imports. */
function dedupeImports(code: string): string {
  const source = ts.createSourceFile("program.ts", code, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const seen = new Map<string, Set<string>>();
  const edits: { start: number; end: number; text: string }[] = [];
  for (const stmt of source.statements) {
    if (!ts.isImportDeclaration(stmt) || !ts.isStringLiteral(stmt.moduleSpecifier)) continue;
    const names = stmt.importClause?.namedBindings;
    if (stmt.importClause?.name || !names || !ts.isNamedImports(names)) continue;
    const imported = seen.get(stmt.moduleSpecifier.text) ?? new Set<string>();
    seen.set(stmt.moduleSpecifier.text, imported);
    const kept = names.elements.filter((e) => !imported.has(e.name.text));
    if (kept.length === names.elements.length) {
      kept.forEach((e) => imported.add(e.name.text));
      continue;
    }
    kept.forEach((e) => imported.add(e.name.text));
    const original = stmt.getText();
    const newlines = original.split("\n").length - 1;
    const typeOnly = stmt.importClause!.isTypeOnly ? "type " : "";
    const text =
      kept.length === 0
        ? "\n".repeat(newlines)
        : `import ${typeOnly}{ ${kept.map((e) => e.getText()).join(", ")} } from ${stmt.moduleSpecifier.getText()};` +
          "\n".repeat(newlines);
    edits.push({ start: stmt.getStart(), end: stmt.end, text });
  }
  let out = code;
  for (const e of edits.sort((x, y) => y.start - x.start)) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  return out;
}
