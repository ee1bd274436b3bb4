/**
 * The lock on the local listeners (the local container host and each agent). Any web page in the
 * developer's browser can send requests to loopback ports: a `no-cors` fetch or a form POST with a
 * `text/plain` body needs no preflight, and DNS rebinding lets a page read the answers. So a
 * request gets in only when all of these hold:
 *
 *  - it carries none of the marks a browser puts on a page's requests (`Origin`, `Sec-Fetch-Site`);
 *  - its Host is a loopback name or address (a rebound name such as `evil.example` is refused);
 *  - it carries the per-run secret in LOCAL_SECRET_HEADER, which a page cannot know and cannot
 *    attach without a CORS preflight that nothing here answers;
 *  - a body, if any, is `application/json` (or `application/octet-stream` for file content), never
 *    one of the types a page may send without a preflight.
 *
 * Without a secret (the agent inside a real container, reached only by its Durable Object) the
 * Host and secret checks are off; the browser checks always apply. Pure: no I/O.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { LOCAL_SECRET_HEADER } from '../../worker/protocol/agent';
import { ErrorCode, SandboxError } from '../../worker/protocol/errors';
import { timingSafeEqualStrings } from '../../worker/protocol/tokens';

const LOOPBACK_NAMES = new Set(['127.0.0.1', 'localhost', '[::1]']);
const BODY_TYPES = new Set(['application/json', 'application/octet-stream']);
/**
 * Headers a browser sets on a page's requests and a page cannot remove. (Not Sec-Fetch-Mode: Node's
 * own fetch sends that one too.)
 */
const BROWSER_MARKS = ['origin', 'sec-fetch-site'];

function denied(message: string): SandboxError {
  return new SandboxError(ErrorCode.LOCAL_ACCESS_DENIED, message);
}

/** The host name of a Host header (`[::1]` keeps its brackets), or null when it is malformed. */
export function hostName(host: string): string | null {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(host.trim());
  return m ? m[1]!.toLowerCase() : null;
}

function mediaType(value: string | undefined): string {
  return (value ?? '').split(';')[0]!.trim().toLowerCase();
}

function hasBody(method: string | undefined, headers: IncomingHttpHeaders): boolean {
  if (method === 'GET' || method === 'HEAD') return false;
  if (headers['transfer-encoding'] !== undefined) return true;
  const length = Number(headers['content-length'] ?? 0);
  return !Number.isFinite(length) || length > 0;
}

/**
 * Throws LOCAL_ACCESS_DENIED (403) unless the caller is the Worker: no browser marks, a loopback
 * Host, the secret (when there is one). `forwarded`: the request is one the Worker passes on for
 * a browser (a preview, through the port relay), so it may carry a browser's marks; the secret,
 * which no page can attach, is what shows the Worker sent it.
 */
export function checkCaller(headers: IncomingHttpHeaders, secret: string | undefined, { forwarded = false } = {}): void {
  for (const mark of forwarded ? [] : BROWSER_MARKS) {
    const value = headers[mark];
    if (value !== undefined) throw denied(`Requests from web pages are refused here (the request carries ${mark}: ${String(value).slice(0, 100)})`);
  }
  if (secret === undefined) return;
  const host = headers.host;
  const name = host === undefined ? null : hostName(host);
  if (name === null || !LOOPBACK_NAMES.has(name)) {
    throw denied(`Host ${JSON.stringify(host ?? '')} is refused: only loopback names (127.0.0.1, localhost, [::1]) reach this listener`);
  }
  const given = headers[LOCAL_SECRET_HEADER];
  if (typeof given !== 'string' || given === '') throw denied(`The ${LOCAL_SECRET_HEADER} header is missing: only the Worker that started this listener may call it`);
  if (!timingSafeEqualStrings(given, secret)) throw denied(`The ${LOCAL_SECRET_HEADER} header does not match this run's secret`);
}

/** Throws LOCAL_ACCESS_DENIED (403) with the reason when a request may not come in. */
export function checkDoor(method: string | undefined, headers: IncomingHttpHeaders, secret: string | undefined): void {
  checkCaller(headers, secret);
  if (hasBody(method, headers) && !BODY_TYPES.has(mediaType(headers['content-type']))) {
    throw denied(`A request body must be application/json (or application/octet-stream for file content), not ${JSON.stringify(headers['content-type'] ?? 'none')}`);
  }
}
