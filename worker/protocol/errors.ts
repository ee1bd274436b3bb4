/**
 * The one registry of error codes. Every side throws `SandboxError` with a code from here; only
 * the HTTP edges turn a code into a status (ERROR_STATUS) and the JSON body `{ error, code }`.
 */
export const ErrorCode = {
  // 400
  INVALID_JSON: 'INVALID_JSON',
  INVALID_REQUEST: 'INVALID_REQUEST',
  INVALID_PORT: 'INVALID_PORT',
  RESERVED_PORT: 'RESERVED_PORT',
  INVALID_SANDBOX_ID: 'INVALID_SANDBOX_ID',
  UPPERCASE_SANDBOX_ID: 'UPPERCASE_SANDBOX_ID',
  INVALID_HOSTNAME: 'INVALID_HOSTNAME',
  INVALID_TOKEN_FORMAT: 'INVALID_TOKEN_FORMAT',
  INVALID_PATH: 'INVALID_PATH',
  INVALID_SIGNAL: 'INVALID_SIGNAL',
  INVALID_PATTERN: 'INVALID_PATTERN',
  INVALID_TTL: 'INVALID_TTL',
  INVALID_PROCESS_ID: 'INVALID_PROCESS_ID',
  INVALID_INSTANCE_TYPE: 'INVALID_INSTANCE_TYPE',
  /** The sizes asked for are more than this machine can give a sandbox. */
  RESOURCES_UNAVAILABLE: 'RESOURCES_UNAVAILABLE',
  // 401 / 403
  UNAUTHORIZED: 'UNAUTHORIZED',
  PREVIEW_AUTH_REQUIRED: 'PREVIEW_AUTH_REQUIRED',
  PATH_OUTSIDE_WORKSPACE: 'PATH_OUTSIDE_WORKSPACE',
  LOCAL_ACCESS_DENIED: 'LOCAL_ACCESS_DENIED',
  // 404
  NOT_FOUND: 'NOT_FOUND',
  SANDBOX_NOT_FOUND: 'SANDBOX_NOT_FOUND',
  PROCESS_NOT_FOUND: 'PROCESS_NOT_FOUND',
  FILE_NOT_FOUND: 'FILE_NOT_FOUND',
  INVALID_TOKEN: 'INVALID_TOKEN',
  // 405
  METHOD_NOT_ALLOWED: 'METHOD_NOT_ALLOWED',
  // 408
  TIMEOUT: 'TIMEOUT',
  // 409
  PROCESS_ID_IN_USE: 'PROCESS_ID_IN_USE',
  TOKEN_CONFLICT: 'TOKEN_CONFLICT',
  PROCESS_EXITED: 'PROCESS_EXITED',
  SANDBOX_DESTROYED: 'SANDBOX_DESTROYED',
  IS_A_DIRECTORY: 'IS_A_DIRECTORY',
  /** A recorded request that cannot be sent again as it was (its body was not kept whole). */
  REPLAY_IMPOSSIBLE: 'REPLAY_IMPOSSIBLE',
  /** The traffic inspector records nothing of this exposure (inspect: false) or of this Worker (SANDBOX_INSPECT=off). */
  INSPECTION_OFF: 'INSPECTION_OFF',
  // 413
  BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  // 422
  COMMAND_FAILED: 'COMMAND_FAILED',
  PORT_IN_USE: 'PORT_IN_USE',
  // 500 / 502 / 503
  INTERNAL_ERROR: 'INTERNAL_ERROR',
  SERVICE_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
  AGENT_UNREACHABLE: 'AGENT_UNREACHABLE',
  SANDBOX_NOT_RUNNING: 'SANDBOX_NOT_RUNNING',
  CLOUDFLARED_NOT_FOUND: 'CLOUDFLARED_NOT_FOUND',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Exhaustive: adding a code without a status is a compile error. */
export const ERROR_STATUS: Record<ErrorCode, number> = {
  INVALID_JSON: 400,
  INVALID_REQUEST: 400,
  INVALID_PORT: 400,
  RESERVED_PORT: 400,
  INVALID_SANDBOX_ID: 400,
  UPPERCASE_SANDBOX_ID: 400,
  INVALID_HOSTNAME: 400,
  INVALID_TOKEN_FORMAT: 400,
  INVALID_PATH: 400,
  INVALID_SIGNAL: 400,
  INVALID_PATTERN: 400,
  INVALID_TTL: 400,
  INVALID_PROCESS_ID: 400,
  INVALID_INSTANCE_TYPE: 400,
  RESOURCES_UNAVAILABLE: 400,
  UNAUTHORIZED: 401,
  PREVIEW_AUTH_REQUIRED: 401,
  PATH_OUTSIDE_WORKSPACE: 403,
  LOCAL_ACCESS_DENIED: 403,
  NOT_FOUND: 404,
  SANDBOX_NOT_FOUND: 404,
  PROCESS_NOT_FOUND: 404,
  FILE_NOT_FOUND: 404,
  INVALID_TOKEN: 404,
  METHOD_NOT_ALLOWED: 405,
  TIMEOUT: 408,
  PROCESS_ID_IN_USE: 409,
  TOKEN_CONFLICT: 409,
  PROCESS_EXITED: 409,
  SANDBOX_DESTROYED: 409,
  IS_A_DIRECTORY: 409,
  REPLAY_IMPOSSIBLE: 409,
  INSPECTION_OFF: 409,
  BODY_TOO_LARGE: 413,
  COMMAND_FAILED: 422,
  PORT_IN_USE: 422,
  INTERNAL_ERROR: 500,
  SERVICE_UNAVAILABLE: 502,
  AGENT_UNREACHABLE: 502,
  SANDBOX_NOT_RUNNING: 503,
  CLOUDFLARED_NOT_FOUND: 501,
};

/** The JSON body of every error answer, on every wire. */
export interface ErrorBody {
  error: string;
  code: ErrorCode;
  /** What else the caller can use: e.g. an exec that timed out, with the output it printed so far. */
  details?: Record<string, unknown>;
}

/** A typed error that carries its code across layers; converted to HTTP only at an edge. */
export class SandboxError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;
  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'SandboxError';
    this.code = code;
    this.details = details;
  }
  get status(): number {
    return ERROR_STATUS[this.code];
  }
  toJSON(): ErrorBody {
    return this.details ? { error: this.message, code: this.code, details: this.details } : { error: this.message, code: this.code };
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(ERROR_STATUS, value);
}

/** Rebuilds a SandboxError from a JSON error body read off a wire; anything else becomes INTERNAL_ERROR. */
export function errorFromBody(body: unknown, fallbackMessage: string): SandboxError {
  if (body && typeof body === 'object') {
    const { error, code, details } = body as Record<string, unknown>;
    const extra = details && typeof details === 'object' && !Array.isArray(details) ? (details as Record<string, unknown>) : undefined;
    if (typeof error === 'string' && isErrorCode(code)) return new SandboxError(code, error, extra);
  }
  return new SandboxError(ErrorCode.INTERNAL_ERROR, fallbackMessage);
}

/**
 * A failed HTTP answer (the agent's to the Worker, the Worker's to the extension) as a
 * SandboxError: its JSON error body when it has one, else `{what} answered {status}: {text}`.
 */
export async function errorFromResponse(res: Response, what: string): Promise<SandboxError> {
  const text = await res.text().catch(() => '');
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON: the fallback message below */
  }
  return errorFromBody(body, `${what} answered ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`);
}

export function toErrorBody(err: unknown): ErrorBody {
  if (err instanceof SandboxError) return err.toJSON();
  const message = err instanceof Error ? err.message : String(err);
  return { error: message || 'Internal error', code: ErrorCode.INTERNAL_ERROR };
}
