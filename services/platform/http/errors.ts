import { fail, type ErrorCatalogue } from '../errors.ts';

/** The codes the HTTP layer itself refuses a request with, before any route or service sees it. */
export const HTTP_ERRORS = {
  CROSS_SITE_REQUEST: {
    status: 403,
    description:
      'A state-changing request whose Origin (or Sec-Fetch-Site) is not the back office’s own public origin, or a browser request with a session cookie that says neither: a page of another site (another port of the same host included) cannot act with a logged-in user’s session.',
  },
  UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    description:
      'A POST, PUT or PATCH whose body is not application/json (send {} when there is nothing to say): a cross-site form cannot produce one.',
  },
} as const satisfies ErrorCatalogue;

export type HttpErrorCode = keyof typeof HTTP_ERRORS;

/** Throws the HTTP error `code` with a message for this case. */
export function httpFail(code: HttpErrorCode, message: string): never {
  fail(HTTP_ERRORS, code, message);
}
