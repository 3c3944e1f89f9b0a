import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { inputProblems } from '../../services/platform/input-problems.ts';

/** The one way the back office names what is wrong with an input (routes and services alike). */
const Body = z
  .object({ amountFen: z.number().int(), lines: z.array(z.object({ meter: z.string().min(1) })) })
  .strict();

const problems = (value: unknown, where?: string) => {
  const r = Body.safeParse(value);
  if (r.success) throw new Error('expected a refusal');
  return inputProblems(r.error, where);
};

describe('inputProblems', () => {
  it('names every wrong field by its path, under where the input came from', () => {
    expect(problems({ amountFen: 1.5, lines: [{ meter: '' }] }, 'body')).toBe(
      'body.amountFen: Invalid input: expected int, received number; body.lines.0.meter: Too small: expected string to have >=1 characters',
    );
    expect(problems({ amountFen: 1.5, lines: [] })).toBe(
      'amountFen: Invalid input: expected int, received number',
    );
  });

  it('names the input as a whole "request" when no field is to blame, or its place', () => {
    expect(problems('not an object')).toBe('request: Invalid input: expected object, received string');
    expect(problems('not an object', 'query')).toBe('query: Invalid input: expected object, received string');
  });
});
