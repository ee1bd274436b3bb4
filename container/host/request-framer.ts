/**
 * Finds the HTTP/1.1 requests in the bytes a client sends on one connection, so a relay can
 * rewrite each request's head (check it, fix its Host) and pass everything else through as it
 * came: bodies by Content-Length or chunked framing, and after a WebSocket upgrade every byte.
 * Responses never pass through here (they go back untouched). Pure: no I/O.
 */

/** A parsed request head. Header names keep their case; `get` looks one up case-insensitively. */
export interface RequestHead {
  method: string;
  target: string;
  version: string;
  headers: Array<[string, string]>;
  get(name: string): string | undefined;
}

export class FramingError extends Error {
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

/** Turns a head into the bytes to send on (or throws a FramingError to refuse the request). */
export type HeadRewriter = (head: RequestHead) => Buffer;

const MAX_HEAD_BYTES = 64 * 1024;
const CRLFCRLF = Buffer.from('\r\n\r\n');

type State = { kind: 'head' } | { kind: 'body'; left: number } | { kind: 'chunk-size' } | { kind: 'chunk-data'; left: number } | { kind: 'trailers' } | { kind: 'raw' };

export function parseHead(text: string): RequestHead {
  const lines = text.split('\r\n');
  const m = /^([A-Z]+) (\S+) (HTTP\/1\.[01])$/.exec(lines[0] ?? '');
  if (!m) throw new FramingError(`Malformed request line: ${JSON.stringify((lines[0] ?? '').slice(0, 100))}`);
  const headers: Array<[string, string]> = [];
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0 || /[\s]/.test(line.slice(0, colon))) throw new FramingError(`Malformed header line: ${JSON.stringify(line.slice(0, 100))}`);
    headers.push([line.slice(0, colon), line.slice(colon + 1).trim()]);
  }
  const get = (name: string): string | undefined => {
    const lower = name.toLowerCase();
    const found = headers.filter(([n]) => n.toLowerCase() === lower);
    return found.length === 0 ? undefined : found.map(([, v]) => v).join(', ');
  };
  return { method: m[1]!, target: m[2]!, version: m[3]!, headers, get };
}

/** What follows a head: how its body is framed, or that the connection turns into a raw pipe. */
export function bodyOf(head: RequestHead): State {
  const upgrade = head.get('upgrade') !== undefined && /\bupgrade\b/i.test(head.get('connection') ?? '');
  if (upgrade) return { kind: 'raw' };
  const te = head.get('transfer-encoding');
  if (te !== undefined) {
    if (!/(^|,)\s*chunked\s*$/i.test(te)) throw new FramingError(`Unsupported Transfer-Encoding: ${te}`, 501);
    return { kind: 'chunk-size' };
  }
  const cl = head.get('content-length');
  if (cl === undefined) return { kind: 'head' };
  if (!/^\d{1,15}$/.test(cl)) throw new FramingError(`Invalid Content-Length: ${cl}`);
  const left = Number(cl);
  return left === 0 ? { kind: 'head' } : { kind: 'body', left };
}

export class RequestFramer {
  private state: State = { kind: 'head' };
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly rewrite: HeadRewriter) {}

  /** True once the connection was upgraded: everything is passed as it is from then on. */
  get raw(): boolean {
    return this.state.kind === 'raw';
  }

  /** Feeds bytes from the client; answers the bytes to forward, in order. Throws FramingError. */
  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let buf = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = Buffer.alloc(0);
    while (buf.length > 0) {
      const s = this.state;
      if (s.kind === 'raw') {
        out.push(buf);
        break;
      }
      if (s.kind === 'body' || s.kind === 'chunk-data') {
        const n = Math.min(s.left, buf.length);
        out.push(buf.subarray(0, n));
        buf = buf.subarray(n);
        s.left -= n;
        if (s.left === 0) this.state = s.kind === 'body' ? { kind: 'head' } : { kind: 'chunk-size' };
        continue;
      }
      if (s.kind === 'head') {
        const end = buf.indexOf(CRLFCRLF);
        if (end < 0) {
          if (buf.length > MAX_HEAD_BYTES) throw new FramingError('Request head is too large', 431);
          this.pending = buf;
          break;
        }
        const head = parseHead(buf.subarray(0, end).toString('latin1'));
        const next = bodyOf(head);
        out.push(this.rewrite(head));
        this.state = next;
        buf = buf.subarray(end + 4);
        continue;
      }
      // chunk-size, and chunk ends ("\r\n" after data, which reads as an empty size line), trailers
      const eol = buf.indexOf('\r\n');
      if (eol < 0) {
        if (buf.length > 4096) throw new FramingError('Chunk framing line is too long');
        this.pending = buf;
        break;
      }
      const line = buf.subarray(0, eol).toString('latin1');
      out.push(buf.subarray(0, eol + 2));
      buf = buf.subarray(eol + 2);
      if (s.kind === 'trailers') {
        if (line === '') this.state = { kind: 'head' };
        continue;
      }
      if (line === '') continue; // the CRLF that ends a chunk's data
      const size = /^([0-9a-fA-F]{1,8})(;.*)?$/.exec(line);
      if (!size) throw new FramingError(`Invalid chunk size line: ${JSON.stringify(line.slice(0, 40))}`);
      const n = parseInt(size[1]!, 16);
      this.state = n === 0 ? { kind: 'trailers' } : { kind: 'chunk-data', left: n };
    }
    return out;
  }
}
