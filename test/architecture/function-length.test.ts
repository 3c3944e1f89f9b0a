import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * The composition root stays a list of small factory calls (issue 18): no function in the back
 * office's start-up longer than MAX_LINES. Parsed with the TypeScript compiler, so that every kind
 * of function counts — declarations, methods, arrows, function expressions, accessors.
 */

const ROOT = join(import.meta.dirname, '../..');
const MAX_LINES = 80;
/** The start-up: the composition root (services/backoffice) and the live view it starts. */
const CHECKED: readonly { dir: string; file: RegExp }[] = [
  { dir: 'services/backoffice', file: /\.ts$/ },
  { dir: 'services/metering/live', file: /^hub.*\.ts$/ },
];

function tsFiles(dir: string, file: RegExp): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'public' ? [] : tsFiles(path, file);
    return file.test(name) ? [path] : [];
  });
}

interface LongFunction {
  where: string;
  lines: number;
}

function nameOf(node: ts.Node, sf: ts.SourceFile): string {
  const named = node as ts.Node & { name?: ts.Node };
  if (named.name) return named.name.getText(sf);
  const parent = node.parent;
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent)) return parent.name.getText(sf);
  return '(anonymous)';
}

export function longFunctions(file: string, text: string, max: number): LongFunction[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const out: LongFunction[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const first = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
      const last = sf.getLineAndCharacterOfPosition(node.getEnd()).line;
      const lines = last - first + 1;
      if (lines > max) out.push({ where: `${file}:${first + 1} ${nameOf(node, sf)}`, lines });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

describe('the composition root is made of small parts', () => {
  it('measures a function by its lines, nested ones too', () => {
    const body = (n: number) => Array.from({ length: n }, (_, i) => `  const v${i} = ${i};`).join('\n');
    const text = [
      `export function long() {\n${body(MAX_LINES - 1)}\n}`,
      `export function fits() {\n${body(MAX_LINES - 2)}\n}`,
      `class C {\n  m() {\n    const inner = () => {\n${body(MAX_LINES)}\n    };\n  }\n}`,
    ].join('\n');
    const found = longFunctions('x.ts', text, MAX_LINES).map((f) => f.where);
    // `fits` is exactly MAX_LINES long; `m` is long only because of the arrow inside it.
    expect(found).toEqual(['x.ts:1 long', `x.ts:${2 * MAX_LINES + 3} m`, `x.ts:${2 * MAX_LINES + 4} inner`]);
  });

  it.each(CHECKED)(`no function in $dir ($file) is over ${MAX_LINES} lines`, ({ dir, file: pattern }) => {
    const files = tsFiles(join(ROOT, dir), pattern);
    expect(files.length).toBeGreaterThan(0);
    const long = files.flatMap((file) =>
      longFunctions(relative(ROOT, file), readFileSync(file, 'utf8'), MAX_LINES),
    );
    expect(long).toEqual([]);
  });
});
