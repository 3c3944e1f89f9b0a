import type { z } from 'zod';

/**
 * What is wrong with an input, in the words every refusal of the back office uses: each field by
 * its path (under `where`, when given: body, query, params) and zod's message, `; ` between them;
 * `request` names the input as a whole. The routes, the services that check their input again and
 * the customers' routes all say it this way, so a client reads one format.
 */
export function inputProblems(error: z.ZodError, where?: string): string {
  return error.issues
    .map(
      (i) => `${[...(where === undefined ? [] : [where]), ...i.path].join('.') || 'request'}: ${i.message}`,
    )
    .join('; ');
}
