import { ErrorCode, SandboxError, timingSafeEqualStrings } from '../protocol/index';
import type { Env } from '../env';

/** Throws 401 unless the request carries `Authorization: Bearer <SANDBOX_API_TOKEN>`. */
export function requireBearer(request: Request, env: Env): void {
  const expected = env.SANDBOX_API_TOKEN;
  if (!expected) {
    throw new SandboxError(ErrorCode.UNAUTHORIZED, 'The control API is disabled: the Worker has no SANDBOX_API_TOKEN secret configured');
  }
  const header = request.headers.get('authorization') ?? '';
  const m = /^Bearer\s+(.+)$/i.exec(header.trim());
  if (!m) throw new SandboxError(ErrorCode.UNAUTHORIZED, 'Missing bearer token: send Authorization: Bearer <token>');
  if (!timingSafeEqualStrings(m[1]!, expected)) throw new SandboxError(ErrorCode.UNAUTHORIZED, 'Invalid bearer token');
}
