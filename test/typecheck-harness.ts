/**
 * Type-checking of documentation programs (guides, doc-comment examples) as a strict TypeScript user would compile
 * them, with `"diffopt"` resolved to the repository's src/index.ts.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import ts from "typescript";

/**
 * Type-checks programs (as `extractMarkdownProgram` or `extractExamples` give them) in one strict compilation where
 * `"diffopt"` is the repository's src/index.ts; returns the errors as `file:line: …`, where a program's first line
 * is line `line` (default 1) of `file`.
 */
export function typeCheckPrograms(
  programs: readonly { file: string; line?: number; code: string }[],
  root: string,
): string[] {
  const dir = mkdtempSync(join(tmpdir(), "diffopt-types-"));
  try {
    const origins = new Map<string, { file: string; line: number }>();
    const files = programs.map((p, i) => {
      const f = join(dir, `program-${i}.ts`);
      writeFileSync(f, p.code);
      origins.set(f, { file: p.file, line: p.line ?? 1 });
      return f;
    });
    const program = ts.createProgram(files, {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      lib: ["lib.es2022.d.ts"],
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      paths: { diffopt: [join(root, "src", "index.ts")] },
      types: ["node"],
      typeRoots: [join(root, "node_modules", "@types")],
      skipLibCheck: true,
    });
    return ts.getPreEmitDiagnostics(program).map((d) => {
      const origin = d.file && (origins.get(d.file.fileName) ?? { file: basename(d.file.fileName), line: 1 });
      const where =
        d.file && d.start !== undefined
          ? `${origin!.file}:${origin!.line + d.file.getLineAndCharacterOfPosition(d.start).line}`
          : "(no file)";
      return `${where}: ${ts.flattenDiagnosticMessageText(d.messageText, " ")}`;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
