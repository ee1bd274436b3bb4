/**
 * Clients for preview hosts such as 8080-box-token.localhost:8787. Node does not resolve
 * *.localhost and its fetch drops a Host header, so these use http.request / ws with a lookup
 * that sends every name to 127.0.0.1 — the Worker still sees the full preview host.
 */
import http from 'node:http';
import type { LookupFunction } from 'node:net';
import WebSocket from 'ws';

export const loopbackLookup: LookupFunction = ((_host: string, options: any, cb: any) => {
  if (typeof options === 'function') cb = options;
  if (options && options.all) cb(null, [{ address: '127.0.0.1', family: 4 }]);
  else cb(null, '127.0.0.1', 4);
}) as LookupFunction;

export interface PreviewResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  text: string;
  json(): any;
}

export function previewRequest(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: Buffer | string | NodeJS.ReadableStream } = {},
): Promise<PreviewResponse> {
  return new Promise((resolve, reject) => {
    const headers = { ...init.headers };
    // Node sends a body of DELETE/OPTIONS without framing unless told its length.
    if (typeof init.body === 'string' || Buffer.isBuffer(init.body)) headers['content-length'] = String(Buffer.byteLength(init.body));
    const req = http.request(url, { method: init.method ?? 'GET', headers, lookup: loopbackLookup }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        const text = body.toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text, json: () => JSON.parse(text) });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    const body = init.body;
    if (body && typeof (body as NodeJS.ReadableStream).pipe === 'function') (body as NodeJS.ReadableStream).pipe(req);
    else req.end(body as Buffer | string | undefined);
  });
}

/** Streams a response without keeping it: calls onChunk with each piece and the time it came. */
export function previewStream(
  url: string,
  onChunk: (chunk: Buffer, at: number) => void,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { headers, lookup: loopbackLookup }, (res) => {
      res.on('data', (c: Buffer) => onChunk(c, performance.now()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

export function previewSocket(url: string, headers: Record<string, string> = {}): WebSocket {
  return new WebSocket(url, { lookup: loopbackLookup, headers } as WebSocket.ClientOptions);
}

/** Resolves with the next message of a socket. */
export function nextMessage(ws: WebSocket): Promise<{ data: Buffer; isBinary: boolean }> {
  return new Promise((resolve, reject) => {
    const onMessage = (data: Buffer, isBinary: boolean) => {
      ws.off('error', reject);
      resolve({ data, isBinary });
    };
    ws.once('message', onMessage);
    ws.once('error', reject);
  });
}
