import { readFileSync } from 'node:fs';
import { z } from 'zod';

/**
 * The center's published fee standards and procedures (who does each step, who decides), as data
 * in window-data.json, in both languages, validated here once at start: a step naming a role that
 * does not exist, or a fee that is not whole fen, stops the back office with the file's path.
 */

const Text = z.object({ zh: z.string().min(1), en: z.string().min(1) }).strict();
export const WHO = [
  'system',
  'customer',
  'operator',
  'clerk',
  'supervisor',
  'inspector',
  'maintenance',
  'billing',
] as const;
const Who = z.enum(WHO);

export const WindowDataSchema = z
  .object({
    note: Text,
    feeStandards: z.array(
      z
        .object({
          id: z.string().regex(/^[a-z0-9-]+$/),
          name: Text,
          amountFen: z.number().int().nonnegative().describe('Integer fen (0.01 CNY)'),
          per: Text,
          basis: Text,
        })
        .strict(),
    ),
    procedures: z.array(
      z
        .object({
          id: z.string().regex(/^[a-z0-9-]+$/),
          name: Text,
          decides: Who,
          steps: z.array(z.object({ who: Who, what: Text }).strict()).min(1),
        })
        .strict(),
    ),
  })
  .strict();
export type WindowData = z.infer<typeof WindowDataSchema>;

export const DEFAULT_WINDOW_DATA = new URL('./window-data.json', import.meta.url);

export function loadWindowData(file: URL | string = DEFAULT_WINDOW_DATA): WindowData {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`public window data ${String(file)}: ${(err as Error).message}`);
  }
  const r = WindowDataSchema.safeParse(raw);
  if (!r.success) throw new Error(`public window data ${String(file)}: ${z.prettifyError(r.error)}`);
  return r.data;
}

/** The names of who does a step, for the page. */
export const WHO_NAMES: Record<(typeof WHO)[number], { zh: string; en: string }> = {
  system: { zh: '系统自动', en: 'The system' },
  customer: { zh: '用户', en: 'The customer' },
  operator: { zh: '运行值班员', en: 'Operator' },
  clerk: { zh: '业务员', en: 'Business-office clerk' },
  supervisor: { zh: '主管', en: 'Supervisor' },
  inspector: { zh: '稽查员', en: 'Inspector' },
  maintenance: { zh: '维修人员', en: 'Maintenance' },
  billing: { zh: '计费员', en: 'Billing' },
};
