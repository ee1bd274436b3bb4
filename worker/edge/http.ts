import { ErrorCode, SandboxError, toErrorBody, ERROR_STATUS, MAX_JSON_BODY_BYTES } from '../protocol/index';

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
 * A refused body is read and dropped up to this much before the answer goes out: a server that
 * answers and closes while the client is still sending makes the client's kernel see a reset, and
 * the client loses the 413 that says what was wrong. Past it, the connection is cut.
 */
const DRAIN_LIMIT_BYTES = 64 * 1024 * 1024;

async function readChunk(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<ReadableStreamReadResult<Uint8Array>> {
  return reader.read().catch((err: unknown) => {
    // A body the runtime cannot decode (a bad chunk size, a connection cut mid-body) is the
    // caller's fault, not ours: say so instead of answering 500.
    throw new SandboxError(
      ErrorCode.INVALID_REQUEST,
      `Could not read the request body: ${err instanceof Error ? err.message : String(err)} (send a complete body with a valid Content-Length or chunked encoding)`,
    );
  });
}

async function drainAndRefuse(reader: ReadableStreamDefaultReader<Uint8Array>, seen: number, limit: number): Promise<never> {
  let dropped = seen;
  while (dropped <= DRAIN_LIMIT_BYTES) {
    const { done, value } = await readChunk(reader).catch(() => ({ done: true as const, value: undefined }));
    if (done) break;
    dropped += value.byteLength;
  }
  await reader.cancel().catch(() => {});
  throw tooLarge(limit);
}

/** Reads at most `limit` bytes of body; a larger one is refused with 413 (and not kept in memory). */
export async function readBodyBytes(request: Request, limit: number): Promise<Uint8Array> {
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const declared = Number(request.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > limit) {
    if (declared > DRAIN_LIMIT_BYTES) {
      await reader.cancel().catch(() => {});
      throw tooLarge(limit);
    }
    return drainAndRefuse(reader, 0, limit);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await readChunk(reader);
    if (done) break;
    size += value.byteLength;
    if (size > limit) return drainAndRefuse(reader, size, limit);
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
