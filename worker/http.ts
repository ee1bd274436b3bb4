import { ErrorCode, SandboxError, toErrorBody, ERROR_STATUS, MAX_JSON_BODY_BYTES } from './protocol/index';

export function json(body: unknown, status = 200, headers?: HeadersInit): Response {
  const h = new Headers(headers);
  h.set('content-type', 'application/json; charset=utf-8');
  return new Response(JSON.stringify(body), { status, headers: h });
}

/** The one place a thrown error becomes an HTTP answer. */
export function errorResponse(err: unknown, headers?: HeadersInit): Response {
  const body = toErrorBody(err);
  if (body.code === ErrorCode.INTERNAL_ERROR) console.error('internal error:', err);
  return json(body, ERROR_STATUS[body.code], headers);
}

/**
 * Reads at most `limit` bytes of body, refusing larger ones as soon as the limit is crossed
 * (without reading the rest into memory).
 */
export async function readBodyBytes(request: Request, limit: number): Promise<Uint8Array> {
  const declared = Number(request.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.byteLength;
  }
  return out;
}

function tooLarge(limit: number): SandboxError {
  return new SandboxError(ErrorCode.BODY_TOO_LARGE, `Request body is larger than the limit of ${limit} bytes`);
}

/** Parses a JSON object body; an empty body is `{}` when `optional`. */
export async function readJsonObject(request: Request, optional = false): Promise<Record<string, unknown>> {
  const bytes = await readBodyBytes(request, MAX_JSON_BODY_BYTES);
  const text = new TextDecoder().decode(bytes);
  if (text.trim() === '') {
    if (optional) return {};
    throw new SandboxError(ErrorCode.INVALID_JSON, 'Request body is empty; expected a JSON object');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new SandboxError(ErrorCode.INVALID_JSON, `Request body is not valid JSON: ${(e as Error).message}`);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new SandboxError(ErrorCode.INVALID_JSON, 'Request body must be a JSON object');
  }
  return value as Record<string, unknown>;
}
