/**
 * An error a service refuses a request with: a stable code (documented, shown to API clients), the
 * HTTP status the API answers with, and a message naming what is wrong. Each service keeps its
 * codes in a catalogue next to it (`<service>/errors.ts`), every code with a description.
 */
export class ServiceError extends Error {
  constructor(
    readonly code: string,
    readonly status: 400 | 401 | 403 | 404 | 409 | 415 | 422 | 429 | 500 | 503,
    message: string,
  ) {
    super(message);
    this.name = 'ServiceError';
  }
}

export interface ErrorCatalogueEntry {
  status: ServiceError['status'];
  description: string;
}
export type ErrorCatalogue = Record<string, ErrorCatalogueEntry>;

/** Throws the catalogue's error `code` with a message for this case. */
export function fail(catalogue: ErrorCatalogue, code: string, message: string): never {
  const entry = catalogue[code];
  if (!entry) throw new Error(`error code ${code} is not in its catalogue`);
  throw new ServiceError(code, entry.status, message);
}
