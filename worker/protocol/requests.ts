/**
 * The request parsers: one per sandbox operation, used twice with the same rules. The Durable
 * Object runs them on what SDK callers and the control API hand it, and the agent runs them again
 * as its guard on the JSON it receives (only the Worker should call it, but a guard must not
 * assume that). Each returns the request typed, with the defaults filled in; each refusal is a
 * SandboxError naming the field and what it must be. Pure: no I/O.
 */
import { ErrorCode, SandboxError } from './errors';
import { checkProbePort } from './ports';
import { checkProcessId } from './ids';
import { DEFAULT_KILL_GRACE_MS, MAX_KILL_GRACE_MS, isSignalName, type SignalName } from './process';
import { MAX_TIMEOUT_MS, optionalBoolean, optionalEnv, optionalInteger, optionalString, requireString } from './validate';
import type { CheckoutRequest, ExecRequest, StartRequest, WaitForLogRequest } from './agent';

const DEFAULT_WAIT_TIMEOUT_MS = 60_000;
const DEFAULT_EXEC_TIMEOUT_MS = 10 * 60_000;
const DEFAULT_PROBE_INTERVAL_MS = 500;
const MAX_COMMAND_LENGTH = 64 * 1024;
const MAX_PATH_LENGTH = 4096;
const MAX_PATTERN_LENGTH = 4096;
const MAX_URL_PATH_LENGTH = 2048;

export interface WaitForPortParams {
  port: number;
  mode: 'http' | 'tcp';
  path: string;
  status: { min: number; max: number };
  timeout: number;
  interval: number;
}

type Body = Record<string, unknown>;

function invalid(message: string): SandboxError {
  return new SandboxError(ErrorCode.INVALID_REQUEST, message);
}

/** A request body or an options argument: absent is `{}`, anything but a plain object is refused. */
export function asObject(body: unknown, what = 'Request body'): Body {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw invalid(`${what} must be an object`);
  return body as Body;
}

/** A timeout: whole milliseconds from 1 to an hour, or `fallback` when absent. */
function timeoutField(body: Body, fallback: number): number {
  return optionalInteger(body, 'timeout', 1, MAX_TIMEOUT_MS, 'milliseconds') ?? fallback;
}

/** A string that must say something: not empty, not only spaces (a blank command or path is a mistake). */
function nonBlank(body: Body, field: string, maxLength: number): string {
  const v = requireString(body, field, maxLength);
  if (v.trim() === '') throw invalid(`Field '${field}' must not be blank (got ${JSON.stringify(v.slice(0, 60))})`);
  return v;
}

/**
 * A file operation's path, as the Worker can check it: a string that says something. What it
 * means (and what it may not contain) the agent decides, resolving it in the sandbox's view.
 */
export function parsePath(value: unknown): string {
  return nonBlank({ path: value }, 'path', MAX_PATH_LENGTH);
}

/** `cwd`, `env` and the command every process request carries. */
function commandParts(body: Body): { command: string; cwd?: string; env?: Record<string, string> } {
  const req: { command: string; cwd?: string; env?: Record<string, string> } = { command: nonBlank(body, 'command', MAX_COMMAND_LENGTH) };
  const cwd = optionalString(body, 'cwd', MAX_PATH_LENGTH);
  const env = optionalEnv(body, 'env');
  if (cwd !== undefined) req.cwd = cwd;
  if (env) req.env = env;
  return req;
}

export function parseStartRequest(raw: unknown): StartRequest {
  const body = asObject(raw, 'startProcess options');
  const req: StartRequest = commandParts(body);
  if (body.processId !== undefined && body.processId !== null) req.processId = checkProcessId(body.processId);
  return req;
}

export function parseExecRequest(raw: unknown): ExecRequest & { timeout: number } {
  const body = asObject(raw, 'exec options');
  return { ...commandParts(body), timeout: timeoutField(body, DEFAULT_EXEC_TIMEOUT_MS) };
}

function parseStatus(value: unknown): { min: number; max: number } {
  const isCode = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 100 && n <= 599;
  if (value === undefined || value === null) return { min: 200, max: 399 };
  if (isCode(value)) return { min: value, max: value };
  if (typeof value === 'object' && !Array.isArray(value)) {
    const { min, max } = value as Body;
    if (isCode(min) && isCode(max) && min <= max) return { min, max };
  }
  throw invalid(`Field 'status' must be an HTTP status (100-599) or { min, max } with min <= max (got ${JSON.stringify(value)?.slice(0, 60)})`);
}

export function parseWaitForPort(raw: unknown): WaitForPortParams {
  const body = asObject(raw, 'waitForPort options');
  const port = checkProbePort(body.port);
  const mode = body.mode ?? 'http';
  if (mode !== 'http' && mode !== 'tcp') throw invalid(`Field 'mode' must be 'http' or 'tcp' (got ${JSON.stringify(mode)?.slice(0, 60)})`);
  const path = optionalString(body, 'path', MAX_URL_PATH_LENGTH) ?? '/';
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (!path.startsWith('/') || /[\s\0-\x1f\x7f]/.test(path)) {
    throw invalid(`Field 'path' must be a URL path starting with '/' without spaces or control characters (got ${JSON.stringify(path.slice(0, 60))})`);
  }
  return {
    port,
    mode,
    path,
    status: parseStatus(body.status),
    timeout: timeoutField(body, DEFAULT_WAIT_TIMEOUT_MS),
    interval: optionalInteger(body, 'interval', 10, 60_000, 'milliseconds') ?? DEFAULT_PROBE_INTERVAL_MS,
  };
}

export function parseWaitForLog(raw: unknown): WaitForLogRequest & { timeout: number } {
  const body = asObject(raw, 'waitForLog options');
  const req: WaitForLogRequest & { timeout: number } = {
    pattern: requireString(body, 'pattern', MAX_PATTERN_LENGTH),
    regex: optionalBoolean(body, 'regex') ?? false,
    timeout: timeoutField(body, DEFAULT_WAIT_TIMEOUT_MS),
  };
  const flags = optionalString(body, 'flags', 8);
  if (flags !== undefined) req.flags = flags;
  return req;
}

export function parseWaitForExit(raw: unknown): { timeout: number } {
  return { timeout: timeoutField(asObject(raw, 'waitForExit options'), DEFAULT_WAIT_TIMEOUT_MS) };
}

/** The agent's rule is mkdir's: one level unless `recursive` says otherwise. */
export function parseMkdir(raw: unknown): { path: string; recursive: boolean } {
  const body = asObject(raw, 'mkdir options');
  return { path: parsePath(body.path), recursive: optionalBoolean(body, 'recursive') ?? false };
}

export function parseCheckout(raw: unknown): CheckoutRequest {
  const body = asObject(raw, 'checkout options');
  const repoUrl = nonBlank(body, 'repoUrl', MAX_PATH_LENGTH);
  if (repoUrl.startsWith('-')) throw invalid(`Field 'repoUrl' must not start with '-'`);
  const req: CheckoutRequest = { repoUrl };
  const branch = optionalString(body, 'branch', 256);
  if (branch !== undefined) {
    // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
    if (branch === '' || branch.startsWith('-') || /[\s\0-\x1f]/.test(branch)) {
      throw invalid(`Field 'branch' must be a branch or tag name (not empty, no spaces, not starting with '-')`);
    }
    req.branch = branch;
  }
  const targetDir = optionalString(body, 'targetDir', MAX_PATH_LENGTH);
  if (targetDir !== undefined) req.targetDir = targetDir;
  return req;
}

/** A kill's signal (default SIGTERM) and grace period before SIGKILL (default 5 s). */
export function parseKill(signal: unknown, graceMs: unknown): { signal: SignalName; graceMs: number } {
  const s = signal ?? 'SIGTERM';
  if (!isSignalName(s)) {
    throw new SandboxError(ErrorCode.INVALID_SIGNAL, `Unknown signal ${JSON.stringify(s)?.slice(0, 60)}: use SIGTERM, SIGKILL, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 or SIGUSR2`);
  }
  return { signal: s, graceMs: parseGraceMs(graceMs) };
}

/** A kill's grace period from a query or option: whole ms from 0 to MAX_KILL_GRACE_MS, or the default. */
function parseGraceMs(value: unknown): number {
  if (value === undefined || value === null || value === '') return DEFAULT_KILL_GRACE_MS;
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > MAX_KILL_GRACE_MS) {
    throw invalid(`graceMs must be an integer number of milliseconds from 0 to ${MAX_KILL_GRACE_MS} (got ${JSON.stringify(value)?.slice(0, 60)})`);
  }
  return n;
}

/** A file's encoding on the wire: absent, UTF-8 or base64 (`utf8` is taken for `utf-8`). */
export function parseEncoding(value: unknown): 'utf-8' | 'base64' | undefined {
  if (value === undefined || value === null) return undefined;
  if (value === 'utf-8' || value === 'utf8') return 'utf-8';
  if (value === 'base64') return 'base64';
  throw invalid(`Unknown encoding ${JSON.stringify(value)?.slice(0, 60)}: use utf-8 or base64`);
}
