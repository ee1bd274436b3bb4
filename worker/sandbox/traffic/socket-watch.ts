/**
 * A WebSocket through an inspected preview: the service's socket and the client's are joined here,
 * message by message, so the inspector can count the frames and bytes each way and learn how the
 * session closed. (Without inspection the service's own response goes to the client, and no
 * JavaScript runs per message.)
 */
import type { WebSocketRecord } from '../../protocol/index';

/** A message's bytes on the wire: a text frame's UTF-8 length, counted without encoding it (no copy per message). */
export function frameBytes(data: string | ArrayBuffer): number {
  if (typeof data !== 'string') return data.byteLength;
  let n = data.length;
  for (let i = 0; i < data.length; i++) {
    const c = data.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < data.length && (data.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      // A surrogate pair: 4 bytes for its two UTF-16 units.
      n += 2;
      i++;
    } else n += 2;
  }
  return n;
}

/** Close codes a peer may not send itself (1005: none given, 1006: gone without a close). */
function closeWith(socket: WebSocket, code: number, reason: string): void {
  try {
    if (code === 1005 || code === 1006 || code < 1000 || code > 4999) socket.close();
    else socket.close(code, reason);
  } catch {
    /* closed already */
  }
}

export interface WatchedSocket {
  response: Response;
  record: WebSocketRecord;
  /** Resolves when both sides are closed. */
  closed: Promise<void>;
}

export function relaySocket(upgrade: Response): WatchedSocket {
  const upstream = upgrade.webSocket!;
  const pair = new WebSocketPair();
  const client = pair[0];
  const server = pair[1];
  const record: WebSocketRecord = { framesIn: 0, framesOut: 0, bytesIn: 0, bytesOut: 0 };
  // Binary frames as ArrayBuffers (newer runtimes default to Blobs), so they go on as binary, in order.
  for (const socket of [upstream, server]) (socket as { binaryType?: string }).binaryType = 'arraybuffer';
  upstream.accept();
  server.accept();
  let settle!: () => void;
  const closed = new Promise<void>((resolve) => (settle = resolve));
  server.addEventListener('message', (e) => {
    record.framesIn++;
    record.bytesIn += frameBytes(e.data as string | ArrayBuffer);
    upstream.send(e.data as string | ArrayBuffer);
  });
  upstream.addEventListener('message', (e) => {
    record.framesOut++;
    record.bytesOut += frameBytes(e.data as string | ArrayBuffer);
    server.send(e.data as string | ArrayBuffer);
  });
  const ended = (from: 'client' | 'service') => (e: CloseEvent) => {
    if (record.closeCode === undefined) {
      record.closeCode = e.code;
      if (e.reason) record.closeReason = e.reason;
    }
    closeWith(from === 'client' ? upstream : server, e.code, e.reason);
    settle();
  };
  server.addEventListener('close', ended('client'));
  upstream.addEventListener('close', ended('service'));
  server.addEventListener('error', () => {
    closeWith(upstream, 1011, 'client error');
    settle();
  });
  upstream.addEventListener('error', () => {
    closeWith(server, 1011, 'service error');
    settle();
  });
  const headers = new Headers(upgrade.headers);
  return { response: new Response(null, { status: 101, headers, webSocket: client }), record, closed };
}
