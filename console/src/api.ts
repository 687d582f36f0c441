// The console's only way to the server: the public API plus the sessions endpoint.
// Authenticated by the HttpOnly `txv_session` cookie; every non-GET request carries the
// session's CSRF token in `X-CSRF-Token` (contract section 13).
import type { ErrorDetail, Session } from './types';

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: ErrorDetail[];
  constructor(status: number, code: string, message: string, details: ErrorDetail[] = []) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

let csrfToken = '';
let onUnauthorized: (() => void) | null = null;

export function setCsrfToken(token: string): void {
  csrfToken = token;
}

/** Called on any 401 from the API once signed in: the session ended (expired or revoked). */
export function setUnauthorizedHandler(fn: (() => void) | null): void {
  onUnauthorized = fn;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  /** Do not treat 401 as "session ended" (sign-in, session probe). */
  allow401?: boolean;
  signal?: AbortSignal;
}

/** Builds an ApiError from a response body in the API's error shape (or anything else). */
export function errorFrom(status: number, body: unknown): ApiError {
  const e = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } } | null)?.error;
  if (e && typeof e === 'object') {
    const details = Array.isArray(e.details)
      ? (e.details as unknown[]).filter(
          (d): d is ErrorDetail => !!d && typeof d === 'object' && 'field' in d && 'issue' in d,
        )
      : [];
    return new ApiError(
      status,
      typeof e.code === 'string' ? e.code : 'error',
      typeof e.message === 'string' ? e.message : `HTTP ${status}`,
      details,
    );
  }
  return new ApiError(status, 'http_error', `The server answered HTTP ${status}.`);
}

async function request<T>(method: string, path: string, body?: unknown, opts: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json', ...opts.headers };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
      signal: opts.signal,
    });
  } catch (err) {
    if ((err as Error)?.name === 'AbortError') throw err;
    throw new ApiError(0, 'network_error', 'Could not reach the txv server. Check your connection and try again.');
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let parsed: unknown = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = null;
    }
  }
  if (!res.ok) {
    const err = errorFrom(res.status, parsed);
    if (res.status === 401 && !opts.allow401 && onUnauthorized) onUnauthorized();
    throw err;
  }
  return parsed as T;
}

export const api = {
  get: <T>(path: string, opts?: RequestOptions) => request<T>('GET', path, undefined, opts),
  post: <T>(path: string, body: unknown, opts?: RequestOptions) => request<T>('POST', path, body, opts),
  put: <T>(path: string, body: unknown, opts?: RequestOptions) => request<T>('PUT', path, body, opts),
  del: <T>(path: string, opts?: RequestOptions) => request<T>('DELETE', path, undefined, opts),
};

export const seg = (s: string): string => encodeURIComponent(s);

// ---------------------------------------------------------------- sessions

export function signIn(apiKey: string): Promise<Session> {
  return api.post<Session>('/v1/sessions', { api_key: apiKey }, { allow401: true });
}

export function currentSession(): Promise<Session> {
  return api.get<Session>('/v1/sessions/current', { allow401: true });
}

export function signOut(): Promise<void> {
  return api.del<void>('/v1/sessions/current', { allow401: true });
}

// ---------------------------------------------------------------- uploads

/**
 * PUT a JSON body with upload progress (fetch has no upload progress): used for list files,
 * which can be tens of megabytes. `onProgress` gets 0…1.
 */
export function sendWithProgress<T>(
  method: 'PUT' | 'POST',
  path: string,
  body: unknown,
  onProgress: (fraction: number) => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, path);
    xhr.withCredentials = true;
    xhr.setRequestHeader('Content-Type', 'application/json');
    xhr.setRequestHeader('Accept', 'application/json');
    if (csrfToken) xhr.setRequestHeader('X-CSRF-Token', csrfToken);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable && e.total > 0) onProgress(Math.min(1, e.loaded / e.total));
    };
    xhr.upload.onload = () => onProgress(1);
    xhr.onerror = () => reject(new ApiError(0, 'network_error', 'The upload failed: could not reach the server.'));
    xhr.onabort = () => reject(new ApiError(0, 'aborted', 'The upload was cancelled.'));
    xhr.onload = () => {
      let parsed: unknown = null;
      try {
        parsed = xhr.responseText ? JSON.parse(xhr.responseText) : null;
      } catch {
        parsed = null;
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(1);
        resolve(parsed as T);
      } else {
        const err = errorFrom(xhr.status, parsed);
        if (xhr.status === 401 && onUnauthorized) onUnauthorized();
        reject(err);
      }
    };
    xhr.send(JSON.stringify(body));
  });
}
