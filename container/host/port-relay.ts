/**
 * The host's side of the isolated sandboxes' doors. For each sandbox port the Worker uses, one
 * loopback listener here leads to that port inside, over a connection the sandbox's agent made
 * there and handed to this host (port-handoff.ts). Every
 * request on it must carry the sandbox's secret (LOCAL_SECRET_HEADER) and a loopback Host, as
 * every local door requires; the relay removes the secret (except on the agent's own port, whose
 * door checks it again), gives the request the Host a container's service sees
 * (`localhost:{port}`), and passes everything else through byte for byte: bodies, streamed
 * answers, Server-Sent Events, and WebSocket frames after an upgrade.
 *
 * Only request heads are read (request-framer.ts); answers go back untouched. One listener per
 * target means a kept-alive connection from the Worker always leads to the same port, so a
 * connection into the sandbox is opened once per client connection and kept with it; from then
 * on bytes go between the Worker and the service with this relay alone in between.
 */
import { STATUS_CODES } from 'node:http';
import net from 'node:net';
import { LOCAL_SECRET_HEADER } from '../../worker/protocol/agent';
import { CONTROL_PORT } from '../../worker/protocol/ports';
import { checkCaller } from '../http/local-door';
import { FramingError, RequestFramer, type RequestHead } from './request-framer';

export interface RelayTargets {
  /** The secret of a running isolated sandbox, or undefined. */
  secret(key: string): string | undefined;
  /** A connection to `port` inside the sandbox. */
  connect(key: string, port: number): Promise<net.Socket>;
}

/** The head as it goes into the sandbox; throws FramingError (403) when the caller is not the Worker. */
export function rewriteHead(head: RequestHead, port: number, secret: string | undefined): Buffer {
  try {
    checkCaller({ host: head.get('host'), [LOCAL_SECRET_HEADER]: head.get(LOCAL_SECRET_HEADER) }, secret ?? '\0no running sandbox', { forwarded: true });
  } catch (err) {
    throw new FramingError((err as Error).message, 403);
  }
  let text = `${head.method} ${head.target} ${head.version}\r\nHost: localhost:${port}\r\n`;
  for (const [name, value] of head.headers) {
    const lower = name.toLowerCase();
    if (lower === 'host' || (lower === LOCAL_SECRET_HEADER && port !== CONTROL_PORT)) continue;
    text += `${name}: ${value}\r\n`;
  }
  return Buffer.from(`${text}\r\n`, 'latin1');
}

function refuse(client: net.Socket, err: unknown): void {
  const status = err instanceof FramingError ? err.status : 400;
  const code = status === 403 ? 'LOCAL_ACCESS_DENIED' : 'INVALID_REQUEST';
  const body = JSON.stringify({ error: (err as Error).message, code });
  client.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/** One client connection: heads checked and rewritten, the rest piped into the sandbox and back. */
function relayConnection(client: net.Socket, key: string, port: number, targets: RelayTargets): void {
  client.setNoDelay(true);
  let inside: net.Socket | null = null;
  let opening = false;
  /** What arrived while the connection inside was being made. */
  const queued: Buffer[] = [];
  const framer = new RequestFramer((head) => rewriteHead(head, port, targets.secret(key)));
  const attach = (socket: net.Socket): void => {
    if (client.destroyed) return void socket.destroy();
    inside = socket;
    socket.setNoDelay(true);
    // Answers go back as they come; a closed port closes the client's connection too, which the
    // Worker reads as "not listening" (as with a container's closed port).
    socket.pipe(client);
    socket.on('error', () => client.destroy());
    socket.on('close', () => client.destroy());
    socket.on('drain', () => client.resume());
    for (const part of queued.splice(0)) socket.write(part);
  };
  client.on('data', (chunk: Buffer) => {
    let out: Buffer[];
    try {
      out = framer.push(chunk);
    } catch (err) {
      // A refused request never reaches the sandbox; what came before it on this connection did.
      inside?.end();
      return refuse(client, err);
    }
    if (out.length === 0) return;
    if (!inside) {
      queued.push(...out);
      if (!opening) {
        opening = true;
        // Nothing listening inside (or no agent): the connection closes, as a closed port does.
        targets.connect(key, port).then(attach, () => client.destroy());
      }
      return;
    }
    for (const part of out) {
      if (!inside.write(part)) client.pause();
    }
  });
  client.on('error', () => inside?.destroy());
  client.on('close', () => inside?.destroy());
}

/** Per-target listeners on 127.0.0.1, opened on first use and closed with their sandbox. */
export class PortRelays {
  private readonly listeners = new Map<string, { server: net.Server; port: Promise<number> }>();

  constructor(private readonly targets: RelayTargets) {}

  /** The loopback port that leads to `port` inside `key`'s sandbox. */
  portFor(key: string, port: number): Promise<number> {
    const id = `${key}:${port}`;
    let entry = this.listeners.get(id);
    if (!entry) {
      const server = net.createServer((client) => relayConnection(client, key, port, this.targets));
      const bound = new Promise<number>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
      });
      entry = { server, port: bound };
      this.listeners.set(id, entry);
      bound.catch(() => this.listeners.delete(id));
    }
    return entry.port;
  }

  /** Closes every listener of `key` (its sandbox stopped). */
  closeFor(key: string): void {
    for (const [id, entry] of this.listeners) {
      if (id.startsWith(`${key}:`)) {
        entry.server.close();
        this.listeners.delete(id);
      }
    }
  }

  closeAll(): void {
    for (const entry of this.listeners.values()) entry.server.close();
    this.listeners.clear();
  }
}
