import { Api } from './api';
import { sharedStack, type Stack } from './stack';
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

/**
 * The start of many suites: the shared stack, a client for its API, a fresh sandbox named
 * `{prefix}-{time}` and an echo service in it.
 */
export async function sandboxWithEcho(prefix: string): Promise<{ stack: Stack; api: Api; box: string; port: number }> {
  const stack = await sharedStack();
  const api = new Api(stack.url, stack.token);
  const box = `${prefix}-${Date.now().toString(36)}`;
  await api.ok('POST', '/sandboxes', { id: box });
  const { port } = await startEcho(api, box);
  return { stack, api, box, port };
}
