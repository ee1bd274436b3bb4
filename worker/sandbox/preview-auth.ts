/**
 * Credentials for private previews. A request passes with the control API's bearer token, or with
 * a cookie that a single-use ticket link set: the cookie is an HMAC over the sandbox, port, token
 * and expiry, keyed by the API token, set without a Domain (so only that preview host gets it).
 */
import { timingSafeEqualStrings } from '../protocol/index';

export const PREVIEW_COOKIE = '__sandbox_preview';
export const TICKET_TTL_MS = 60_000;

/** The ticket lifetime: PREVIEW_TICKET_TTL_MS when set (tests shorten it), else a minute. */
export function ticketTtlMs(configured: string | undefined): number {
  const n = Number(configured);
  return Number.isInteger(n) && n > 0 ? n : TICKET_TTL_MS;
}
export const COOKIE_TTL_MS = 12 * 3_600_000;

function b64url(bytes: ArrayBuffer): string {
  let bin = '';
  for (const b of new Uint8Array(bytes)) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

async function hmac(secret: string, message: string): Promise<string> {
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(`preview-cookie:${secret}`), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return b64url(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(message)));
}

export interface PreviewScope {
  sandboxId: string;
  port: number;
  token: string;
}

function scopeString(s: PreviewScope, exp: number): string {
  return `${s.sandboxId}|${s.port}|${s.token}|${exp}`;
}

export async function signPreviewCookie(secret: string, scope: PreviewScope, now: number): Promise<string> {
  const exp = now + COOKIE_TTL_MS;
  return `${exp}.${await hmac(secret, scopeString(scope, exp))}`;
}

export async function verifyPreviewCookie(secret: string, scope: PreviewScope, value: string, now: number): Promise<boolean> {
  const dot = value.indexOf('.');
  if (dot <= 0) return false;
  const exp = Number(value.slice(0, dot));
  if (!Number.isSafeInteger(exp) || exp <= now) return false;
  return timingSafeEqualStrings(value.slice(dot + 1), await hmac(secret, scopeString(scope, exp)));
}

export function readCookie(header: string | null, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

/**
 * The cookie works inside VS Code's Simple Browser too, which is a cross-site iframe: such a
 * cookie must be SameSite=None; Secure (allowed on http://*.localhost, a secure context) and
 * Partitioned so browsers that block third-party cookies still keep it for that frame.
 */
export function previewCookieHeader(value: string): string {
  return `${PREVIEW_COOKIE}=${value}; Path=/; Max-Age=${COOKIE_TTL_MS / 1000}; HttpOnly; Secure; SameSite=None; Partitioned`;
}

export function newTicketId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return b64url(bytes.buffer);
}
