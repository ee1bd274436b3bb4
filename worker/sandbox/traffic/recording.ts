/**
 * One request through a preview URL, recorded as it happens: what came in (credentials redacted),
 * when the answer's headers came, and its bodies' first bytes as they stream. The entry joins the
 * log when the exchange is over. No body waits on it: a small one of known length, or one of
 * unknown length that is not made to stay open, is read from a clone; any other is copied as it
 * passes (body-capture.ts).
 */
import { REDACTED, isCredentialHeader, TICKET_PARAM, TRAFFIC_BODY_BYTES, type ErrorCode, type TrafficEntry, type WebSocketRecord } from '../../protocol/index';
import { captureBody, captureInto, copyableWhileOpen, declaredLength, readCopy, readCopyHead, type Captured } from './body-capture';
import { materialize, type KeptBody, type StoredEntry, type TrafficLog } from './traffic-log';

/** Headers as pairs in arrival order, each credential's value replaced; and which were there. */
export function redactHeaders(headers: Headers): { pairs: [string, string][]; redacted: string[] } {
  const pairs: [string, string][] = [];
  const redacted: string[] = [];
  // Set-Cookie is the one header that may come more than once; each is its own pair.
  for (const [name, value] of headers) {
    if (isCredentialHeader(name)) {
      pairs.push([name, REDACTED]);
      if (!redacted.includes(name)) redacted.push(name);
    } else pairs.push([name, value]);
  }
  return { pairs, redacted };
}

/** Path and query with the ticket link's parameter redacted. */
export function redactPath(url: URL): { path: string; redacted: boolean } {
  if (!url.searchParams.has(TICKET_PARAM)) return { path: url.pathname + url.search, redacted: false };
  const query = new URLSearchParams(url.searchParams);
  query.set(TICKET_PARAM, REDACTED);
  return { path: `${url.pathname}?${query}`, redacted: true };
}

export interface AnswerInfo {
  by: 'service' | 'proxy';
  code?: ErrorCode;
}

export class Recording {
  private readonly started = Date.now();
  private readonly entry: Omit<StoredEntry, 'status' | 'ttfbMs' | 'totalMs' | 'bytesOut' | 'responseHeaders' | 'responseBody' | 'answeredBy'>;
  private requestBody: Promise<Captured> | null = null;
  /** The records this request belongs to (it is not kept if they were cleared or ended meanwhile). */
  private readonly epoch: string;
  private settle!: (e: StoredEntry) => void;
  private readonly stored = new Promise<StoredEntry>((resolve) => (this.settle = resolve));
  /** The entry as the API answers it, once it is kept (the exchange is over). */
  get kept(): Promise<TrafficEntry> {
    return this.stored.then(materialize);
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
    this.entry = {
      id,
      port,
      time: new Date(this.started).toISOString(),
      method: request.method,
      path: path.path,
      bytesIn: 0,
      requestHeaders: headers.pairs,
      requestBody: null,
      redacted: path.redacted ? [...headers.redacted, 'ticket'] : headers.redacted,
      ...(replayOf !== undefined ? { replayOf } : {}),
    };
  }

  /**
   * Copies the request's body on its way into `out` (the proxy's pipe to the service); resolves,
   * or rejects with the body's failure, as a plain pipe would.
   */
  readonly copyRequestBody = (body: ReadableStream<Uint8Array>, out: WritableStream<Uint8Array>, length: number | null): Promise<void> => {
    const done = captureInto(body, out, length);
    this.requestBody = done;
    return done.then((c) => {
      if (!c.complete) throw new Error(c.error ?? 'the request body broke off');
    });
  };

  /**
   * The response as the client gets it, its body copied as it streams; the entry is kept once it
   * ended. A WebSocket's entry is kept when the session closes (`closed`).
   */
  finish(response: Response, answer: AnswerInfo, socket?: { record: WebSocketRecord; closed: Promise<void> }): Response {
    const ttfbMs = Date.now() - this.started;
    const responseHeaders = redactHeaders(response.headers);
    const base = {
      status: response.status,
      answeredBy: answer.by,
      ...(answer.code ? { code: answer.code } : {}),
      ttfbMs,
      responseHeaders: responseHeaders.pairs,
    };
    const redacted = [...new Set([...this.entry.redacted, ...responseHeaders.redacted])];
    const store = async (captured: Captured | null, totalMs: number): Promise<void> => {
      const request = this.requestBody ? await this.requestBody : null;
      const error = captured?.error ?? request?.error;
      const entry: StoredEntry = {
        ...this.entry,
        ...base,
        redacted,
        totalMs,
        bytesIn: request?.size ?? 0,
        bytesOut: captured?.size ?? 0,
        requestBody: request ? keepBody(request, this.header('content-type')) : null,
        responseBody: captured ? keepBody(captured, response.headers.get('content-type')) : null,
        ...(captured?.endUnseen ? { endUnseen: true as const } : {}),
        ...(socket ? { websocket: socket.record } : {}),
        ...(error ? { error } : {}),
      };
      this.log.add(entry, this.epoch);
      this.settle(entry);
    };
    const keep = (captured: Captured | null): void => {
      const totalMs = Date.now() - this.started;
      afterAnswer(() => void store(captured, totalMs));
    };
    if (socket) {
      void socket.closed.then(() => keep(null));
      return response;
    }
    if (!response.body) {
      keep(null);
      return response;
    }
    const length = declaredLength(response.headers);
    if (length !== null && length <= TRAFFIC_BODY_BYTES) {
      // A small body whole, from a second branch: the client's stays the runtime's own, untouched.
      void readCopy(response.clone(), length).then(keep);
      return response;
    }
    if (length === null && copyableWhileOpen(response.headers.get('content-type'))) {
      // The same for one of unknown length, read to its end, its first MiB or 10 s.
      void readCopyHead(response.clone().body!).then(keep);
      return response;
    }
    const { stream, done } = captureBody(response.body, length);
    void done.then(keep);
    return new Response(stream, response);
  }

  private header(name: string): string | null {
    return this.entry.requestHeaders.find(([k]) => k === name)?.[1] ?? null;
  }
}

/** Entries whose bookkeeping waits for the runtime's next turn, at most. */
const MAX_WAITING = 64;
const waiting: (() => void)[] = [];

/**
 * Runs `make` (an entry's bookkeeping) once the answer's last bytes went out: made at once, it held
 * each small answer back by about 0.1 ms (measured). All that wait share one timer: a timer costs
 * about 30 µs of CPU, and under load many entries finish in one turn. The runtime serves new
 * requests before timers, so past MAX_WAITING the next is made at once: what waits stays bounded.
 */
function afterAnswer(make: () => void): void {
  if (waiting.length >= MAX_WAITING) return make();
  if (waiting.length === 0) setTimeout(makeWaiting, 0);
  waiting.push(make);
}

function makeWaiting(): void {
  for (const make of waiting.splice(0)) make();
}

/** What the log keeps of a captured body: its bytes, decoded only when the entry is read. */
function keepBody(c: Captured, contentType: string | null): KeptBody {
  return { head: c.head, size: c.size, contentType, complete: c.complete, ...(c.sizeUnknown ? { sizeUnknown: true as const } : {}) };
}
