import { ErrorCode, SandboxError } from './errors';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses a ttl such as '30m', '2h', '45s' or a number of milliseconds. */
export function parseDurationMs(value: unknown, what = 'ttl'): number {
  if (typeof value === 'number' && Number.isInteger(value) && value > 0) return value;
  if (typeof value === 'string') {
    const m = /^(\d+)(ms|s|m|h|d)$/.exec(value.trim());
    if (m) {
      const ms = Number(m[1]) * UNIT_MS[m[2]!]!;
      if (ms > 0) return ms;
    }
  }
  throw new SandboxError(ErrorCode.INVALID_TTL, `Invalid ${what} ${JSON.stringify(value)}: use a positive number of milliseconds or a string like '45s', '30m', '2h'`);
}
