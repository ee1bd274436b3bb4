/**
 * Exposure rules (SPEC 2.3) as pure functions: what exposePort does to the set of a sandbox's
 * exposures, what a container restart does to them, and how they look on the wire. The Durable
 * Object stores the result; nothing here does I/O.
 */
import {
  ErrorCode,
  SandboxError,
  checkCustomToken,
  checkLabelLength,
  checkPreviewHostname,
  checkPreviewableId,
  checkUserPort,
  formatPreviewUrl,
  parseDurationMs,
  type ExposedPort,
  type Visibility,
} from '../protocol/index';

export interface Exposure {
  port: number;
  token: string;
  /** True when the user chose the token: it survives container restarts. */
  custom: boolean;
  hostname: string;
  name?: string;
  visibility: Visibility;
  createdAt: string;
  expiresAt?: string;
  /** The container run this token belongs to; generated tokens are replaced in later runs. */
  generation: number;
  /** false: the traffic inspector records nothing of this exposure. */
  inspect?: false;
}

export type ExposureMap = Record<string, Exposure>;

export interface ExposeContext {
  sandboxId: string;
  defaultHostname: string | undefined;
  now: number;
  /** The generation a token minted now belongs to (the current run, or the next one when stopped). */
  generation: number;
  newToken: () => string;
}

export interface ExposePlan {
  exposure: Exposure;
  /** The previous exposure of this port when its URL changes (its token stops working). */
  replaced?: Exposure;
  /** False when the call changed nothing (an idempotent re-expose). */
  changed: boolean;
}

/** Options may be a string (taken as the name) or an object, as in the documents. */
export function normalizeExposeOptions(options: unknown): Record<string, unknown> {
  if (options === undefined || options === null) return {};
  if (typeof options === 'string') return { name: options };
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw new SandboxError(ErrorCode.INVALID_REQUEST, 'exposePort options must be an object or a name string');
  }
  return options as Record<string, unknown>;
}

export function planExpose(current: ExposureMap, portValue: unknown, rawOptions: unknown, ctx: ExposeContext): ExposePlan {
  const port = checkUserPort(portValue);
  const options = normalizeExposeOptions(rawOptions);
  checkPreviewableId(ctx.sandboxId);
  const hostnameRaw = options.hostname ?? ctx.defaultHostname;
  if (hostnameRaw === undefined) {
    throw new SandboxError(ErrorCode.INVALID_HOSTNAME, 'No hostname: pass { hostname } or set PREVIEW_HOSTNAME in wrangler.jsonc');
  }
  const hostname = checkPreviewHostname(hostnameRaw);
  const name = options.name === undefined || options.name === null ? undefined : checkName(options.name);
  const visibility = checkVisibility(options.visibility);
  const ttlMs = options.ttl === undefined || options.ttl === null ? undefined : parseDurationMs(options.ttl);
  const customToken = options.token === undefined || options.token === null ? undefined : checkCustomToken(options.token);
  const inspect = checkInspect(options.inspect);

  const existing = current[String(port)];
  for (const other of Object.values(current)) {
    if (customToken !== undefined && other.port !== port && other.token === customToken) {
      throw new SandboxError(ErrorCode.TOKEN_CONFLICT, `Token '${customToken}' is already in use by port ${other.port}`);
    }
  }

  // Keep the URL when the caller does not ask for a new token: re-exposing is idempotent.
  const keepToken = existing && (customToken === undefined || customToken === existing.token);
  const token = keepToken ? existing.token : (customToken ?? ctx.newToken());
  const custom = keepToken ? existing.custom || customToken !== undefined : customToken !== undefined;
  checkLabelLength(port, ctx.sandboxId, token);

  const exposure: Exposure = {
    port,
    token,
    custom,
    hostname,
    visibility,
    createdAt: keepToken ? existing.createdAt : new Date(ctx.now).toISOString(),
    generation: keepToken ? existing.generation : ctx.generation,
  };
  // Kept unless asked again: a re-expose without it does not turn recording back on.
  if (inspect === false || (inspect === undefined && keepToken && existing.inspect === false)) exposure.inspect = false;
  if (name !== undefined) exposure.name = name;
  else if (keepToken && existing.name !== undefined && options.name === undefined) exposure.name = existing.name;
  if (ttlMs !== undefined) exposure.expiresAt = new Date(ctx.now + ttlMs).toISOString();
  else if (keepToken && existing.expiresAt) exposure.expiresAt = existing.expiresAt;

  const changed = !existing || JSON.stringify(existing) !== JSON.stringify(exposure);
  const replaced = existing && existing.token !== token ? existing : undefined;
  return { exposure, replaced, changed };
}

/**
 * After a container restart: custom tokens keep their URL; generated tokens from earlier runs
 * are replaced, so their old URLs answer 404 (the documents promise exactly this).
 */
export function rotateGeneratedTokens(current: ExposureMap, generation: number, newToken: () => string): { next: ExposureMap; rotated: Exposure[] } {
  const next: ExposureMap = {};
  const rotated: Exposure[] = [];
  for (const [key, e] of Object.entries(current)) {
    if (!e.custom && e.generation < generation) {
      const fresh = { ...e, token: newToken(), generation };
      next[key] = fresh;
      rotated.push(fresh);
    } else {
      next[key] = e;
    }
  }
  return { next, rotated };
}

export function isExpired(e: Exposure, now: number): boolean {
  return e.expiresAt !== undefined && Date.parse(e.expiresAt) <= now;
}

export function exposureUrl(e: Exposure, sandboxId: string): string {
  return formatPreviewUrl(e.port, sandboxId, e.token, e.hostname);
}

export function toExposedPort(e: Exposure, sandboxId: string): ExposedPort {
  const url = exposureUrl(e, sandboxId);
  const out: ExposedPort = { url, exposedAt: url, port: e.port, visibility: e.visibility, createdAt: e.createdAt, inspect: e.inspect !== false };
  if (e.name !== undefined) out.name = e.name;
  if (e.expiresAt !== undefined) out.expiresAt = e.expiresAt;
  return out;
}

export function listExposed(current: ExposureMap, sandboxId: string, now: number): ExposedPort[] {
  return Object.values(current)
    .filter((e) => !isExpired(e, now))
    .sort((a, b) => a.port - b.port)
    .map((e) => toExposedPort(e, sandboxId));
}

function checkName(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 64) {
    throw new SandboxError(ErrorCode.INVALID_REQUEST, `Field 'name' must be a string of 1-64 characters (got ${JSON.stringify(value)})`);
  }
  return value;
}

function checkInspect(value: unknown): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'boolean') return value;
  throw new SandboxError(ErrorCode.INVALID_REQUEST, `Field 'inspect' must be true or false (got ${JSON.stringify(value)?.slice(0, 40)})`);
}

function checkVisibility(value: unknown): Visibility {
  if (value === undefined || value === null) return 'public';
  if (value === 'public' || value === 'private') return value;
  throw new SandboxError(ErrorCode.INVALID_REQUEST, `Field 'visibility' must be 'public' or 'private' (got ${JSON.stringify(value)})`);
}
