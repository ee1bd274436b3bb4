/**
 * Runs the real bundled agent (dist/agent.js) or local container host (dist/container-host.js)
 * as a child process with a fresh temp folder, and talks to it over HTTP.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { HOST_SECRET_ENV, LOCAL_SECRET_HEADER, type LocalAgentState } from '../../worker/protocol/agent';
import { SseParser, type SseMessage } from '../../worker/protocol/sse';

const root = path.resolve(__dirname, '..', '..');
let built = false;

/** Bundles the agent and the host once per test run (esbuild, well under a second). */
export function buildBundles(): void {
  if (built) return;
  execFileSync(process.execPath, [path.join(root, 'scripts', 'build.mjs')], { stdio: 'inherit' });
  built = true;
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `sandbox-ports-${prefix}-`));
}

export interface Reply<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/**
 * A JSON client for one server. Objects are sent as JSON; strings and Buffers as they are (as
 * application/octet-stream unless a content-type is given). `secret` goes into every request's
 * LOCAL_SECRET_HEADER, as the Worker sends it.
 */
export class Client {
  readonly base: string;
  private readonly defaults: Record<string, string>;
  constructor(base: string, secret?: string, headers: Record<string, string> = {}) {
    this.base = base;
    this.defaults = secret === undefined ? { ...headers } : { ...headers, [LOCAL_SECRET_HEADER]: secret };
  }

  async call<T = any>(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply<T>> {
    const init: RequestInit & { headers: Record<string, string> } = { method, headers: { ...this.defaults, ...headers } };
    if (body !== undefined) {
      const raw = typeof body === 'string' || Buffer.isBuffer(body);
      init.body = raw ? (body as BodyInit) : JSON.stringify(body);
      if (!Object.keys(init.headers).some((h) => h.toLowerCase() === 'content-type')) {
        init.headers['content-type'] = raw ? 'application/octet-stream' : 'application/json';
      }
    }
    const res = await fetch(this.base + url, init);
    const type = res.headers.get('content-type') ?? '';
    const raw = Buffer.from(await res.arrayBuffer());
    const parsed = type.includes('application/json') ? JSON.parse(raw.toString('utf8')) : raw.toString('utf8');
    return { status: res.status, body: parsed, headers: res.headers };
  }

  /** Calls and insists on a 2xx answer, returning the body. */
  async ok<T = any>(method: string, url: string, body?: unknown): Promise<T> {
    const r = await this.call<T>(method, url, body);
    if (r.status < 200 || r.status > 299) throw new Error(`${method} ${url} → ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }

  /** Opens an SSE stream; messages arrive in `messages`, `next()` waits for the next one. */
  async sse(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    const ac = new AbortController();
    const res = await fetch(this.base + url, { headers: { ...this.defaults, ...headers }, signal: ac.signal });
    if (res.status !== 200) throw new Error(`GET ${url} → ${res.status} ${await res.text()}`);
    return new SseClient(res, ac);
  }
}

export class SseClient {
  readonly messages: Array<SseMessage & { at: number }> = [];
  ended = false;
  private readonly ac: AbortController;
  private waiters: Array<() => void> = [];
  private readonly done: Promise<void>;

  constructor(res: Response, ac: AbortController) {
    this.ac = ac;
    const parser = new SseParser();
    const decoder = new TextDecoder();
    this.done = (async () => {
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          const at = Date.now();
          for (const m of parser.push(decoder.decode(chunk, { stream: true }))) this.messages.push({ ...m, at });
          this.wake();
        }
      } catch {
        /* aborted */
      }
      this.ended = true;
      this.wake();
    })();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Waits until `count` messages arrived (or the stream ended). */
  async waitFor(count: number, timeoutMs = 10000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.messages.length < count && !this.ended) {
      if (Date.now() > deadline) throw new Error(`only ${this.messages.length} of ${count} SSE messages within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  }

  async untilEnd(timeoutMs = 10000): Promise<void> {
    await this.waitFor(Number.MAX_SAFE_INTEGER, timeoutMs);
  }

  close(): void {
    this.ac.abort();
  }

  closed(): Promise<void> {
    return this.done;
  }
}

export interface RunningProgram {
  child: ChildProcess;
  pid: number;
  port: number;
  /** The secret its door requires. */
  secret: string;
  client: Client;
  /** Everything it printed so far. */
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Starts a bundle with IPC and waits for its ready message; `dir` is removed when it stops. The
 * client sends `secret`, the program's door secret.
 */
async function startProgram(script: string, dir: string, env: Record<string, string>, secret: string): Promise<RunningProgram> {
  buildBundles();
  const child = spawn(process.execPath, [path.join(root, 'dist', script)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let out = '';
  child.stdout!.on('data', (c) => (out += c));
  child.stderr!.on('data', (c) => (out += c));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} not ready in 10 s:\n${out}`)), 10000);
    child.on('message', (m: any) => {
      if (m?.type === 'ready') {
        clearTimeout(timer);
        resolve(m.port);
      }
    });
    void exited.then(() => reject(new Error(`${script} exited before ready:\n${out}`)));
  });
  return {
    child,
    pid: child.pid!,
    port,
    secret,
    client: new Client(`http://127.0.0.1:${port}`, secret),
    output: () => out,
    // SIGTERM lets the program end what it started; SIGKILL follows if it takes too long.
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
      // Children of a SIGKILLed host may still be writing their last lines: retry the removal.
      fs.rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    },
  };
}

export interface AgentUnderTest extends RunningProgram {
  dir: string;
  workspace: string;
  pgidFile: string;
}

export function newSecret(): string {
  return randomBytes(24).toString('base64url');
}

/** Starts dist/agent.js on a free loopback port with a fresh workspace, behind a door secret. */
export async function startAgent(env: Record<string, string> = {}): Promise<AgentUnderTest> {
  const dir = tempDir('agent');
  const workspace = path.join(dir, 'workspace');
  const pgidFile = path.join(dir, 'agent.pgids');
  const secret = env.SANDBOX_AGENT_SECRET ?? newSecret();
  const program = await startProgram(
    'agent.js',
    dir,
    {
      SANDBOX_AGENT_SECRET: secret,
      SANDBOX_AGENT_PORT: '0',
      SANDBOX_AGENT_BIND: '127.0.0.1',
      SANDBOX_WORKSPACE: workspace,
      SANDBOX_PGID_FILE: pgidFile,
      SANDBOX_ID: 'test-box',
      SANDBOX_PORT_SCAN_MS: '200',
      ...env,
    },
    secret,
  );
  return { ...program, dir, workspace, pgidFile };
}

export interface HostUnderTest extends RunningProgram {
  stateDir: string;
}

export async function startHost(env: Record<string, string> = {}): Promise<HostUnderTest> {
  const stateDir = tempDir('host');
  const secret = newSecret();
  const program = await startProgram('container-host.js', stateDir, { SANDBOX_HOST_PORT: '0', SANDBOX_STATE_DIR: stateDir, [HOST_SECRET_ENV]: secret, ...env }, secret);
  return { ...program, stateDir };
}

/** True once `pid` has ended (a zombie still answers kill(0) but has ended all the same). */
export function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    return /^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return true;
  }
}

/** Polls until `check` gives a truthy value and returns it: a readiness check, not a fixed sleep. */
export async function waitUntil<T>(check: () => T | Promise<T>, what: string, timeoutMs = 10000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export { freePort } from './net';

/** What the host answers about a running agent (POST …/start, GET /containers/:key). */
export type AgentState = LocalAgentState & { port: number; pid: number; secret: string };

/**
 * A client for a sandbox's agent as the Worker reaches it: on its loopback port (plain), or
 * through the host's relay to port 3000 inside (isolated).
 */
export function agentClient(state: AgentState): Client {
  return new Client(`http://127.0.0.1:${state.relayPort ?? state.port}`, state.secret);
}

/**
 * A command that sleeps and carries a mark no other process has, so a test can find it on this
 * machine whatever pid namespace it runs in.
 */
export function markedSleep(): { command: string; mark: string } {
  const mark = `1000.${Math.floor(Math.random() * 1e9)}`;
  return { command: `sleep ${mark}`, mark };
}

/** True while some process on this machine runs `sleep <mark>`. */
export function markedAlive(mark: string): boolean {
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (argv[0]?.endsWith('sleep') && argv[1] === mark && !processGone(Number(entry))) return true;
    } catch {
      /* gone meanwhile */
    }
  }
  return false;
}

/**
 * One real agent for a describe block: started before its tests, stopped after. Answers a getter,
 * since the agent exists only once the hook ran.
 */
export function useAgent(env: Record<string, string> = {}): () => AgentUnderTest {
  let agent: AgentUnderTest | undefined;
  before(async () => {
    agent = await startAgent(env);
  });
  after(async () => {
    await agent?.stop();
  });
  return () => agent!;
}
