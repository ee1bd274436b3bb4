/**
 * One request through a preview URL, recorded as it happens: what came in (credentials redacted),
 * when the answer's headers came, and its bodies' first bytes as they stream. The entry joins the
 * log when the exchange is over, made off the answer's path (TrafficLog.later). No body waits on
 * it: a small one of known length, or one of unknown length that is not made to stay open, is read
 * from a clone; any other is copied as it passes (body-capture.ts).
 */
import { REDACTED, isCredentialHeader, TICKET_PARAM, TRAFFIC_BODY_BYTES, type ErrorCode, type TrafficEntry, type WebSocketRecord } from '../../protocol/index';
import { captureBody, captureInto, copyableWhileOpen, parseLength, readCopy, readCopyHead, type Captured } from './body-capture';
import { materialize, type KeptBody, type StoredEntry, type TrafficLog } from './traffic-log';

/**
 * Headers as pairs in the runtime's order, each credential's value replaced; and which were there.
 * Taken in one spread, each pair the runtime's own array: copying the headers of a request and its
 * answer was about a third of what recording cost (measured).
 */
export function redactHeaders(headers: Headers): { pairs: [string, string][]; redacted: string[] } {
  // Set-Cookie is the one header that may come more than once; each is its own pair.
  const pairs = [...headers] as [string, string][];
  let redacted: string[] | null = null;
  for (const pair of pairs) {
    if (!isCredentialHeader(pair[0])) continue;
    pair[1] = REDACTED;
    redacted ??= [];
    if (!redacted.includes(pair[0])) redacted.push(pair[0]);
  }
  return { pairs, redacted: redacted ?? NONE_REDACTED };
}

/** Most requests carry no credential: they share one empty list (frozen, so no one adds to it). */
const NONE_REDACTED = Object.freeze([]) as unknown as string[];

/** A header's value among pairs (the first), or null. */
export function headerValue(pairs: [string, string][], name: string): string | null {
  for (const [k, v] of pairs) if (k === name) return v;
  return null;
}

/** Path and query with the ticket link's parameter redacted. */
export function redactPath(url: URL): { path: string; redacted: boolean } {
  // What the proxy takes for a ticket (sandbox-preview.ts looks for the name as it is written); most
  // requests have none, and url.searchParams would build an object to say so.
  if (!url.search.includes(TICKET_PARAM) || !url.searchParams.has(TICKET_PARAM)) return { path: url.pathname + url.search, redacted: false };
  const query = new URLSearchParams(url.searchParams);
  query.set(TICKET_PARAM, REDACTED);
  return { path: `${url.pathname}?${query}`, redacted: true };
}

export interface AnswerInfo {
  by: 'service' | 'proxy';
  code?: ErrorCode;
}

/** What the proxy knows of the answer once its headers came; the entry is made from it when the exchange is over. */
interface Answered {
  status: number;
  info: AnswerInfo;
  ttfbMs: number;
  headers: [string, string][];
  redacted: string[];
  websocket?: WebSocketRecord;
}

export class Recording {
  private readonly started = Date.now();
  private readonly request: Pick<StoredEntry, 'id' | 'port' | 'method' | 'path' | 'requestHeaders' | 'redacted' | 'replayOf'>;
  /** The request body's copy while it streams, and once it ended. */
  private requestBody: Promise<Captured> | null = null;
  private requestCaptured: Captured | null = null;
  /** The records this request belongs to (it is not kept if they were cleared or ended meanwhile). */
  private readonly epoch: string;
  private answered: Answered | null = null;
  private captured: Captured | null = null;
  private totalMs = 0;
  private made: StoredEntry | null = null;
  private onMade: ((e: StoredEntry) => void) | null = null;

  /** The entry as the API answers it, once it is kept (the exchange is over). */
  get kept(): Promise<TrafficEntry> {
    if (this.made) return Promise.resolve(materialize(this.made));
    return new Promise((resolve) => (this.onMade = (e) => resolve(materialize(e))));
  }

  constructor(
    private readonly log: TrafficLog,
    port: number,
    request: Request,
    url: URL,
    replayOf?: number,
  ) {
    const headers = redactHeaders(request.headers);
    const path = redactPath(url);
    const { id, epoch } = log.begin(port);
    this.epoch = epoch;
    this.request = {
      id,
      port,
      method: request.method,
      path: path.path,
      requestHeaders: headers.pairs,
      redacted: path.redacted ? [...headers.redacted, 'ticket'] : headers.redacted,
      ...(replayOf !== undefined ? { replayOf } : {}),
    };
  }

  /**
   * Copies the request's body on its way into `out` (the proxy's pipe to the service); resolves,
   * or rejects with the body's failure, as a plain pipe would.
   */
  copyRequestBody(body: ReadableStream<Uint8Array>, out: WritableStream<Uint8Array>, length: number | null): Promise<void> {
    const done = captureInto(body, out, length);
    this.requestBody = done;
    return done.then((c) => {
      this.requestCaptured = c;
      if (!c.complete) throw new Error(c.error ?? 'the request body broke off');
    });
  }

  /**
   * The response as the client gets it, its body copied as it streams; the entry is kept once it
   * ended. A WebSocket's entry is kept when the session closes (`closed`).
   */
  finish(response: Response, info: AnswerInfo, socket?: { record: WebSocketRecord; closed: Promise<void> }): Response {
    const headers = redactHeaders(response.headers);
    this.answered = {
      status: response.status,
      info,
      ttfbMs: Date.now() - this.started,
      headers: headers.pairs,
      redacted: headers.redacted,
      ...(socket ? { websocket: socket.record } : {}),
    };
    if (socket) {
      void socket.closed.then(() => this.keep(null));
      return response;
    }
    if (!response.body) {
      this.keep(null);
      return response;
    }
    const length = parseLength(headerValue(headers.pairs, 'content-length'));
    if (length !== null && length <= TRAFFIC_BODY_BYTES) {
      // A small body whole, from a second branch: the client's stays the runtime's own, untouched.
      void readCopy(response.clone(), length).then((c) => this.keep(c));
      return response;
    }
    if (length === null && copyableWhileOpen(headerValue(headers.pairs, 'content-type'))) {
      // The same for one of unknown length, read to its end, its first MiB or 10 s.
      void readCopyHead(response.clone().body!).then((c) => this.keep(c));
      return response;
    }
    const { stream, done } = captureBody(response.body, length);
    void done.then((c) => this.keep(c));
    return new Response(stream, response);
  }

  /** The exchange is over: its entry is made off the answer's path (TrafficLog.later calls make). */
  private keep(captured: Captured | null): void {
    this.totalMs = Date.now() - this.started;
    this.captured = captured;
    this.log.later(this);
  }

  make(): void {
    // A service may answer before it read the request's body: the entry waits for that body's end.
    if (this.requestBody && !this.requestCaptured) return void this.requestBody.then(() => this.make());
    const { captured, totalMs } = this;
    const a = this.answered!;
    const q = this.request;
    const request = this.requestCaptured;
    const entry: StoredEntry = {
      id: q.id,
      port: q.port,
      at: this.started,
      method: q.method,
      path: q.path,
      status: a.status,
      answeredBy: a.info.by,
      ttfbMs: a.ttfbMs,
      totalMs,
      bytesIn: request?.size ?? 0,
      bytesOut: captured?.size ?? 0,
      requestHeaders: q.requestHeaders,
      responseHeaders: a.headers,
      requestBody: request ? keepBody(request, headerValue(q.requestHeaders, 'content-type')) : null,
      responseBody: captured ? keepBody(captured, headerValue(a.headers, 'content-type')) : null,
      redacted: a.redacted.length === 0 ? q.redacted : [...new Set([...q.redacted, ...a.redacted])],
    };
    if (a.info.code) entry.code = a.info.code;
    if (q.replayOf !== undefined) entry.replayOf = q.replayOf;
    if (captured?.endUnseen) entry.endUnseen = true;
    if (a.websocket) entry.websocket = a.websocket;
    const error = captured?.error ?? request?.error;
    if (error) entry.error = error;
    this.log.add(entry, this.epoch);
    this.made = entry;
    this.onMade?.(entry);
  }
}

/** What the log keeps of a captured body: its bytes, decoded only when the entry is read. */
function keepBody(c: Captured, contentType: string | null): KeptBody {
  const kept: KeptBody = { head: c.head, size: c.size, contentType, complete: c.complete };
  if (c.sizeUnknown) kept.sizeUnknown = true;
  return kept;
}
