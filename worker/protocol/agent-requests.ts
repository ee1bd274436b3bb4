/**
 * The agent's request parsers: they check the JSON bodies of agent requests and return them typed,
 * with defaults filled in, as the agent's guard. They live in the protocol so the Worker and the
 * agent share one set of rules (the env rule and the longest timeout come from validate.ts, as the
 * Durable Object's operations use them). Every refusal is INVALID_REQUEST naming the field and
 * what it must be. Pure: no I/O.
 */
import { ErrorCode, SandboxError } from './errors';
import { checkProbePort } from './ports';
import { checkProcessId } from './ids';
import { MAX_TIMEOUT_MS, optionalEnv as envField } from './validate';
import type { CheckoutRequest, ExecRequest, StartRequest, WaitForLogRequest } from './agent';

export const DEFAULT_WAIT_TIMEOUT_MS = 60_000;
export const DEFAULT_EXEC_TIMEOUT_MS = 10 * 60_000;

export interface WaitForPortParams {
  port: number;
  mode: 'http' | 'tcp';
  path: string;
  status: { min: number; max: number };
  timeout: number;
  interval: number;
}

export type Body = Record<string, unknown>;

function invalid(message: string): SandboxError {
  return new SandboxError(ErrorCode.INVALID_REQUEST, message);
}

export function asObject(body: unknown): Body {
  if (body === undefined) return {};
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw invalid('Request body must be a JSON object');
  }
  return body as Body;
}

function requiredString(body: Body, field: string): string {
  const v = body[field];
  if (typeof v !== 'string' || v.trim() === '') throw invalid(`'${field}' must be a non-empty string`);
  return v;
}

function optionalString(body: Body, field: string): string | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw invalid(`'${field}' must be a string`);
  return v;
}

function optionalBoolean(body: Body, field: string): boolean | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw invalid(`'${field}' must be true or false`);
  return v;
}

/** The optional `env` field, by the same rule the Durable Object applies (validate.ts). */
export function optionalEnv(body: Body): Record<string, string> | undefined {
  return envField(body, 'env');
}

/** A positive number of milliseconds, or the default when absent. */
export function parseMs(value: unknown, field: string, fallback: number): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw invalid(`'${field}' must be a positive number of milliseconds`);
  }
  return Math.min(Math.ceil(value), MAX_TIMEOUT_MS);
}

export function parseStartRequest(raw: unknown): StartRequest {
  const body = asObject(raw);
  const req: StartRequest = { command: requiredString(body, 'command') };
  const cwd = optionalString(body, 'cwd');
  const env = optionalEnv(body);
  if (cwd !== undefined) req.cwd = cwd;
  if (env) req.env = env;
  if (body.processId !== undefined && body.processId !== null) req.processId = checkProcessId(body.processId);
  return req;
}

export function parseExecRequest(raw: unknown): ExecRequest & { timeout: number } {
  const body = asObject(raw);
  const req: ExecRequest & { timeout: number } = {
    command: requiredString(body, 'command'),
    timeout: parseMs(body.timeout, 'timeout', DEFAULT_EXEC_TIMEOUT_MS),
  };
  const cwd = optionalString(body, 'cwd');
  const env = optionalEnv(body);
  if (cwd !== undefined) req.cwd = cwd;
  if (env) req.env = env;
  return req;
}

function parseStatus(value: unknown): { min: number; max: number } {
  const isCode = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 100 && n <= 599;
  if (value === undefined || value === null) return { min: 200, max: 399 };
  if (isCode(value)) return { min: value, max: value };
  if (typeof value === 'object' && !Array.isArray(value)) {
    const { min, max } = value as Record<string, unknown>;
    if (isCode(min) && isCode(max) && min <= max) return { min, max };
  }
  throw invalid(`'status' must be an HTTP status (100-599) or { min, max } with min <= max`);
}

export function parseWaitForPort(raw: unknown): WaitForPortParams {
  const body = asObject(raw);
  const port = checkProbePort(body.port);
  const mode = body.mode ?? 'http';
  if (mode !== 'http' && mode !== 'tcp') throw invalid(`'mode' must be 'http' or 'tcp'`);
  const path = body.path ?? '/';
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (typeof path !== 'string' || !path.startsWith('/') || /[\s\0-\x1f\x7f]/.test(path)) {
    throw invalid(`'path' must be a URL path starting with '/' without spaces or control characters`);
  }
  return {
    port,
    mode,
    path,
    status: parseStatus(body.status),
    timeout: parseMs(body.timeout, 'timeout', DEFAULT_WAIT_TIMEOUT_MS),
    interval: parseMs(body.interval, 'interval', 500),
  };
}

export function parseWaitForLog(raw: unknown): WaitForLogRequest & { timeout: number } {
  const body = asObject(raw);
  const pattern = body.pattern;
  if (typeof pattern !== 'string' || pattern === '') throw invalid(`'pattern' must be a non-empty string`);
  const req: WaitForLogRequest & { timeout: number } = {
    pattern,
    regex: optionalBoolean(body, 'regex') ?? false,
    timeout: parseMs(body.timeout, 'timeout', DEFAULT_WAIT_TIMEOUT_MS),
  };
  const flags = optionalString(body, 'flags');
  if (flags !== undefined) req.flags = flags;
  return req;
}

export function parseWaitForExit(raw: unknown): { timeout: number } {
  return { timeout: parseMs(asObject(raw).timeout, 'timeout', DEFAULT_WAIT_TIMEOUT_MS) };
}

export function parseMkdir(raw: unknown): { path: string; recursive: boolean } {
  const body = asObject(raw);
  return { path: requiredString(body, 'path'), recursive: optionalBoolean(body, 'recursive') ?? false };
}

export function parseCheckout(raw: unknown): CheckoutRequest {
  const body = asObject(raw);
  const repoUrl = requiredString(body, 'repoUrl');
  if (repoUrl.startsWith('-')) throw invalid(`'repoUrl' must not start with '-'`);
  const req: CheckoutRequest = { repoUrl };
  const branch = optionalString(body, 'branch');
  if (branch !== undefined) {
    // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
    if (branch === '' || branch.startsWith('-') || /[\s\0-\x1f]/.test(branch)) {
      throw invalid(`'branch' must be a branch or tag name (not empty, no spaces, not starting with '-')`);
    }
    req.branch = branch;
  }
  const targetDir = optionalString(body, 'targetDir');
  if (targetDir !== undefined) req.targetDir = targetDir;
  return req;
}
