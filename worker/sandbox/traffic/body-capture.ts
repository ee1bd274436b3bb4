/**
 * Copies the first part of a body as it streams past: every chunk goes on at once, unchanged (no
 * request or response waits to be recorded, Server-Sent Events still arrive event by event), and
 * the first TRAFFIC_BODY_BYTES are kept. A body of known length keeps it on the way out.
 */
import { TRAFFIC_BODY_BYTES, type CapturedBody } from '../../protocol/index';

/** Types whose bodies are kept as text (others too, when they are valid UTF-8 and say no type). */
const TEXT_TYPE = /^(text\/|application\/(json|[\w.+-]*\+json|xml|[\w.+-]*\+xml|javascript|x-www-form-urlencoded|x-ndjson|graphql)|multipart\/form-data)/i;

/** The kept bytes as the inspector shows them: text as text, anything else by size and type. */
export function describeBody(head: Uint8Array, size: number, contentType: string | null, complete: boolean, sizeUnknown = false): CapturedBody {
  const type = contentType ?? undefined;
  const base = { size, ...(sizeUnknown ? { sizeUnknown: true as const } : {}), ...(type ? { contentType: type } : {}), truncated: !complete || size > head.length };
  if (size === 0) return { ...base, kind: 'none', truncated: !complete };
  if (type && !TEXT_TYPE.test(type)) return { ...base, kind: 'binary' };
  try {
    // Streamed, so a character cut at the end of the kept part is left out rather than garbled.
    return { ...base, kind: 'text', text: new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(head, { stream: base.truncated }) };
  } catch {
    return { ...base, kind: 'binary' };
  }
}

export interface Captured {
  head: Uint8Array;
  size: number;
  /** The body went on uncounted past COUNTED_BYTES: `size` is a lower bound. */
  sizeUnknown?: true;
  /** False when the stream broke off or was cancelled before its end. */
  complete: boolean;
  /** The copy was let go (at COUNTED_BYTES or FOLLOW_MS) while the body went on: its end was not seen. */
  endUnseen?: true;
  error?: string;
}

/** A body's declared length (Content-Length), or null when it has none or an unreadable one. */
export function declaredLength(headers: Headers): number | null {
  return parseLength(headers.get('content-length'));
}

/** A Content-Length's value as a number, or null when there is none or it is not one. */
export function parseLength(value: string | null): number | null {
  return value !== null && /^\d+$/.test(value) ? Number(value) : null;
}

/** A body of unknown length is counted up to here; past it the runtime pipes it (its size is then "at least"). */
export const COUNTED_BYTES = 1024 * 1024;

/**
 * `body` with its first bytes copied; `done` resolves when it ended, however it ended. Chunks go on
 * at once. Past the kept part (or, for a body of unknown length, past COUNTED_BYTES) the runtime
 * pipes the rest itself, with no JavaScript per chunk, so a large body costs the Worker no memory:
 * a body with a Content-Length keeps it on the way out and its size is that length; one without
 * reports the bytes counted as a lower bound.
 */
export function captureBody(body: ReadableStream<Uint8Array>, length: number | null): { stream: ReadableStream<Uint8Array>; done: Promise<Captured> } {
  const out = length !== null ? new FixedLengthStream(length) : new IdentityTransformStream();
  return { stream: out.readable as ReadableStream<Uint8Array>, done: captureInto(body, out.writable as WritableStream<Uint8Array>, length) };
}

/** The same into a stream of the caller's (the preview proxy's own pipe to the service). */
export function captureInto(body: ReadableStream<Uint8Array>, out: WritableStream<Uint8Array>, length: number | null): Promise<Captured> {
  const head = new Head();
  return pump(body, out, head, length !== null ? TRAFFIC_BODY_BYTES : COUNTED_BYTES).then(
    (counted): Captured => {
      if (length !== null) return { head: head.bytes(), size: length, complete: true };
      return { head: head.bytes(), size: head.size, complete: true, ...(counted ? {} : { sizeUnknown: true as const }) };
    },
    (err: unknown): Captured => broke(head, err),
  );
}

/**
 * A copy of a body of known length no longer than TRAFFIC_BODY_BYTES (a clone of the response, the
 * client keeping the original), read whole by the runtime: no JavaScript per chunk, which costs
 * about half the CPU of a reader's loop (measured).
 */
export function readCopy(copy: Response, length: number): Promise<Captured> {
  return copy.arrayBuffer().then(
    (buffer): Captured => {
      const head = new Uint8Array(buffer);
      return { head, size: head.byteLength, complete: head.byteLength === length };
    },
    (err: unknown) => broke(new Head(), err),
  );
}

/** Bodies made to stay open (events, streamed records, a camera's frames): a client leaving must end them. */
const OPEN_ENDED = /^(text\/event-stream|application\/(x-)?ndjson|application\/jsonl|application\/json-seq|application\/stream\+json|multipart\/x-mixed-replace)/i;

/**
 * Whether a body of unknown length may be read from a second branch (`readCopyHead`): not one made
 * to stay open. The runtime ends the service's stream only when both branches let go, so after the
 * client left, the copy holds it open until it lets go itself (at COUNTED_BYTES or FOLLOW_MS). An
 * event stream may idle for long, so it goes through JavaScript (`captureBody`): its copy ends with
 * the client, at once.
 */
export function copyableWhileOpen(contentType: string | null): boolean {
  return contentType === null || !OPEN_ENDED.test(contentType);
}

/** How long a copy of a body of unknown length is followed, at most (then the runtime streams the rest alone). */
const FOLLOW_MS = 10_000;

/**
 * A copy of a body of unknown length (the client keeping the original, which the runtime streams
 * with no JavaScript per chunk), read to its end, or until COUNTED_BYTES passed or FOLLOW_MS went
 * by; then let go, its end not seen. Measured: about 0.13 ms of CPU a request less than passing the
 * body through JavaScript.
 */
export async function readCopyHead(copy: ReadableStream<Uint8Array>): Promise<Captured> {
  const head = new Head(true);
  const followed = follow(copy.getReader());
  try {
    while (head.size < COUNTED_BYTES) {
      const { done, value } = await followed.reader.read();
      if (done) break;
      head.add(value);
    }
    if (!followed.cut && head.size < COUNTED_BYTES) return { head: head.bytes(), size: head.size, complete: true };
    await followed.reader.cancel();
    return letGo(head);
  } catch (err) {
    // The pending read of a copy let go at FOLLOW_MS fails: that is no failure of the body.
    if (followed.cut) return letGo(head);
    return broke(head, err);
  } finally {
    following.delete(followed);
  }
}

/** What was seen of a body that went on past where its copy was let go: not its whole (so shown truncated). */
function letGo(head: Head): Captured {
  return { head: head.bytes(), size: head.size, complete: false, sizeUnknown: true, endUnseen: true };
}

/** What was seen of a body that broke off, and why. */
function broke(head: Head, err: unknown): Captured {
  return { head: head.bytes(), size: head.size, complete: false, error: err instanceof Error ? err.message : String(err) };
}

interface Followed {
  reader: ReadableStreamDefaultReader<Uint8Array>;
  since: number;
  /** Let go at FOLLOW_MS: the read that ends is not the body's end. */
  cut: boolean;
}

/** The copies being read now; one timer for all of them lets go of those past FOLLOW_MS. */
const following = new Set<Followed>();
let sweeping = false;

function follow(reader: ReadableStreamDefaultReader<Uint8Array>): Followed {
  const followed = { reader, since: Date.now(), cut: false };
  following.add(followed);
  if (!sweeping) {
    sweeping = true;
    setTimeout(letGoOfOld, FOLLOW_MS);
  }
  return followed;
}

function letGoOfOld(): void {
  const now = Date.now();
  for (const f of following) {
    if (now - f.since < FOLLOW_MS) continue;
    f.cut = true;
    following.delete(f);
    void f.reader.cancel().catch(() => {});
  }
  // Checked each second while any copy is open; the timer stops with the last of them.
  if (following.size > 0) setTimeout(letGoOfOld, 1000);
  else sweeping = false;
}

/** The first TRAFFIC_BODY_BYTES of the chunks it is given, and how many bytes it was given. */
class Head {
  private readonly parts: Uint8Array[] = [];
  private kept = 0;
  size = 0;

  /** `own`: the chunks come from a branch no one else reads (a copy's), so one may be kept as it is. */
  constructor(private readonly own = false) {}

  get full(): boolean {
    return this.kept >= TRAFFIC_BODY_BYTES;
  }

  add(chunk: Uint8Array): void {
    this.size += chunk.byteLength;
    if (this.full) return;
    const room = TRAFFIC_BODY_BYTES - this.kept;
    // Kept as it is only when it is all of its buffer (a view may hold a larger one, which the
    // bounds would not count) and no one else holds it (a chunk passed on is the client's).
    const whole = this.own && chunk.byteLength <= room && chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength;
    const part = whole ? chunk : chunk.slice(0, room);
    this.parts.push(part);
    this.kept += part.length;
  }

  bytes(): Uint8Array {
    // Most bodies come in one chunk: that part is what is kept already.
    if (this.parts.length === 1) return this.parts[0]!;
    const out = new Uint8Array(this.kept);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

/**
 * Copies chunk by chunk until `upTo` bytes passed, then lets the runtime pipe the rest; answers
 * whether it saw the whole body itself.
 */
async function pump(body: ReadableStream<Uint8Array>, out: WritableStream<Uint8Array>, head: Head, upTo: number): Promise<boolean> {
  const reader = body.getReader();
  const writer = out.getWriter();
  try {
    while (head.size < upTo) {
      const { done, value } = await reader.read();
      if (done) {
        await writer.close();
        return true;
      }
      head.add(value);
      await writer.write(value);
    }
  } catch (err) {
    await reader.cancel(err).catch(() => {});
    await writer.abort(err).catch(() => {});
    throw err;
  }
  reader.releaseLock();
  writer.releaseLock();
  await body.pipeTo(out);
  return false;
}
