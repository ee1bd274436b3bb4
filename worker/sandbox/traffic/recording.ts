/**
 * One request through a preview URL, recorded as it happens: what came in (credentials redacted),
 * when the answer's headers came, and its bodies' first bytes as they stream. The Recording itself
 * is the entry the log keeps once the exchange is over (added off the answer's path,
 * TrafficLog.later): fields the API's entry is made of when read, headers packed in one string
 * each, nothing copied to keep it. No body waits on it: a small one of known length, or one of
 * unknown length that is not made to stay open, is read from a clone; any other is copied as it
 * passes (body-capture.ts).
 */
import { REDACTED, TICKET_PARAM, TRAFFIC_BODY_BYTES, type ErrorCode, type TrafficEntry, type WebSocketRecord } from '../../protocol/index';
import { captureBody, captureInto, copyableWhileOpen, parseLength, readCopy, readCopyHead, type Captured } from './body-capture';
import { packHeaders, type Redactions } from './packed-headers';
import { materialize, type StoredEntry, type TrafficLog } from './traffic-log';

/** Most requests carry no credential: they share one empty list (frozen, so no one adds to it). */
const NONE_REDACTED: readonly string[] = Object.freeze([]);

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

/**
 * A request through a preview URL while it happens, and its entry once it is over: keeping it
 * allocates nothing. Recording as it was before (an entry made as a new object when the exchange
 * ended, with a pair per header and an object per body) cost some 90 k instructions a request more
 * than this, in one callgrind comparison of the two against the same floor.
 */
export class Recording implements StoredEntry, Redactions {
  readonly at = Date.now();
  readonly id: number;
  readonly method: string;
  readonly path: string;
  readonly requestHeaders: string;
  redacted = NONE_REDACTED;
  readonly replayOf?: number;
  status = 0;
  answeredBy: 'service' | 'proxy' = 'service';
  code?: ErrorCode;
  ttfbMs = 0;
  totalMs = 0;
  responseHeaders = '';
  websocket?: WebSocketRecord;
  requestBody: Captured | null = null;
  responseBody: Captured | null = null;
  seq = 0;
  bytes = 0;
  /** The request body's copy while it streams (null once it ended, or when there is none). */
  private requestCopy: Promise<Captured> | null = null;
  /** The records this request belongs to (it is not kept if they were cleared or ended meanwhile). */
  private readonly epoch: string;
  private made = false;
  private onMade: (() => void) | null = null;

  /** The entry as the API answers it, once it is kept (the exchange is over). */
  get kept(): Promise<TrafficEntry> {
    if (this.made) return Promise.resolve(materialize(this));
    return new Promise((resolve) => (this.onMade = () => resolve(materialize(this))));
  }

  constructor(
    private readonly log: TrafficLog,
    readonly port: number,
    request: Request,
    url: URL,
    replayOf?: number,
  ) {
    const begun = log.begin(port);
    this.id = begun.id;
    this.epoch = begun.epoch;
    this.method = request.method;
    this.requestHeaders = packHeaders(request.headers, this);
    // What the proxy takes for a ticket (sandbox-preview.ts looks for the name as it is written).
    const search = url.search;
    if (search.includes(TICKET_PARAM)) {
      const path = redactPath(url);
      this.path = path.path;
      if (path.redacted) this.redact('ticket');
    } else this.path = search === '' ? url.pathname : url.pathname + search;
    if (replayOf !== undefined) this.replayOf = replayOf;
  }

  /** A credential was there (packHeaders): named in the entry, its value not kept. */
  redact(name: string): void {
    if (this.redacted === NONE_REDACTED) this.redacted = [name];
    else if (!this.redacted.includes(name)) (this.redacted as string[]).push(name);
  }

  /**
   * Copies the request's body on its way into `out` (the proxy's pipe to the service); resolves,
   * or rejects with the body's failure, as a plain pipe would.
   */
  copyRequestBody(body: ReadableStream<Uint8Array>, out: WritableStream<Uint8Array>, length: number | null): Promise<void> {
    const done = captureInto(body, out, length);
    this.requestCopy = done;
    return done.then((c) => {
      this.requestBody = c;
      this.requestCopy = null;
      if (!c.complete) throw new Error(c.error ?? 'the request body broke off');
    });
  }

  /**
   * The response as the client gets it, its body copied as it streams; the entry is kept once it
   * ended. A WebSocket's entry is kept when the session closes (`closed`).
   */
  finish(response: Response, info: AnswerInfo, socket?: { record: WebSocketRecord; closed: Promise<void> }): Response {
    this.status = response.status;
    this.answeredBy = info.by;
    if (info.code) this.code = info.code;
    this.ttfbMs = Date.now() - this.at;
    this.responseHeaders = packHeaders(response.headers, this);
    if (socket) {
      this.websocket = socket.record;
      void socket.closed.then(() => this.keep(null));
      return response;
    }
    if (!response.body) {
      this.keep(null);
      return response;
    }
    const length = parseLength(response.headers.get('content-length'));
    if (length !== null && length <= TRAFFIC_BODY_BYTES) {
      // A small body whole, from a second branch: the client's stays the runtime's own, untouched.
      void readCopy(response.clone(), length).then((c) => this.keep(c));
      return response;
    }
    if (length === null && copyableWhileOpen(response.headers.get('content-type'))) {
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
    this.totalMs = Date.now() - this.at;
    this.responseBody = captured;
    this.log.later(this);
  }

  make(): void {
    // A service may answer before it read the request's body: the entry waits for that body's end.
    if (this.requestCopy) return void this.requestCopy.then(() => this.make());
    this.log.add(this, this.epoch);
    this.made = true;
    this.onMade?.();
  }
}
