/**
 * HTTP/1.1 over a raw socket, for requests no HTTP client would send (duplicate Host, obs-fold,
 * broken chunked bodies) and for checking what a connection does after one of them.
 */
import net from 'node:net';

export interface RawResponse {
  status: number;
  head: string;
  headers: Record<string, string>;
  body: string;
}

/** One connection: write bytes, read whole responses one at a time, see whether it closed. */
export class RawConnection {
  private buf = Buffer.alloc(0);
  closed = false;
  private waiters: (() => void)[] = [];
  private readonly socket: net.Socket;

  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake();
    });
    const end = () => {
      this.closed = true;
      this.wake();
    };
    this.socket.on('close', end);
    this.socket.on('end', end);
    this.socket.on('error', end);
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  write(text: string | Buffer): void {
    if (!this.closed) this.socket.write(text);
  }

  /** The next whole response, or null when the connection closes first. */
  async response(timeoutMs = 10000): Promise<RawResponse | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = this.parse();
      if (r) return r;
      if (this.closed) return null;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no whole response within ${timeoutMs} ms; have ${JSON.stringify(this.buf.toString('latin1').slice(0, 300))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Resolves true once the server has closed the connection (within `timeoutMs`). */
  async closes(timeoutMs = 5000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return this.closed;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private parse(): RawResponse | null {
    const text = this.buf.toString('latin1');
    const end = text.indexOf('\r\n\r\n');
    if (end < 0) return null;
    const head = text.slice(0, end);
    const [statusLine, ...lines] = head.split('\r\n');
    const headers: Record<string, string> = {};
    for (const l of lines) {
      const i = l.indexOf(':');
      headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
    }
    const rest = text.slice(end + 4);
    let body: string;
    let used: number;
    if (headers['transfer-encoding']?.includes('chunked')) {
      body = '';
      let off = 0;
      for (;;) {
        const lineEnd = rest.indexOf('\r\n', off);
        if (lineEnd < 0) return null;
        const size = parseInt(rest.slice(off, lineEnd), 16);
        if (rest.length < lineEnd + 2 + size + 2) return null;
        body += rest.slice(lineEnd + 2, lineEnd + 2 + size);
        off = lineEnd + 2 + size + 2;
        if (size === 0) break;
      }
      used = off;
    } else {
      const len = Number(headers['content-length'] ?? 0);
      if (rest.length < len) return null;
      body = rest.slice(0, len);
      used = len;
    }
    this.buf = this.buf.subarray(Buffer.byteLength(text.slice(0, end + 4 + used), 'latin1'));
    return { status: Number(statusLine.split(' ')[1]), head, headers, body };
  }
}
