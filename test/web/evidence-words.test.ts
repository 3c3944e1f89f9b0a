import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * Every figure a detector writes into an alert's evidence has a label in both languages and a way
 * to be shown (words-evidence.js). A figure without one reached the alert page as "Other figure 3"
 * with a bare number (a drifting meter's six figures, the heating check's past spread). The keys
 * are read from the detectors' source with the TypeScript parser: every property of an object
 * literal under a `figures` property, conditional spreads included, comments and strings ignored.
 */

type Words = Record<string, string>;
const words = (await import('../../services/backoffice/web/public/words-evidence.js' as string)) as {
  FIGURES: Record<string, { as: string }>;
  en: Words;
  zh: Words;
};
const DETECTION = 'services/inspection/detection';

/** The property names of every object literal inside `figures: …` or `figures = …`. */
function figureKeys(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const keys: string[] = [];
  const collect = (node: ts.Node): void => {
    if (ts.isObjectLiteralExpression(node))
      for (const p of node.properties)
        if (
          (ts.isPropertyAssignment(p) || ts.isShorthandPropertyAssignment(p)) &&
          !ts.isComputedPropertyName(p.name)
        )
          keys.push(p.name.getText(source).replace(/^['"]|['"]$/g, ''));
    // Nested literals (spreads of conditional objects) count; a nested call's own objects do too,
    // which is harmless: a key asked for words that is no figure only costs a label.
    ts.forEachChild(node, collect);
  };
  const visit = (node: ts.Node): void => {
    const isFigures =
      (ts.isPropertyAssignment(node) && node.name.getText(source) === 'figures') ||
      (ts.isVariableDeclaration(node) && node.name.getText(source) === 'figures');
    if (isFigures) {
      const init = node.initializer;
      if (init) collect(init);
      return;
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return keys;
}

describe('the words of alert evidence', () => {
  const files = readdirSync(DETECTION)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(DETECTION, f));
  const written = new Map<string, string>();
  for (const f of files) for (const k of figureKeys(f)) if (!written.has(k)) written.set(k, f);

  it('finds the figures the detectors write (the parser is not blind)', () => {
    // Known figures of three detectors, written in three ways (plain, conditional spread, nested).
    for (const k of ['bandC0', 'driftAtEnd', 'recentSlopeKwhPerK', 'onsetNightShare', 'deltaPKw'])
      expect(written.has(k), k).toBe(true);
    expect(written.size).toBeGreaterThan(40);
  });

  it('has for every figure a way to show it and a label in English and Chinese', () => {
    const missing: string[] = [];
    for (const [key, file] of written) {
      const spec = words.FIGURES[key];
      if (!spec) missing.push(`${key} (${file}): no entry in FIGURES`);
      else if (spec.as === 'hidden') continue;
      else {
        if (!words.en[`figure.${key}`]) missing.push(`${key} (${file}): no English label`);
        if (!words.zh[`figure.${key}`]) missing.push(`${key} (${file}): no Chinese label`);
      }
    }
    expect(missing).toEqual([]);
  });
});
