/**
 * Kubernetes API errors as typed classes, built from the API server's `Status`
 * body, each classified as retryable (back off and try again) or terminal
 * (retrying the same request cannot succeed).
 *
 * @module
 */

/** One field-level cause of an `Invalid` (422) error. */
export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

/** The `Status` object the API server returns for failures. */
export interface Status {
  kind?: "Status";
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: { name?: string; kind?: string; causes?: StatusCause[]; retryAfterSeconds?: number };
}

/** Base class of every error from the API server or the way to it. */
export class KubeError extends Error {
  /** Whether the same request may succeed later. */
  readonly retryable: boolean;
  constructor(message: string, retryable: boolean, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.retryable = retryable;
  }
}

/** An error response from the API server. */
export class ApiError extends KubeError {
  /** HTTP status code. */
  readonly code: number;
  /** Machine-readable reason, e.g. `NotFound`, `AlreadyExists`, `Conflict`. */
  readonly reason: string;
  /** The `Status` body, when the server sent one. */
  readonly status: Status;
  /** How long the server asked us to wait, in ms (from Retry-After or details). */
  readonly retryAfterMs?: number;
  constructor(code: number, status: Status, retryable: boolean, retryAfterMs?: number) {
    super(status.message || `Request failed with HTTP ${code}`, retryable);
    this.code = code;
    this.reason = status.reason ?? "";
    this.status = status;
    this.retryAfterMs = retryAfterMs;
  }
}

/** 404: the object (or its kind) does not exist. */
export class NotFoundError extends ApiError {}
/** 409 AlreadyExists: create of an existing name. */
export class AlreadyExistsError extends ApiError {}
/** 409 Conflict: stale resourceVersion or a server-side apply conflict. */
export class ConflictError extends ApiError {}
/** 410: the resourceVersion is too old (compacted); relist. */
export class GoneError extends ApiError {}
/** 422: the object is invalid; `causes` names the fields. */
export class InvalidError extends ApiError {
  /** Field-level causes. */
  get causes(): StatusCause[] {
    return this.status.details?.causes ?? [];
  }
}
/** 401: credentials missing or rejected. */
export class UnauthorizedError extends ApiError {}
/** 403: RBAC or admission refused the request. */
export class ForbiddenError extends ApiError {}
/** 429: throttled by API priority and fairness; honour `retryAfterMs`. */
export class TooManyRequestsError extends ApiError {}
/** 5xx and ServerTimeout: the server is unwell or overloaded. */
export class ServerError extends ApiError {}
/** 400 and other client errors not listed above. */
export class BadRequestError extends ApiError {}

/** The API server could not be reached or the connection broke. */
export class NetworkError extends KubeError {
  /** What went wrong on the way, e.g. `tcp connect error: Connection refused`. */
  readonly detail: string;
  constructor(server: string, cause: unknown) {
    const detail = describeCause(cause);
    super(`Cannot reach the API server at ${server}: ${detail}`, true, { cause });
    this.detail = detail;
  }
}

/** An error's message with the messages of its causes, most specific last. */
function describeCause(error: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = error; e instanceof Error && parts.length < 4; e = e.cause) {
    if (!parts.some((p) => p.includes(e instanceof Error ? e.message : ""))) parts.push(e.message);
  }
  return parts.join(": ") || String(error);
}

function parseRetryAfter(header: string | null, status: Status): number | undefined {
  if (header) {
    const seconds = Number(header);
    if (Number.isFinite(seconds)) return seconds * 1000;
    const date = Date.parse(header);
    if (Number.isFinite(date)) return Math.max(0, date - Date.now());
  }
  const fromDetails = status.details?.retryAfterSeconds;
  return fromDetails === undefined ? undefined : fromDetails * 1000;
}

/** Builds the typed error for a failed response. */
export function apiErrorFrom(code: number, body: string, retryAfter: string | null): ApiError {
  let status: Status;
  try {
    const parsed = JSON.parse(body);
    status = parsed && parsed.kind === "Status" ? parsed : { message: body.slice(0, 500) };
  } catch {
    status = { message: body.slice(0, 500) || `HTTP ${code}` };
  }
  const wait = parseRetryAfter(retryAfter, status);
  switch (code) {
    case 400:
      return new BadRequestError(code, status, false);
    case 401:
      // Credentials rotate (exec plugins, projected tokens): a retry with fresh ones may pass.
      return new UnauthorizedError(code, status, true);
    case 403:
      return new ForbiddenError(code, status, false);
    case 404:
      return new NotFoundError(code, status, false);
    case 409:
      return status.reason === "AlreadyExists"
        ? new AlreadyExistsError(code, status, false)
        : new ConflictError(code, status, true);
    case 410:
      return new GoneError(code, status, true);
    case 422:
      return new InvalidError(code, status, false);
    case 429:
      return new TooManyRequestsError(code, status, true, wait ?? 1000);
  }
  if (code >= 500 || status.reason === "ServerTimeout" || status.reason === "Timeout") {
    return new ServerError(code, status, true, wait);
  }
  return new BadRequestError(code, status, false);
}

/** Whether `error` is worth retrying (network faults, 409 Conflict, 410, 429, 5xx). */
export function isRetryable(error: unknown): boolean {
  return error instanceof KubeError ? error.retryable : false;
}

/**
 * Whether a 403 comes from what the API server has not caught up with rather than from the
 * request: RBAC denying the caller a verb (`cannot patch resource "roles"`) or, for a Role
 * or binding it writes, permissions it does not hold; or the owner-references admission not
 * knowing the owner's kind yet (`cannot find RESTMapping`, right after a CRD is installed).
 * Right after an install, all of these pass on a later try.
 */
export function isTransientForbidden(error: unknown): error is ForbiddenError {
  return error instanceof ForbiddenError &&
    /\bcannot [a-z]+ resource\b|attempting to grant RBAC permissions not currently held|cannot find RESTMapping/
      .test(error.message);
}

/**
 * Whether the API server refused `error`'s request for what it asked (400, 403, 422):
 * admission, quota or validation said no, so the same request fails until a person changes
 * something. Not a refusal: a 404 or AlreadyExists (a stale view, which the next read
 * corrects), and a 403 from state the API server is still catching up with
 * ({@linkcode isTransientForbidden}), which is retried with backoff.
 */
export function isRefusal(error: unknown): error is ApiError {
  if (isTransientForbidden(error)) return false;
  return error instanceof BadRequestError || error instanceof ForbiddenError ||
    error instanceof InvalidError;
}

/** Whether `error` is a 404 from the API server. */
export function isNotFound(error: unknown): error is NotFoundError {
  return error instanceof NotFoundError;
}
