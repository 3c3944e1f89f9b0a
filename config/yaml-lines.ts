import { readFileSync } from 'node:fs';
import { isMap, isSeq, parseDocument, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { ConfigError, formatPath, zodProblems } from './errors.ts';

/**
 * The 1-based line of the node at `path` in a parsed YAML document, or of its deepest existing
 * parent (a missing key is reported at the object that lacks it).
 */
export function lineOf(text: string, doc: Document, path: readonly (string | number)[]): number | undefined {
  let node: unknown = doc.contents;
  let offset = (node as Node | null)?.range?.[0];
  for (const key of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (p.key as { value?: unknown } | null)?.value === key);
      if (!pair) break;
      offset = (pair.key as Node | null)?.range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof key === 'number') {
      node = node.items[key];
      offset = (node as Node | undefined)?.range?.[0] ?? offset;
    } else break;
  }
  if (offset === undefined) return undefined;
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/**
 * Reads a YAML file and checks it against `schema`; a YAML or schema problem is a ConfigError
 * naming the file, the path and the line. The result is frozen.
 */
export function loadYamlFile<T>(file: string, schema: z.ZodType<T>): Readonly<T> {
  const text = readFileSync(file, 'utf8');
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => ({ path: '', line: e.linePos?.[0]?.line, message: e.message })),
    );
  }
  const parsed = schema.safeParse(doc.toJS());
  if (!parsed.success) {
    throw new ConfigError(
      file,
      zodProblems(parsed.error).map((p) => ({
        path: formatPath(p.path),
        line: lineOf(text, doc, p.path),
        message: p.message,
      })),
    );
  }
  return Object.freeze(parsed.data);
}
