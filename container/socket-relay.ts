/**
 * The sandbox's side of its only door (the isolated local runtime): a Unix socket, bound into the
 * sandbox by the local container host. Each connection names a port on its first line (`8000\n`);
 * the rest is relayed byte for byte to that port inside the sandbox's network namespace, so HTTP,
 * streaming, Server-Sent Events and WebSockets behave as they would in a container.
 *
 * The relay connects to RELAY_TARGET (127.0.0.2), not 127.0.0.1: a service listening on 0.0.0.0
 * answers there, one bound to 127.0.0.1 only does not — as from outside a real container, where
 * the preview proxy cannot reach such a service either.
 */
import fs from 'node:fs';
import net from 'node:net';

export const RELAY_TARGET = '127.0.0.2';
/** A port line longer than this is not one: the connection is dropped. */
const MAX_PREAMBLE = 8;

/** Reads `PORT\n` off the front of a connection; null when it is not a port from 1 to 65535. */
export function parsePreamble(buffer: Buffer): { port: number; rest: Buffer } | null | 'more' {
  const newline = buffer.indexOf(0x0a);
  if (newline < 0) return buffer.length > MAX_PREAMBLE ? null : 'more';
  const text = buffer.subarray(0, newline).toString('latin1');
  if (!/^\d{1,5}$/.test(text)) return null;
  const port = Number(text);
  if (port < 1 || port > 65535) return null;
  return { port, rest: buffer.subarray(newline + 1) };
}

function relay(client: net.Socket, host: string): void {
  let buffered = Buffer.alloc(0);
  const onData = (chunk: Buffer): void => {
    buffered = Buffer.concat([buffered, chunk]);
    const parsed = parsePreamble(buffered);
    if (parsed === 'more') return;
    client.off('data', onData);
    if (parsed === null) return void client.destroy();
    client.pause();
    const upstream = net.connect({ host, port: parsed.port, noDelay: true });
    upstream.once('connect', () => {
      if (parsed.rest.length > 0) upstream.write(parsed.rest);
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
    // Nothing listening (or it went away): closing tells the host, which tells the Worker.
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.on('close', () => upstream.destroy());
  };
  client.setNoDelay?.(true);
  client.on('data', onData);
  client.on('error', () => client.destroy());
}

/** Serves the relay on `socketPath` (an old socket file there is replaced). */
export function startSocketRelay(socketPath: string, host = RELAY_TARGET): Promise<net.Server> {
  fs.rmSync(socketPath, { force: true });
  const server = net.createServer((client) => relay(client, host));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve(server));
  });
}
