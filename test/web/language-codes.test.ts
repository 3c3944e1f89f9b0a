import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CIRCUITS, WEEKDAYS } from '../../config/schemas/power.ts';
import { CUSTOMER_TYPES } from '../../services/money/billing/tariffs.ts';
import { PREPAID_ERRORS } from '../../services/money/prepaid/errors.ts';
import { ENTRY_TYPES, PAYMENT_METHODS } from '../../services/money/prepaid/types.ts';
import { VEE_RULES } from '../../services/metering/vee/types.ts';

/**
 * Issue 24 item 1, the codes behind the language walk: every code the server sends to the pages
 * issue 24 cleaned has words in Chinese and in English, so a customer type, VEE rule, ledger entry
 * type or prepaid refusal added later fails here instead of showing its key to a Chinese reader.
 * Audit actions are found in the source (every `action: '…'` an audit entry is written with) and
 * must read as words whole or by their object and verb.
 */

type Words = Record<string, string>;
// The web app's word files are plain ES modules without the DOM: importable here as they are.
const files = await Promise.all(
  ['meter', 'money', 'clerk', 'audit'].map(
    async (name) =>
      (await import(`../../services/backoffice/web/public/words-${name}.js`)) as { en: Words; zh: Words },
  ),
);
const zh: Words = Object.assign({}, ...files.map((f) => f.zh));
const en: Words = Object.assign({}, ...files.map((f) => f.en));

function missing(prefix: string, codes: readonly string[], words: Words): string[] {
  return codes.map((c) => `${prefix}.${c}`).filter((k) => !(k in words));
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

describe('every code the server sends has words in both languages', () => {
  it('customer types, utilities, ledger entries, payment methods, VEE, weekdays, circuits, prepaid refusals', () => {
    for (const words of [zh, en]) {
      expect(missing('ctype', CUSTOMER_TYPES, words)).toEqual([]);
      expect(missing('utility', ['electricity', 'water', 'heat'], words)).toEqual([]);
      expect(missing('entry', ENTRY_TYPES, words)).toEqual([]);
      expect(missing('vee.rule', VEE_RULES, words)).toEqual([]);
      expect(missing('vee.severity', ['info', 'fail'], words)).toEqual([]);
      expect(missing('vee.source', ['actual', 'estimated', 'edited'], words)).toEqual([]);
      expect(missing('weekday', WEEKDAYS, words)).toEqual([]);
      expect(missing('circuit', CIRCUITS, words)).toEqual([]);
    }
    // In Chinese the rule's explanation stands in for VEE's English prose, and each refusal is said.
    expect(missing('vee.why', VEE_RULES, zh)).toEqual([]);
    expect(missing('err', Object.keys(PREPAID_ERRORS), zh)).toEqual([]);
    // In English a malformed request keeps the server's message, which names the field.
    expect(missing('err', Object.keys(PREPAID_ERRORS), en)).toEqual(['err.INVALID_REQUEST']);
    expect(PAYMENT_METHODS.length).toBe(3); // method.* words live in i18n.js (cash, card, transfer)
  });

  it('every audit action written in the source reads as words, in Chinese and English', () => {
    const actions = new Set<string>();
    for (const file of sourceFiles('services'))
      for (const m of readFileSync(file, 'utf8').matchAll(
        /\baction: '([a-z][a-z0-9-]*\.[a-z0-9.-]*[a-z0-9])'/g,
      ))
        actions.add(m[1]!);
    expect(actions.size).toBeGreaterThan(80);
    for (const words of [zh, en]) {
      const unread = [...actions].filter((a) => {
        const parts = a.split('.');
        return (
          !(`audit.act.${a}` in words) &&
          !(`audit.obj.${parts[0]}` in words && `audit.verb.${parts.at(-1)}` in words)
        );
      });
      expect(unread.sort()).toEqual([]);
    }
  });
});
