import { ErrorCode, SandboxError } from './errors';

/**
 * Small field readers for JSON bodies, shared by the Worker and the agent, so every bad field
 * gets the same kind of message: which field, what was expected, what came.
 */

type Obj = Record<string, unknown>;

function bad(field: string, expected: string, got: unknown): SandboxError {
  const shown = got === undefined ? 'nothing' : (JSON.stringify(got)?.slice(0, 60) ?? String(got));
  return new SandboxError(ErrorCode.INVALID_REQUEST, `Field '${field}' must be ${expected} (got ${shown})`);
}

export function requireString(body: Obj, field: string, maxLength = 100_000): string {
  const v = body[field];
  if (typeof v !== 'string' || v.length === 0 || v.length > maxLength) {
    throw bad(field, `a non-empty string of at most ${maxLength} characters`, v);
  }
  return v;
}

export function optionalString(body: Obj, field: string, maxLength = 4096): string | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.length > maxLength) throw bad(field, `a string of at most ${maxLength} characters`, v);
  return v;
}

export function optionalBoolean(body: Obj, field: string): boolean | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw bad(field, 'true or false', v);
  return v;
}

/** An integer in [min, max]; `unit` (e.g. 'milliseconds') makes the message name it. */
export function optionalInteger(body: Obj, field: string, min: number, max: number, unit?: string): number | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw bad(field, unit ? `a whole number of ${unit} from ${min} to ${max}` : `an integer from ${min} to ${max}`, v);
  }
  return v;
}

export function optionalEnv(body: Obj, field: string): Record<string, string> | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw bad(field, 'an object of string values', v);
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v as Obj)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw bad(`${field}.${k}`, 'named like an environment variable', k);
    if (typeof val !== 'string') throw bad(`${field}.${k}`, 'a string', val);
    // No environment can hold a NUL: spawning would fail later with a less clear message.
    if (val.includes('\0')) throw bad(`${field}.${k}`, 'a string without NUL characters', k);
    out[k] = val;
  }
  return out;
}

/** Largest timeout any wait accepts: one hour. */
export const MAX_TIMEOUT_MS = 3_600_000;
