/**
 * The HTTP edge shared by the agent and the local container host: bodies in (with limits), JSON
 * and errors out (a SandboxError becomes `{ error, code }` with its status here and nowhere
 * else), and Server-Sent Events responses with keepalives and cleanup.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode, SandboxError, toErrorBody } from '../../worker/protocol/errors';
import { MAX_JSON_BODY_BYTES } from '../../worker/protocol/api';
import { formatSse, SSE_KEEPALIVE, type SseMessage } from '../../worker/protocol/sse';

/** Reads the whole body, refusing with 413 BODY_TOO_LARGE past `limit` bytes. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(tooLarge(limit));
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= limit) return void parts.push(chunk);
      // Stop keeping it, but let the rest drain so the client still reads the 413.
      req.off('data', onData);
      req.off('end', onEnd);
      req.resume();
      reject(tooLarge(limit));
    };
    const onEnd = (): void => resolve(Buffer.concat(parts, size));
    req.on('data', onData);
    req.on('end', onEnd);
    req.once('error', reject);
  });
}

function tooLarge(limit: number): SandboxError {
  return new SandboxError(ErrorCode.BODY_TOO_LARGE, `Request body is larger than the limit of ${limit} bytes`);
}

/** Reads a JSON body; an empty body reads as undefined. */
export async function readJson(req: IncomingMessage, limit = MAX_JSON_BODY_BYTES): Promise<unknown> {
  const text = (await readBody(req, limit)).toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new SandboxError(ErrorCode.INVALID_JSON, `Request body is not valid JSON: ${(err as Error).message}`);
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

export function sendEmpty(res: ServerResponse, status = 204): void {
  res.writeHead(status);
  res.end();
}

/**
 * The one place an error becomes an HTTP answer. Unexpected errors are logged and answer 500;
 * when a response is already under way the connection is closed instead.
 */
export function sendError(res: ServerResponse, err: unknown, log: (msg: string) => void = console.error): void {
  if (!(err instanceof SandboxError)) log(`unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const body = toErrorBody(err);
  const status = err instanceof SandboxError ? err.status : 500;
  sendJson(res, status, body);
}

export const KEEPALIVE_MS = 15_000;

/**
 * How much an SSE client may have unsent before the writer waits for 'drain'. Larger than Node's
 * 16 KiB default so a burst of output goes out in one go instead of one chunk per drain.
 */
export const SSE_HIGH_WATER_BYTES = 1024 * 1024;

export interface SseStream {
  /** Writes one message; false when the client is SSE_HIGH_WATER_BYTES behind (wait for onDrain). */
  send(msg: SseMessage): boolean;
  onDrain(fn: () => void): void;
  /** Ends the response (cleanup runs once, whoever closes first). */
  end(): void;
  /** Runs when the response ends or the client goes away. */
  onClose(fn: () => void): void;
  readonly closed: boolean;
}

/** Starts an SSE response: headers flushed at once, keepalive comments, cleanup on close. */
export function openSse(res: ServerResponse, keepaliveMs = KEEPALIVE_MS): SseStream {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.flushHeaders();
  res.socket?.setNoDelay(true);
  const closers: Array<() => void> = [];
  let closed = false;
  const keepalive = setInterval(() => res.write(SSE_KEEPALIVE), keepaliveMs);
  const cleanup = (): void => {
    if (closed) return;
    closed = true;
    clearInterval(keepalive);
    for (const fn of closers.splice(0)) {
      try {
        fn();
      } catch (err) {
        console.error('sse cleanup failed:', err);
      }
    }
  };
  res.on('close', cleanup);
  return {
    send: (msg) => {
      if (closed) return false;
      res.write(formatSse(msg));
      return res.writableLength < SSE_HIGH_WATER_BYTES;
    },
    onDrain: (fn) => res.once('drain', fn),
    end: () => {
      cleanup();
      res.end();
    },
    onClose: (fn) => {
      if (closed) fn();
      else closers.push(fn);
    },
    get closed() {
      return closed;
    },
  };
}

/** The resume point of an SSE request: Last-Event-ID header, else ?lastEventId=. */
export function lastEventId(req: IncomingMessage, query: URLSearchParams): number | undefined {
  const raw = req.headers['last-event-id'] ?? query.get('lastEventId') ?? undefined;
  const text = Array.isArray(raw) ? raw[0] : raw;
  if (text === undefined || text.trim() === '') return undefined;
  const n = Number(text);
  return Number.isInteger(n) && n >= 0 ? n : undefined;
}
