import { ErrorCode, SandboxError } from './errors';

/** Ids that would collide with well-known subdomains, so they never name a sandbox. */
export const RESERVED_SANDBOX_IDS = ['www', 'api', 'admin', 'root', 'system', 'cloudflare', 'workers'] as const;

export const MAX_SANDBOX_ID_LENGTH = 63;

/**
 * Checks a sandbox id against SPEC 2.1 and returns the id that names the Durable Object
 * (lowercased when `normalizeId` is set). Throws INVALID_SANDBOX_ID naming the broken rule.
 */
export function checkSandboxId(id: unknown, normalizeId = false): string {
  if (typeof id !== 'string') {
    throw new SandboxError(ErrorCode.INVALID_SANDBOX_ID, 'Sandbox ID must be a string');
  }
  if (id.length < 1 || id.length > MAX_SANDBOX_ID_LENGTH) {
    throw new SandboxError(ErrorCode.INVALID_SANDBOX_ID, `Sandbox ID must be 1-${MAX_SANDBOX_ID_LENGTH} characters long (got ${id.length})`);
  }
  if (id.startsWith('-') || id.endsWith('-')) {
    throw new SandboxError(ErrorCode.INVALID_SANDBOX_ID, `Sandbox ID '${id}' must not start or end with a hyphen`);
  }
  if (!/^[A-Za-z0-9._-]+$/.test(id)) {
    throw new SandboxError(ErrorCode.INVALID_SANDBOX_ID, `Sandbox ID '${id}' may only contain letters, digits, '-', '_' and '.'`);
  }
  if ((RESERVED_SANDBOX_IDS as readonly string[]).includes(id.toLowerCase())) {
    throw new SandboxError(ErrorCode.INVALID_SANDBOX_ID, `Sandbox ID '${id}' is reserved (reserved: ${RESERVED_SANDBOX_IDS.join(', ')})`);
  }
  return normalizeId ? id.toLowerCase() : id;
}

/** Process ids chosen by users travel in URL paths, so they keep to a safe alphabet. */
export function checkProcessId(id: unknown): string {
  if (typeof id !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(id)) {
    throw new SandboxError(ErrorCode.INVALID_PROCESS_ID, `Process ID must be 1-64 characters of letters, digits, '.', '_' or '-', starting with a letter or digit`);
  }
  return id;
}
