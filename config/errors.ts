import type { z } from 'zod';

/**
 * A configuration problem, located: the file, the path inside it (and the line where we know it)
 * and what is wrong. The CLI prints these and exits non-zero before anything is polled.
 */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(
    readonly file: string,
    readonly problems: { path: string; line?: number; message: string }[],
  ) {
    super(
      `${file}: invalid configuration\n` +
        problems
          .map((p) => `  ${file}${p.line ? `:${p.line}` : ''}: ${p.path || '(root)'}: ${p.message}`)
          .join('\n'),
    );
    this.name = 'ConfigError';
  }
}

/** zod path → `sites[0].gateways[1].id` */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out;
}

export function zodProblems(error: z.ZodError): { path: (string | number)[]; message: string }[] {
  return error.issues.map((i) => ({
    path: i.path.filter((k): k is string | number => typeof k !== 'symbol'),
    message: i.message,
  }));
}
