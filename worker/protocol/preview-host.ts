import { ErrorCode, SandboxError } from './errors';

/**
 * The one definition of the preview URL scheme:
 *   https://{port}-{sandboxId}-{token}.{hostname}/      (http and the port kept for local hosts)
 * Ids and tokens may both contain '-', so a host label splits several ways; parsing yields every
 * split and the Durable Object confirms which one is real.
 */

export const MAX_LABEL_LENGTH = 63;

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** True for hosts that are served over plain http with their port kept (local development). */
export function isLocalHostname(hostname: string): boolean {
  const bare = hostname.replace(/:\d+$/, '');
  return LOCAL_HOSTS.has(bare) || bare.endsWith('.localhost');
}

/** Validates and lowercases the host that preview hostnames hang under. */
export function checkPreviewHostname(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 200) {
    throw new SandboxError(ErrorCode.INVALID_HOSTNAME, 'Hostname must be a non-empty string such as example.com');
  }
  const hostname = value.trim().toLowerCase().replace(/\.$/, '');
  if (!/^(\[::1\]|[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*)(:\d{1,5})?$/.test(hostname)) {
    throw new SandboxError(ErrorCode.INVALID_HOSTNAME, `Invalid hostname '${value}': give a bare host such as example.com or localhost:8787, without scheme or path`);
  }
  if (hostname.replace(/:\d+$/, '').endsWith('.workers.dev')) {
    throw new SandboxError(
      ErrorCode.INVALID_HOSTNAME,
      `Hostname '${value}' is a .workers.dev domain, which does not support the wildcard subdomains preview URLs need. Use a custom domain with a wildcard DNS record`,
    );
  }
  return hostname;
}

/** Checks that a sandbox id can appear in a preview hostname; the messages say how to fix it. */
export function checkPreviewableId(sandboxId: string): void {
  if (sandboxId !== sandboxId.toLowerCase()) {
    throw new SandboxError(
      ErrorCode.UPPERCASE_SANDBOX_ID,
      `Preview URLs require lowercase sandbox IDs. The ID '${sandboxId}' contains uppercase letters, but hostnames are lowercase, so its preview URL would reach '${sandboxId.toLowerCase()}' instead. Use getSandbox(env.Sandbox, '${sandboxId}', { normalizeId: true }) (through the control API: POST /api/v1/sandboxes with "normalizeId": true) or a lowercase ID`,
    );
  }
  if (sandboxId.includes('.')) {
    throw new SandboxError(
      ErrorCode.INVALID_SANDBOX_ID,
      `Sandbox ID '${sandboxId}' contains '.', which would split its preview hostname into several labels. Use an ID without dots for preview URLs`,
    );
  }
}

export function previewLabel(port: number, sandboxId: string, token: string): string {
  return `${port}-${sandboxId}-${token}`;
}

/** Refuses a label that DNS cannot carry (over 63 characters). */
export function checkLabelLength(port: number, sandboxId: string, token: string): void {
  const label = previewLabel(port, sandboxId, token);
  if (label.length > MAX_LABEL_LENGTH) {
    throw new SandboxError(
      ErrorCode.INVALID_SANDBOX_ID,
      `Preview hostname label '${label}' is ${label.length} characters; DNS allows at most ${MAX_LABEL_LENGTH}. Use a shorter sandbox ID or token`,
    );
  }
}

export function formatPreviewUrl(port: number, sandboxId: string, token: string, hostname: string): string {
  const scheme = isLocalHostname(hostname) ? 'http' : 'https';
  return `${scheme}://${previewLabel(port, sandboxId, token)}.${hostname}/`;
}

export interface PreviewRoute {
  port: number;
  sandboxId: string;
  token: string;
  /** The host the preview hangs under, port included when the request carried one. */
  hostname: string;
}

/**
 * Every way a request host could name a preview, most likely first (a token without '-', as
 * generated tokens are, then longer tokens). Returns [] for hosts that are not preview-shaped.
 */
export function parsePreviewHost(host: string): PreviewRoute[] {
  const lower = host.toLowerCase();
  const dot = lower.indexOf('.');
  if (dot <= 0) return [];
  const label = lower.slice(0, dot);
  const hostname = lower.slice(dot + 1);
  const m = /^(\d{4,5})-([a-z0-9_-]+)$/.exec(label);
  if (!m || hostname.length === 0) return [];
  const port = Number(m[1]);
  const rest = m[2]!;
  const routes: PreviewRoute[] = [];
  for (let i = rest.length - 1; i > 0; i--) {
    if (rest[i] !== '-') continue;
    const sandboxId = rest.slice(0, i);
    const token = rest.slice(i + 1);
    if (!sandboxId || !token || sandboxId.endsWith('-') || token.length > 16) continue;
    routes.push({ port, sandboxId, token, hostname });
  }
  return routes;
}

/**
 * For a sandbox that knows its own id: the port and token a request host names, or null when
 * the host is not `{port}-{sandboxId}-{token}.…` for this sandbox.
 */
export function matchPreviewHost(host: string, sandboxId: string): { port: number; token: string } | null {
  const dot = host.indexOf('.');
  if (dot <= 0) return null;
  const label = host.slice(0, dot).toLowerCase();
  const dash = label.indexOf('-');
  if (dash < 4 || dash > 5) return null;
  const port = Number(label.slice(0, dash));
  const prefix = `${sandboxId}-`;
  if (!Number.isInteger(port) || !label.startsWith(prefix, dash + 1)) return null;
  const token = label.slice(dash + 1 + prefix.length);
  return token.length > 0 ? { port, token } : null;
}
