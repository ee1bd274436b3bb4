/**
 * The preview proxy's own answers, readable by whoever asked: a browser (Accept: text/html) gets
 * a small HTML page with the same status and code and one line of help; every other client the
 * JSON `{ error, code }` of every other wire. Pure apart from building the Response.
 */
import { errorResponse } from './http';
import { ErrorCode, ERROR_STATUS, toErrorBody } from '../protocol/index';

const TITLES: Partial<Record<ErrorCode, string>> = {
  [ErrorCode.INVALID_TOKEN]: 'No preview here',
  [ErrorCode.PREVIEW_AUTH_REQUIRED]: 'This preview is private',
  [ErrorCode.SANDBOX_NOT_RUNNING]: 'The sandbox is not running',
  [ErrorCode.SERVICE_UNAVAILABLE]: 'Nothing answers on this port',
};

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** True when the client would rather read a page (a browser navigating). */
export function wantsHtml(request: Request): boolean {
  return /\btext\/html\b/i.test(request.headers.get('accept') ?? '');
}

export function previewErrorPage(status: number, code: string, message: string): string {
  const title = TITLES[code as ErrorCode] ?? 'Preview error';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>${status} · ${escapeHtml(title)}</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#222}
code{background:#f3f3f3;padding:.1rem .3rem;border-radius:3px}small{color:#666}</style></head>
<body><h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p>
<p><small>${status} · <code>${escapeHtml(code)}</code> · Sandbox Ports preview</small></p></body></html>
`;
}

/** An error of the preview proxy as `request` would read it best. */
export function previewErrorResponse(request: Request, err: unknown, headers?: HeadersInit): Response {
  if (!wantsHtml(request)) return errorResponse(err, headers);
  const body = toErrorBody(err);
  const status = ERROR_STATUS[body.code];
  const h = new Headers(headers);
  h.set('content-type', 'text/html; charset=utf-8');
  h.set('cache-control', 'no-store');
  return new Response(previewErrorPage(status, body.code, body.error), { status, headers: h });
}
