/**
 * The door between the local container host and an isolated sandbox: the agent's IPC channel, a
 * Unix socket pair whose other end only the host holds. When the host needs a connection to a
 * port inside the sandbox, it asks here; the agent connects inside the sandbox's network
 * namespace and hands the connected socket itself to the host (the descriptor passes over the
 * channel). From then on the host's relay and the service talk directly: no process in between.
 *
 * The agent connects to HANDOFF_TARGET (127.0.0.2), not 127.0.0.1: a service listening on
 * 0.0.0.0 answers there, one bound to 127.0.0.1 only does not — as from outside a real container,
 * where the preview proxy cannot reach such a service either.
 */
import net from 'node:net';

export const HANDOFF_TARGET = '127.0.0.2';

export type HandoffRequest = { type: 'connect'; id: number; port: number };
export type HandoffReply = { type: 'connected'; id: number } | { type: 'connect-failed'; id: number; error: string };

/** Minimal view of a process's IPC channel (the agent's `process`, or the host's child). */
interface Channel {
  send?(message: unknown, handle?: net.Socket): boolean;
  on(event: 'message', listener: (message: unknown, handle?: unknown) => void): unknown;
}

function isRequest(m: unknown): m is HandoffRequest {
  const r = m as HandoffRequest;
  return r?.type === 'connect' && Number.isInteger(r.id) && Number.isInteger(r.port) && r.port >= 1 && r.port <= 65535;
}

/** Agent side: answers the host's connection requests (sandbox agents in namespaces only). */
export function serveHandoffs(channel: Channel = process as unknown as Channel, host = HANDOFF_TARGET): void {
  channel.on('message', (message) => {
    if (!isRequest(message)) return;
    const socket = net.connect({ host, port: message.port, noDelay: true });
    socket.once('connect', () => {
      // The socket goes to the host and is closed here.
      channel.send?.({ type: 'connected', id: message.id } satisfies HandoffReply, socket);
    });
    socket.once('error', (err) => channel.send?.({ type: 'connect-failed', id: message.id, error: err.message } satisfies HandoffReply));
  });
}

/** Host side: one agent's channel, turned into "give me a connection to port N inside". */
export class HandoffClient {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (s: net.Socket) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();

  constructor(
    private readonly channel: Channel,
    private readonly timeoutMs = 5000,
  ) {
    channel.on('message', (message, handle) => {
      const reply = message as HandoffReply;
      const waiter = reply && (reply.type === 'connected' || reply.type === 'connect-failed') ? this.pending.get(reply.id) : undefined;
      if (!waiter) return;
      this.pending.delete(reply.id);
      clearTimeout(waiter.timer);
      if (reply.type === 'connected' && handle instanceof net.Socket) waiter.resolve(handle);
      else waiter.reject(new Error(reply.type === 'connect-failed' ? reply.error : 'the agent sent no socket'));
    });
  }

  connect(port: number): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`the agent did not hand over a connection to port ${port} within ${this.timeoutMs}ms`));
      }, this.timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      // A false return only means the channel is busy: the message still goes. A gone agent
      // rejects through close().
      try {
        this.channel.send?.({ type: 'connect', id, port } satisfies HandoffRequest);
      } catch (err) {
        this.pending.delete(id);
        clearTimeout(timer);
        reject(err as Error);
      }
    });
  }

  /** Fails every waiting request (the agent exited). */
  close(): void {
    for (const [id, waiter] of this.pending) {
      clearTimeout(waiter.timer);
      waiter.reject(new Error('the agent is gone'));
      this.pending.delete(id);
    }
  }
}
