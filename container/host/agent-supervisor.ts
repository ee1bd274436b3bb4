/**
 * Runs one agent per sandbox key on this machine and makes sure that when an agent ends — however
 * it ends — everything it started ends with it. Isolated (`namespaces`), each agent runs in
 * namespaces of its own and the namespace takes its processes along; as plain processes (the
 * fallback), each agent has a process group of its own and keeps the ids of the groups it started
 * in its pgid file, which are reaped here.
 */
import type { ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { AGENT_ENV, type LocalAgentState } from '../../worker/protocol/agent';
import { ErrorCode, SandboxError } from '../../worker/protocol/errors';
import { launchIsolated, launchPlain, type Launched } from './agent-launch';
import { WarmPool, type WarmEntry } from './warm-entry';
import { HandoffClient } from '../ports/port-handoff';
import { INSIDE, insideSettings, type IsolationMode, type SystemEntry } from './isolation';
import { checkFitsHost, type HostCapacity, type SandboxResources } from '../../worker/protocol/resources';
import type { CgroupDriver, SandboxCgroup } from './limits/cgroups';
import { writeSandboxEtc } from './sandbox-etc';
import { reapAgentGroups, reapLeftoverAgent } from './agent-leftovers';
import { readTextOr } from '../read-text';
import { giveFolderTo, type SandboxUsers } from './sandbox-users';
import { onPath } from './isolation-probe';

export interface AgentExit {
  exitCode: number | null;
  signal: string | null;
}

export interface SupervisorOptions {
  stateDir: string;
  /** The agent bundle (dist/agent.js). */
  agentScript: string;
  /** The environment agents start from (agentBaseEnv of the host's). */
  baseEnv: NodeJS.ProcessEnv;
  nodePath?: string;
  startTimeoutMs?: number;
  /** `namespaces` when this host isolates its sandboxes (isolation-probe.ts). */
  isolation?: IsolationMode;
  /** The system folders a sandbox sees (readSystemEntries), when isolated. */
  system?: SystemEntry[];
  /** The pasta program for outbound network (isolation-probe.ts picks it), when isolated. */
  pasta?: string;
  /** Told when an agent is gone (its relays close). */
  onExit?: (key: string) => void;
  /** The cgroup driver that enforces sandboxes' limits (limits/cgroup-probe.ts); none: no limits. */
  limits?: CgroupDriver | null;
  /** The most a sandbox can get here: a start asking for more is refused. */
  capacity?: HostCapacity;
  /** When the host runs as root: the users isolated sandboxes run as (never root). */
  users?: SandboxUsers | null;
}

export interface StartOptions {
  /** The sandbox's environment, for its commands. */
  env?: Record<string, string>;
  /** Outbound network (isolated sandboxes only; plain processes always have the host's). */
  internet?: boolean;
  /** What the sandbox may use, enforced where the host has cgroups. */
  resources?: SandboxResources;
}

interface LastExit {
  pid: number;
  exit: AgentExit;
}

interface RunningAgent {
  child: ChildProcess;
  launched: Launched;
  pid: number;
  /** What the Worker must send this agent in LOCAL_SECRET_HEADER; one per agent, so a sandbox that
   *  reads its own agent's secret can drive nothing else. */
  secret: string;
  internet: boolean;
  /** Connections to ports inside, handed over by an isolated agent. */
  handoffs: HandoffClient | null;
  port: Promise<number>;
  knownPort: number | null;
  exited: Promise<AgentExit>;
}

const LOG_TAIL_BYTES = 4000;
/** The agent's standing when its sandbox runs out of memory: far behind what it started (resources/oom-shield.ts). */
const AGENT_OOM_SCORE_ADJ = -900;

/** Variables of the host's environment that an agent keeps: what commands need to run at all. */
const KEPT_VARIABLES = ['PATH', 'HOME', 'LANG'];
/** Agent settings the host passes on from its own environment (the tests set them there). */
const FORWARDED_SETTINGS = [AGENT_ENV.CLOUDFLARED, AGENT_ENV.LOG_LIMIT, AGENT_ENV.PORT_SCAN_MS, AGENT_ENV.TUNNEL_TIMEOUT_MS];

/**
 * The environment every agent starts from: PATH, HOME and LANG, and the agent settings the host
 * was given; nothing else of the host's (no npm_* variables, no tokens, no NODE_OPTIONS).
 */
export function agentBaseEnv(hostEnv: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const name of [...KEPT_VARIABLES, ...FORWARDED_SETTINGS]) {
    if (hostEnv[name] !== undefined) out[name] = hostEnv[name];
  }
  return out;
}

export class AgentSupervisor {
  private readonly opts: Required<SupervisorOptions>;
  private readonly agents = new Map<string, RunningAgent>();
  /** Cgroups being removed after their agent ended; a stop waits for its own. */
  private readonly removals = new Map<string, Promise<void>>();
  /** Isolated sandboxes with limits start from a shell already in cgroups of its own. */
  private readonly warm: WarmPool | null;
  /** Counts stops per key: a start that waited learns whether one came meanwhile. */
  private readonly stops = new Map<string, number>();
  /** How each key's last agent ended, for waiters that arrive just after. */
  private readonly lastExit = new Map<string, LastExit>();

  constructor(opts: SupervisorOptions) {
    this.opts = {
      nodePath: process.execPath,
      startTimeoutMs: 20_000,
      isolation: 'none',
      system: [],
      pasta: 'pasta',
      onExit: () => {},
      limits: null,
      capacity: { memoryMiB: Infinity, vcpu: Infinity },
      users: null,
      ...opts,
    };
    const limits = this.opts.limits;
    // Only where a cgroup can be renamed (v1): a v2 cgroup keeps the name it was made with.
    this.warm = limits?.renames && this.opts.isolation === 'namespaces' ? new WarmPool(limits, this.oomScoreAdj()) : null;
    fs.mkdirSync(this.agentsDir, { recursive: true });
    fs.mkdirSync(path.join(this.opts.stateDir, 'workspaces'), { recursive: true });
  }

  /** Removes the cgroups an earlier run of this host left behind when it was killed, and makes a warm entry. */
  async init(): Promise<void> {
    await this.opts.limits?.removeAll();
    this.warm?.refill();
  }

  /** Only root may lower it; elsewhere the agent is as likely a pick as what it runs. */
  private oomScoreAdj(): number {
    return process.getuid?.() === 0 ? AGENT_OOM_SCORE_ADJ : 0;
  }

  /**
   * A connection to `port` inside `key`'s isolated sandbox, made there by its agent and handed
   * over through the agent's IPC channel (port-handoff.ts).
   */
  connectInside(key: string, port: number): Promise<Socket> {
    const agent = this.agents.get(key);
    if (!agent?.handoffs) return Promise.reject(new Error(`no isolated agent runs for '${key}'`));
    return agent.handoffs.connect(port);
  }

  private get agentsDir(): string {
    return path.join(this.opts.stateDir, 'agents');
  }

  workspaceOf(key: string): string {
    return path.join(this.opts.stateDir, 'workspaces', key);
  }

  private file(key: string, ext: 'log' | 'pgids' | 'pid' | 'etc'): string {
    return path.join(this.agentsDir, `${key}.${ext}`);
  }

  /**
   * Starts the agent for `key`, or adopts the one already running; resolves with its port. `env`
   * is the sandbox's environment: the agent hands it to its commands and never runs with it.
   */
  start(key: string, { env = {}, internet = true, resources }: StartOptions = {}): Promise<number> {
    const existing = this.agents.get(key);
    if (existing) return existing.port;
    // A cgroup still being removed is not reused (its removal would take the new agent's); a stop
    // meanwhile (a destroy) means this start is no longer wanted.
    const removal = this.removals.get(key);
    if (removal) {
      const stops = this.stops.get(key) ?? 0;
      return removal.then(() => {
        if ((this.stops.get(key) ?? 0) !== stops) throw new SandboxError(ErrorCode.AGENT_UNREACHABLE, `Sandbox '${key}' was stopped while it was starting`);
        return this.start(key, { env, internet, ...(resources ? { resources } : {}) });
      });
    }
    if (resources) checkFitsHost({ instanceType: 'custom', resources }, this.opts.capacity);
    this.reapLeftovers(key);
    const secret = randomBytes(24).toString('base64url');
    const isolated = this.opts.isolation === 'namespaces';
    let launched: Launched;
    let cgroup: SandboxCgroup | null = null;
    let warm: WarmEntry | null = null;
    try {
      // A warm entry's cgroups become the sandbox's: nothing has to move into them now.
      warm = isolated && resources ? (this.warm?.take(key) ?? null) : null;
      cgroup = this.opts.limits && resources ? this.opts.limits.create(key, resources) : null;
      launched = this.launch(key, { env, internet, ...(resources ? { resources } : {}) }, secret, cgroup, warm);
      if (launched.child.pid === undefined) throw new Error(isolated ? 'bwrap did not start' : `${this.opts.nodePath} did not start`);
    } catch (err) {
      // Nothing of a start that failed is left: not its waiting shell, not its cgroup.
      warm?.dispose();
      if (cgroup || warm) this.removeCgroup(key);
      this.warm?.refill();
      return Promise.reject(err instanceof SandboxError ? err : new SandboxError(ErrorCode.AGENT_UNREACHABLE, `Could not start the agent for '${key}': ${(err as Error).message}`));
    }
    const child = launched.child;
    const pid = child.pid!;
    fs.writeFileSync(this.file(key, 'pid'), `${pid}\n`);

    const exited = new Promise<AgentExit>((resolve) => {
      child.once('exit', (code, signal) => {
        launched.cleanup();
        agent.handoffs?.close();
        this.reapGroups(key, pid, isolated);
        if (cgroup) this.removeCgroup(key);
        if (this.agents.get(key)?.pid === pid) this.agents.delete(key);
        this.lastExit.set(key, { pid, exit: { exitCode: code, signal } });
        this.opts.onExit(key);
        resolve({ exitCode: code, signal });
      });
    });
    const port = new Promise<number>((resolve, reject) => {
      const fail = (why: string): void => {
        clearTimeout(timer);
        reject(new SandboxError(ErrorCode.AGENT_UNREACHABLE, `The agent for '${key}' ${why}. Its log ends with:\n${this.logTail(key)}`));
      };
      const timer = setTimeout(() => {
        fail(`did not report ready within ${this.opts.startTimeoutMs}ms`);
        child.kill('SIGKILL');
      }, this.opts.startTimeoutMs);
      child.on('message', (msg: unknown) => {
        const m = msg as { type?: unknown; port?: unknown };
        if (m?.type === 'ready' && typeof m.port === 'number') {
          const reported = m.port;
          // Ready once the sandbox's network is up as well (pasta, when isolated).
          launched.ready.then(
            () => {
              clearTimeout(timer);
              agent.knownPort = reported;
              resolve(reported);
            },
            (err: Error) => {
              fail(`has no network: ${err.message}`);
              child.kill('SIGKILL');
            },
          );
        }
      });
      child.once('error', (err) => fail(`could not start: ${err.message}`));
      void exited.then((e) => fail(`exited (${e.signal ?? `code ${e.exitCode}`}) before it was ready`));
    });
    port.catch(() => {}); // the caller gets it; an adopter may never ask
    // The next warm entry is made once this sandbox is up, not while it starts.
    void port.catch(() => {}).finally(() => this.warm?.refill());
    const agent: RunningAgent = {
      child,
      launched,
      pid,
      secret,
      internet: isolated ? internet : true,
      handoffs: isolated ? new HandoffClient(child) : null,
      port,
      knownPort: null,
      exited,
    };
    this.agents.set(key, agent);
    return port;
  }

  /** Starts the agent's process, isolated or plain, in its cgroup when it has one. */
  private launch(key: string, { env = {}, internet = true, resources }: StartOptions, secret: string, cgroup: SandboxCgroup | null, warm: WarmEntry | null): Launched {
    const workspace = this.workspaceOf(key);
    fs.mkdirSync(workspace, { recursive: true });
    const common = {
      ...this.opts.baseEnv,
      [AGENT_ENV.COMMAND_ENV]: JSON.stringify(env),
      [AGENT_ENV.SECRET]: secret,
      // Whether the cgroup the agent finds itself in is the sandbox's own, or the host's.
      [AGENT_ENV.OWN_CGROUP]: cgroup ? '1' : '0',
    };
    const entry = { cgroupProcs: cgroup?.procsFiles ?? [], oomScoreAdj: cgroup ? this.oomScoreAdj() : 0 };
    const logFd = fs.openSync(this.file(key, 'log'), 'a');
    try {
      if (this.opts.isolation !== 'namespaces') {
        return launchPlain({
          nodePath: this.opts.nodePath,
          agentScript: this.opts.agentScript,
          logFd,
          entry,
          env: {
            ...common,
            [AGENT_ENV.PORT]: '0',
            [AGENT_ENV.BIND]: '127.0.0.1',
            [AGENT_ENV.WORKSPACE]: workspace,
            [AGENT_ENV.SANDBOX_ID]: key,
            [AGENT_ENV.PGID_FILE]: this.file(key, 'pgids'),
          },
        });
      }
      const user = this.opts.users?.userFor(key) ?? null;
      if (user) giveFolderTo(workspace, user);
      const tools = this.lentTools();
      return launchIsolated({
        layout: {
          sandboxId: key,
          workspace,
          nodeBinary: this.opts.nodePath,
          agentScript: this.opts.agentScript,
          system: this.opts.system,
          tools,
          user,
          etc: writeSandboxEtc(this.file(key, 'etc'), key, user, INSIDE.home),
          ...(resources ? { tmpMiB: resources.tmpMiB } : {}),
          cgroupViews: cgroup?.views ?? [],
        },
        env: { ...common, LANG: this.opts.baseEnv.LANG ?? 'C.UTF-8', ...insideSettings(key, tools, user) },
        log: { fd: logFd, file: this.file(key, 'log') },
        internet,
        networkTimeoutMs: this.opts.startTimeoutMs,
        pasta: this.opts.pasta,
        entry,
        ...(warm ? { warm } : {}),
      });
    } finally {
      fs.closeSync(logFd);
    }
  }

  /** Kills what is left in the sandbox's cgroup and removes it (a stop waits for it). */
  private removeCgroup(key: string): void {
    const removal = (this.removals.get(key) ?? Promise.resolve())
      .then(() => this.opts.limits?.remove(key))
      .catch((err: Error) => console.error(`could not remove the cgroup of '${key}': ${err.message}`));
    this.removals.set(key, removal);
    void removal.then(() => {
      if (this.removals.get(key) === removal) this.removals.delete(key);
    });
  }

  state(key: string): LocalAgentState {
    const agent = this.agents.get(key);
    if (!agent) return { running: false };
    const state: LocalAgentState = { running: true, pid: agent.pid, secret: agent.secret, isolation: this.opts.isolation, internet: agent.internet };
    if (agent.knownPort !== null) state.port = agent.knownPort;
    return state;
  }

  /** Resolves when the agent for `key` exits (at once when none runs). */
  /**
   * Waits for the agent to exit. With `pid`, a waiter that arrives after that agent already
   * exited still learns how it ended (its request may lose the race with the exit).
   */
  async wait(key: string, pid?: number): Promise<AgentExit & { running?: false }> {
    const agent = this.agents.get(key);
    if (agent && (pid === undefined || agent.pid === pid)) return agent.exited;
    const last = this.lastExit.get(key);
    if (pid !== undefined && last?.pid === pid) return last.exit;
    return { exitCode: null, signal: null, running: false };
  }

  /** Sends a signal number to the agent itself (inside its namespaces, when isolated); false when none runs. */
  signal(key: string, signo: number): boolean {
    const agent = this.agents.get(key);
    const target = agent?.launched.agentPid();
    if (!agent || !target) return false;
    try {
      process.kill(target, signo);
      return true;
    } catch {
      return false;
    }
  }

  /** SIGKILLs the agent and waits until it and its groups are gone; `purge` removes the workspace. */
  async stop(key: string, purge: boolean): Promise<void> {
    this.stops.set(key, (this.stops.get(key) ?? 0) + 1);
    const agent = this.agents.get(key);
    if (agent) {
      agent.child.kill('SIGKILL');
      await agent.exited;
    }
    await this.removals.get(key);
    if (purge) {
      fs.rmSync(this.workspaceOf(key), { recursive: true, force: true });
      fs.rmSync(this.file(key, 'etc'), { recursive: true, force: true });
      this.opts.users?.release(key);
    }
  }

  /** Stops every agent and removes this host's cgroups (Ctrl-C, SIGTERM). */
  async stopAll(): Promise<void> {
    this.warm?.dispose();
    await Promise.all([...this.agents.keys()].map((key) => this.stop(key, false)));
    await this.opts.limits?.removeAll();
  }

  get runningKeys(): string[] {
    return [...this.agents.keys()];
  }

  private reapGroups(key: string, agentPid: number, isolated: boolean): void {
    reapAgentGroups({ pid: this.file(key, 'pid'), pgids: this.file(key, 'pgids') }, agentPid, isolated);
  }

  private reapLeftovers(key: string): void {
    reapLeftoverAgent({ pid: this.file(key, 'pid'), pgids: this.file(key, 'pgids') }, path.basename(this.opts.agentScript), this.workspaceOf(key));
  }

  /**
   * Host programs a sandbox borrows, read-only: cloudflared where it lives outside the system
   * folders a sandbox already sees.
   */
  private lentTools(): Record<string, string> {
    const found = onPath(this.opts.baseEnv[AGENT_ENV.CLOUDFLARED] || 'cloudflared', this.opts.baseEnv.PATH ?? '');
    return found ? { cloudflared: found } : {};
  }

  private logTail(key: string): string {
    const text = readTextOr(this.file(key, 'log'));
    return text.slice(-LOG_TAIL_BYTES);
  }
}
