import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SIGNING_STEPS } from '../../services/money/reconciliation/reconciliation.ts';
import { ENTRY_TYPES } from '../../services/money/prepaid/types.ts';

/**
 * The audit log's words (words-audit.js), read from the file's source and from every action the
 * server appends. A key written twice in a word table or an object literal is silently the last
 * one in JavaScript, so a duplicate is found in the source text, not in the loaded module. Every
 * action the server writes must have whole words in zh and en: the object-and-verb fallback reads
 * "投诉" for complaint.assign and "Other action" for power-limit.auto-restore.
 */

type Words = Record<string, string>;
// A plain ES module without the DOM: importable here as it is.
const audit = (await import('../../services/backoffice/web/public/words-audit.js' as string)) as {
  en: Words;
  zh: Words;
};
const PUBLIC = 'services/backoffice/web/public';
const WORD_FILES = readdirSync(PUBLIC).filter((f) => /^words-.*\.js$/.test(f));

/** The keys of each `const NAME = [ ['key', …], … ];` table and `export const xx = { 'key': … }`. */
function keyLists(source: string): [string, string[]][] {
  const lists: [string, string[]][] = [];
  for (const m of source.matchAll(/^const ([A-Z_]+) = \[\n([\s\S]*?)^\];/gm))
    lists.push([m[1]!, [...m[2]!.matchAll(/^ {2}\[\s*'([^']+)',/gm)].map((k) => k[1]!)]);
  for (const m of source.matchAll(/^export const (en|zh) = \{\n([\s\S]*?)^\};/gm))
    lists.push([m[1]!, [...m[2]!.matchAll(/^ {2}'([^']+)':/gm)].map((k) => k[1]!)]);
  return lists;
}

const twice = (keys: string[]) => keys.filter((k, i) => keys.indexOf(k) !== i);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/**
 * Actions the server builds from a template, by the template as written in the source, and every
 * action each can make. A template not listed here fails the test: list what it makes.
 */
const TEMPLATES: Record<string, readonly string[]> = {
  'ledger.${e.type}': ENTRY_TYPES.map((t) => `ledger.${t}`),
  'reconciliation.sign-${step}': SIGNING_STEPS.map((s) => `reconciliation.sign-${s}`),
  'user-request.${kind}': ['create', 'roles', 'enable', 'reset', 'token'].map((k) => `user-request.${k}`),
  'user-request.${state}': ['approved', 'rejected', 'cancelled'].map((s) => `user-request.${s}`),
  'complaint.${action}': ['assign', 'link', 'unlink', 'close'].map((a) => `complaint.${a}`),
  "alert.${to === 'field-checked' ? 'field-check' : to === 'assigned' ? 'assign' : to === 'confirmed' ? 'confirm' : 'dismiss'}":
    ['field-check', 'assign', 'confirm', 'dismiss'].map((a) => `alert.${a}`),
  "meter.exchange.${approve ? 'approve' : 'reject'}": ['meter.exchange.approve', 'meter.exchange.reject'],
  "standing-policy.${state === 'approved' ? 'approve' : state === 'rejected' ? 'reject' : 'withdraw'}": [
    'standing-policy.approve',
    'standing-policy.reject',
    'standing-policy.withdraw',
  ],
  'line.${input.action}': ['line.cut', 'line.restore'],
  'heating.apply-${a.kind}': ['heating.apply-start', 'heating.apply-stop'],
  '${input.cause}.trip': ['power-limit.trip', 'illegal-load.trip'],
  "${trip.cause}.${state === 'restored' ? 'auto-restore' : state === 'manual' ? 'manual-restore-needed' : 'closed'}":
    ['power-limit', 'illegal-load'].flatMap((c) =>
      ['auto-restore', 'manual-restore-needed', 'closed'].map((v) => `${c}.${v}`),
    ),
};

function appendedActions(): { literal: Set<string>; templates: Set<string> } {
  const literal = new Set<string>();
  const templates = new Set<string>();
  for (const file of sourceFiles('services')) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/\baction: '([a-z][a-z0-9-]*\.[a-z0-9.-]*[a-z0-9])'/g)) literal.add(m[1]!);
    for (const m of text.matchAll(/\baction: `([^`]*)`/g)) templates.add(m[1]!);
    // A choice between two written actions: `action: approve ? 'x.approve' : 'x.reject'`.
    for (const m of text.matchAll(
      /\baction: [^`\n]*?\? '([a-z][a-z0-9-]*\.[a-z0-9.-]+)' : '([a-z][a-z0-9-]*\.[a-z0-9.-]+)'/g,
    ))
      for (const a of [m[1]!, m[2]!]) literal.add(a);
  }
  return { literal, templates };
}

describe('the audit log’s words', () => {
  it('no word table or word object of the web app lists a key twice', () => {
    const found: Record<string, string[]> = {};
    for (const file of WORD_FILES) {
      const lists = keyLists(readFileSync(join(PUBLIC, file), 'utf8'));
      for (const [name, keys] of lists) {
        const dup = twice(keys);
        if (dup.length > 0) found[`${file} ${name}`] = dup;
      }
      if (file === 'words-audit.js') {
        // The parse itself is checked, so that an empty list cannot pass for "no duplicate".
        const sizes = Object.fromEntries(lists.map(([name, keys]) => [name, keys.length]));
        expect(sizes.ACTIONS).toBe(
          Object.keys(audit.en).filter((k) => k.startsWith('audit.act.')).length - 2,
        );
        expect(sizes.en).toBeGreaterThan(20);
        expect(sizes.zh).toBe(sizes.en);
      }
    }
    expect(found).toEqual({});
  });

  it('finds a key written twice (the check on a copy of the file with one action repeated)', () => {
    const source = readFileSync(join(PUBLIC, 'words-audit.js'), 'utf8').replace(
      "  ['heating.fees', 'Set heating fees', '核定供暖费'],\n",
      "  ['heating.fees', 'Set heating fees', '核定供暖费'],\n  ['heating.fees', 'Heating fees', '供暖费'],\n",
    );
    expect(
      keyLists(source)
        .find(([name]) => name === 'ACTIONS')![1]
        .filter((k, i, all) => all.indexOf(k) !== i),
    ).toEqual(['heating.fees']);
  });

  it('every action the server appends has whole words in zh and en, templates included', () => {
    const { literal, templates } = appendedActions();
    expect(literal.size).toBeGreaterThan(80);
    expect([...templates].filter((t) => !(t in TEMPLATES))).toEqual([]);
    const actions = [...literal, ...[...templates].flatMap((t) => TEMPLATES[t] ?? [])];
    for (const words of [audit.en, audit.zh]) {
      expect(actions.filter((a) => !words[`audit.act.${a}`]?.trim()).sort()).toEqual([]);
    }
    // Chinese words are Chinese: a key copied into zh with its English words fails here.
    const english = actions.filter((a) => !/[\u4e00-\u9fff]/.test(audit.zh[`audit.act.${a}`] ?? ''));
    expect(english).toEqual([]);
  });
});
