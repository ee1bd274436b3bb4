import { ErrorCode, SandboxError, bearerMatches, bearerToken } from '../protocol/index';
import type { Env } from '../env';

/** Throws 401 unless the request carries `Authorization: Bearer <SANDBOX_API_TOKEN>`. */
export function requireBearer(request: Request, env: Env): void {
  const expected = env.SANDBOX_API_TOKEN;
  if (!expected) {
    throw new SandboxError(ErrorCode.UNAUTHORIZED, 'The control API is disabled: the Worker has no SANDBOX_API_TOKEN secret configured');
  }
  // The same parse and constant-time comparison as a private preview's bearer check.
  const header = request.headers.get('authorization');
  if (bearerToken(header) === null) throw new SandboxError(ErrorCode.UNAUTHORIZED, 'Missing bearer token: send Authorization: Bearer <token>');
  if (!bearerMatches(header, expected)) throw new SandboxError(ErrorCode.UNAUTHORIZED, 'Invalid bearer token');
}
