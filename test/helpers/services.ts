import path from 'node:path';
import type { Api } from './api';
import { freePort } from './net';

export const ECHO_SERVER = path.resolve('test/fixtures/services/echo-server.js');
/** Lets a sandbox's Node process require the project's own `ws`. */
export const NODE_PATH = path.resolve('node_modules');

/** Starts the echo service in a sandbox on a free port and waits until it serves. */
export async function startEcho(api: Api, box: string, options: { host?: string; port?: number } = {}): Promise<{ port: number; id: string; pid: number }> {
  const port = options.port ?? (await freePort());
  const proc = await api.ok('POST', `/sandboxes/${box}/processes`, {
    command: `node ${ECHO_SERVER} ${port} ${options.host ?? '0.0.0.0'}`,
    env: { NODE_PATH },
  });
  await api.ok('POST', `/sandboxes/${box}/processes/${proc.id}/wait-for-log`, { pattern: 'echo server ready', timeout: 15000 });
  return { port, id: proc.id, pid: proc.pid };
}
