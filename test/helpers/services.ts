import type { Api } from './api';
import { installFixture } from './fixtures';
import { freePort } from './net';

export const ECHO_SERVER = 'test/fixtures/services/echo-server.js';

/** Starts the echo service in a sandbox on a free port and waits until it serves. */
export async function startEcho(api: Api, box: string, options: { host?: string; port?: number } = {}): Promise<{ port: number; id: string; pid: number }> {
  const port = options.port ?? (await freePort());
  const script = await installFixture(api, box, ECHO_SERVER);
  const proc = await api.ok('POST', `/sandboxes/${box}/processes`, { command: `node ${script} ${port} ${options.host ?? '0.0.0.0'}` });
  await api.ok('POST', `/sandboxes/${box}/processes/${proc.id}/wait-for-log`, { pattern: 'echo server ready', timeout: 15000 });
  return { port, id: proc.id, pid: proc.pid };
}
