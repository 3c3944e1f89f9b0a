/* global fetch, EventSource, URLSearchParams */
/**
 * The back-office API from the browser: same origin, the HttpOnly session cookie (this script
 * never sees the token), JSON both ways. A failed call throws an ApiError with the server's code
 * and message; a 401 also tells the app to show the login page.
 */

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let onUnauthenticated = () => {};

export function setUnauthenticatedHandler(fn) {
  onUnauthenticated = fn;
}

export async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (res.status === 204) return null;
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = text;
  }
  if (!res.ok) {
    const err = new ApiError(
      res.status,
      data?.code ?? `HTTP_${res.status}`,
      data?.message ?? (typeof data === 'string' && data ? data : res.statusText),
    );
    // A wrong current password on the change-password page is a 401 too, not a session lost.
    if (res.status === 401 && path !== '/api/session' && path !== '/api/me/password') onUnauthenticated(err);
    throw err;
  }
  return data;
}

export const get = (path) => api('GET', path);
export const post = (path, body) => api('POST', path, body ?? {});

/** A query string from the defined values of `params`. */
export function qs(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params))
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/**
 * Listens to a server-sent-event stream; EventSource reconnects by itself. `onState(true|false)`
 * reports whether the stream is up. Returns the function that closes it.
 */
export function stream(path, event, onData, onState = () => {}) {
  const source = new EventSource(path, { withCredentials: true });
  source.addEventListener(event, (e) => {
    try {
      onData(JSON.parse(e.data));
    } catch {
      // One malformed event is skipped; the next one may be fine.
    }
  });
  source.addEventListener('open', () => onState(true));
  source.addEventListener('error', () => onState(false));
  return () => source.close();
}
