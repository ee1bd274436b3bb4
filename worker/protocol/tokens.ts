import { ErrorCode, SandboxError } from './errors';

export const GENERATED_TOKEN_LENGTH = 16;
export const MAX_TOKEN_LENGTH = 16;
const TOKEN_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

type Random = (bytes: Uint8Array) => Uint8Array;
const platformRandom: Random = (b) => crypto.getRandomValues(b);

/** `length` characters of [a-z0-9] from the platform CSPRNG (crypto.getRandomValues in workerd and Node). */
export function randomAlphanumeric(length: number, random: Random = platformRandom): string {
  let out = '';
  // Rejection sampling keeps every character equally likely (256 is not a multiple of 36).
  while (out.length < length) {
    const bytes = random(new Uint8Array(length * 2));
    for (const b of bytes) {
      if (b < 252 && out.length < length) out += TOKEN_ALPHABET[b % 36];
    }
  }
  return out;
}

/** A generated preview token: 16 characters of [a-z0-9]. */
export function generateToken(random: Random = platformRandom): string {
  return randomAlphanumeric(GENERATED_TOKEN_LENGTH, random);
}

/** A quick tunnel's id, as the SDK makes them: `quick-` and 20 characters of [0-9a-z]. */
export function generateTunnelId(random: Random = platformRandom): string {
  return `quick-${randomAlphanumeric(20, random)}`;
}

/** A custom token: 1-16 characters of lowercase letters, digits, '-' and '_'. */
export function checkCustomToken(token: unknown): string {
  if (typeof token !== 'string' || !/^[a-z0-9_-]{1,16}$/.test(token)) {
    throw new SandboxError(
      ErrorCode.INVALID_TOKEN_FORMAT,
      `Invalid token ${JSON.stringify(token)}: must be 1-${MAX_TOKEN_LENGTH} characters of lowercase letters, digits, '-' and '_'`,
    );
  }
  return token;
}

/** The token of an `Authorization: Bearer <token>` header, or null when there is none. */
export function bearerToken(header: string | null | undefined): string | null {
  const m = /^Bearer\s+(.+)$/i.exec((header ?? '').trim());
  return m ? m[1]! : null;
}

/** True when the header carries exactly `secret` as its bearer token (compared in constant time). */
export function bearerMatches(header: string | null | undefined, secret: string | undefined): boolean {
  const token = bearerToken(header);
  return token !== null && !!secret && timingSafeEqualStrings(token, secret);
}

/**
 * Constant-time string comparison for secrets (bearer tokens, preview tokens, tickets): the time
 * depends only on the longer length, not on where the strings differ. Compares UTF-16 code units,
 * which needs no encoding step on the preview hot path.
 */
export function timingSafeEqualStrings(a: string, b: string): boolean {
  const len = Math.max(a.length, b.length);
  let diff = a.length ^ b.length;
  for (let i = 0; i < len; i++) diff |= (a.charCodeAt(i) | 0) ^ (b.charCodeAt(i) | 0);
  return diff === 0;
}
