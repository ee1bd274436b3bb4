/**
 * One real local stack (the Worker on plain workerd as `npm start` runs it, and the local container
 * host) shared by the end-to-end suites, started on first use with fresh state and stopped after
 * the run by the root hook.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LOCAL_SECRET_HEADER } from '../../worker/protocol/agent';
// @ts-expect-error plain ESM module without types
import { startStack } from '../../scripts/stack.mjs';

export interface Stack {
  url: string;
  port: number;
  token: string;
  stateDir: string;
  hostUrl: string;
  /** The per-run secret the container host requires (LOCAL_SECRET_HEADER). */
  hostSecret: string;
  host: { pid: number };
  stop(): Promise<void>;
}

export const FAKE_CLOUDFLARED = path.resolve('test/fixtures/fake-cloudflared/cloudflared');

let shared: Promise<Stack> | null = null;
const started: Stack[] = [];

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `sandbox-ports-${prefix}-`));
}

export function logFile(name: string): fs.WriteStream {
  const dir = path.resolve('test-output');
  fs.mkdirSync(dir, { recursive: true });
  return fs.createWriteStream(path.join(dir, `${name}.log`), { flags: 'a' });
}

/** A stack of its own, for suites that stop and restart it. */
export async function newStack(options: Record<string, unknown> = {}): Promise<Stack> {
  const stack = (await startStack({ stateDir: tempDir('state'), log: logFile('stack'), ...options })) as Stack;
  started.push(stack);
  return stack;
}

/** What the container host says about a sandbox's agent: { running, port?, pid?, secret? }. */
export async function hostState(stack: Stack, id: string): Promise<{ running: boolean; port?: number; pid?: number; secret?: string }> {
  const res = await fetch(`${stack.hostUrl}/containers/${encodeURIComponent(id)}`, { headers: { [LOCAL_SECRET_HEADER]: stack.hostSecret } });
  if (!res.ok) throw new Error(`container host answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as { running: boolean; port?: number; pid?: number; secret?: string };
}

export function sharedStack(): Promise<Stack> {
  // Ticket links live 4 s here instead of a minute, so a test can watch one expire; agents run
  // the stand-in cloudflared, since no test may reach the internet.
  shared ??= newStack({ ticketTtlMs: 4000, env: { SANDBOX_CLOUDFLARED: FAKE_CLOUDFLARED } });
  return shared;
}

export async function stopAllStacks(): Promise<void> {
  const stacks = started.splice(0);
  await Promise.all(stacks.map((s) => s.stop()));
  for (const s of stacks) fs.rmSync(s.stateDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  shared = null;
}
