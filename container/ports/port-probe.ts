/**
 * One readiness probe of a local port: an HTTP GET (any status in range means ready) or a TCP
 * connect. IPv4 loopback first, then ::1 for services that bound only the IPv6 loopback.
 */
import http from 'node:http';
import net from 'node:net';

export interface HttpProbe {
  mode: 'http';
  port: number;
  path: string;
  status: { min: number; max: number };
}

export interface TcpProbe {
  mode: 'tcp';
  port: number;
}

export type Probe = HttpProbe | TcpProbe;

const HOSTS = ['127.0.0.1', '::1'];

export async function probeOnce(probe: Probe, timeoutMs: number): Promise<boolean> {
  for (const host of HOSTS) {
    const outcome = probe.mode === 'http' ? await probeHttp(host, probe, timeoutMs) : await probeTcp(host, probe.port, timeoutMs);
    // Only "nothing listens here" is worth another address; an answer of any kind is final.
    if (outcome !== 'refused') return outcome === 'ready';
  }
  return false;
}

type Outcome = 'ready' | 'not-ready' | 'refused';

function probeHttp(host: string, probe: HttpProbe, timeoutMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = http.get({
      host,
      port: probe.port,
      path: probe.path,
      headers: { host: `localhost:${probe.port}`, 'user-agent': 'sandbox-agent-probe' },
      agent: false,
      timeout: timeoutMs,
    });
    req.on('response', (res) => {
      const code = res.statusCode ?? 0;
      res.resume();
      req.destroy();
      resolve(code >= probe.status.min && code <= probe.status.max ? 'ready' : 'not-ready');
    });
    req.on('timeout', () => req.destroy(new Error('probe timed out')));
    req.on('error', (err) => resolve(isRefused(err) ? 'refused' : 'not-ready'));
  });
}

function probeTcp(host: string, port: number, timeoutMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (outcome: Outcome): void => {
      socket.destroy();
      resolve(outcome);
    };
    socket.setTimeout(timeoutMs, () => done('not-ready'));
    socket.once('connect', () => done('ready'));
    socket.once('error', (err) => done(isRefused(err) ? 'refused' : 'not-ready'));
  });
}

function isRefused(err: Error): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ECONNREFUSED' || code === 'EADDRNOTAVAIL' || code === 'EAFNOSUPPORT' || code === 'ENETUNREACH';
}
