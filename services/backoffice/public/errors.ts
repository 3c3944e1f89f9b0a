import { fail, type ErrorCatalogue } from '../../platform/errors.ts';

/** Every code the public window answers with besides INVALID_REQUEST. */
export const PUBLIC_ERRORS = {
  NOTICE_NOT_FOUND: {
    status: 404,
    description:
      'No published outage with this id covers this building (never published, or the id is wrong).',
  },
  DISCLOSURE_NOT_FOUND: {
    status: 404,
    description:
      'The quarter is not published: one of its three months has no bill run, or it is older than a year.',
  },
} as const satisfies ErrorCatalogue;

export function publicFail(code: keyof typeof PUBLIC_ERRORS, message: string): never {
  fail(PUBLIC_ERRORS, code, message);
}
