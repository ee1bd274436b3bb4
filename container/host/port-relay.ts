/**
 * The host's side of the isolated sandboxes' doors: one loopback HTTP listener through which the
 * Worker reaches any port inside any sandbox. Each request names its sandbox and port
 * (RELAY_KEY_HEADER, RELAY_PORT_HEADER) and carries that sandbox's secret; the relay checks them
 * like every local door (the secret, a loopback Host; a browser's own headers may come along,
 * since previews are browsers' requests the Worker passes on), then sends the request through the
 * sandbox's Unix socket to the port inside, where the service sees `Host: localhost:{port}` as in
 * a container. Bodies stream both ways; WebSocket upgrades become a byte pipe.
 *
 * Connections into a sandbox are kept alive per sandbox and port, so a request costs no new
 * connection. A request whose port has nothing listening is answered by closing the connection,
 * which the Worker sees as "not listening" (as with a container's closed port).
 */
import http from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { LOCAL_SECRET_HEADER, RELAY_KEY_HEADER, RELAY_PORT_HEADER } from '../../worker/protocol/agent';
import { ErrorCode, SandboxError } from '../../worker/protocol/errors';
import { CONTROL_PORT } from '../../worker/protocol/ports';
import { sendError } from '../http-util';
import { checkCaller } from '../local-door';

export interface RelayTargets {
  /** The socket and secret of a running isolated sandbox, or null. */
  target(key: string): { socketPath: string; secret: string } | null;
}

interface Destination {
  socketPath: string;
  port: number;
}

/** Resolves and checks a request's destination; throws LOCAL_ACCESS_DENIED or INVALID_PORT. */
function destination(req: http.IncomingMessage, targets: RelayTargets): Destination {
  const key = req.headers[RELAY_KEY_HEADER];
  const target = typeof key === 'string' ? targets.target(key) : null;
  // An unknown sandbox and a wrong secret read the same, so nothing can be probed.
  checkCaller(req.headers, target?.secret ?? (typeof key === 'string' ? `\0no sandbox ${key}` : '\0no sandbox'), { forwarded: true });
  if (!target) throw new SandboxError(ErrorCode.LOCAL_ACCESS_DENIED, `No running isolated sandbox '${String(key)}'`);
  const raw = req.headers[RELAY_PORT_HEADER];
  const port = typeof raw === 'string' && /^\d{1,5}$/.test(raw) ? Number(raw) : NaN;
  if (!(port >= 1 && port <= 65535)) throw new SandboxError(ErrorCode.INVALID_PORT, `${RELAY_PORT_HEADER} must be a port from 1 to 65535 (got '${String(raw)}')`);
  return { socketPath: target.socketPath, port };
}

/**
 * The request's headers as they go into the sandbox: the relay's own removed (the secret kept
 * only for the agent's port, whose door wants it), Host as the service would see it in a container.
 */
export function forwardedHeaders(rawHeaders: string[], port: number): string[] {
  const out: string[] = ['Host', `localhost:${port}`];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    if (name === 'host' || name === RELAY_KEY_HEADER || name === RELAY_PORT_HEADER) continue;
    if (name === LOCAL_SECRET_HEADER && port !== CONTROL_PORT) continue;
    out.push(rawHeaders[i]!, rawHeaders[i + 1]!);
  }
  return out;
}

/** A connection into the sandbox that is already addressed to `port`. */
function connectInside(dest: Destination): net.Socket {
  const socket = net.connect(dest.socketPath);
  socket.setNoDelay(true);
  socket.write(`${dest.port}\n`);
  return socket;
}

class SandboxPortAgent extends http.Agent {
  constructor(private readonly dest: Destination) {
    super({ keepAlive: true, maxFreeSockets: 64 });
  }
  override createConnection(): Duplex {
    return connectInside(this.dest);
  }
}

export function createPortRelay(targets: RelayTargets): http.Server {
  const pools = new Map<string, SandboxPortAgent>();
  const poolFor = (dest: Destination): SandboxPortAgent => {
    const id = `${dest.socketPath}\n${dest.port}`;
    let pool = pools.get(id);
    if (!pool) {
      pool = new SandboxPortAgent(dest);
      pools.set(id, pool);
    }
    return pool;
  };

  const server = http.createServer((req, res) => {
    let dest: Destination;
    try {
      dest = destination(req, targets);
    } catch (err) {
      return sendError(res, err);
    }
    const upstream = http.request({
      method: req.method,
      path: req.url,
      headers: forwardedHeaders(req.rawHeaders, dest.port),
      agent: poolFor(dest),
      setHost: false,
    });
    upstream.on('response', (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.statusMessage, answer.rawHeaders);
      answer.pipe(res);
      answer.on('error', () => res.destroy());
    });
    // Nothing listening inside, or the sandbox went away: the Worker sees a closed connection.
    upstream.on('error', () => res.destroy());
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  });

  server.on('upgrade', (req: http.IncomingMessage, client: Duplex, head: Buffer) => {
    let dest: Destination;
    try {
      dest = destination(req, targets);
    } catch (err) {
      const status = err instanceof SandboxError ? err.status : 500;
      client.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n${JSON.stringify({ error: (err as Error).message, code: (err as SandboxError).code })}`);
      return;
    }
    const inside = connectInside(dest);
    const lines = [`${req.method} ${req.url} HTTP/1.1`];
    const headers = forwardedHeaders(req.rawHeaders, dest.port);
    for (let i = 0; i < headers.length; i += 2) lines.push(`${headers[i]}: ${headers[i + 1]}`);
    inside.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (head.length > 0) inside.write(head);
    inside.pipe(client);
    client.pipe(inside);
    inside.on('error', () => client.destroy());
    client.on('error', () => inside.destroy());
    inside.on('close', () => client.destroy());
    client.on('close', () => inside.destroy());
  });

  server.on('close', () => {
    for (const pool of pools.values()) pool.destroy();
  });
  // Streams (SSE, logs) may stay open for as long as the client wants.
  server.requestTimeout = 0;
  server.keepAliveTimeout = 65_000;
  return server;
}
