/**
 * The local container host's HTTP API (loopback only, behind the local door: every request
 * carries the host's secret), which the Worker's local stand-in for `ctx.container` calls:
 *
 *   GET    /health                        → { ok: true, isolation, reason?, limits, limitsReason?, capacity }
 *   POST   /containers/:key/start  { env?, internet?, resources? } → LocalAgentState (adopts a running
 *                                            agent; `env` is the sandbox's, for its commands;
 *                                            400 RESOURCES_UNAVAILABLE when more than `capacity`)
 *   GET    /containers/:key                → LocalAgentState: { running, port?, pid?, secret?, isolation?,
 *                                            internet?, relayPort? } (`secret`: the agent's;
 *                                            `relayPort`: the way to an isolated agent)
 *   GET    /containers/:key/ports/:port/relay → { port }: the loopback port that leads to that port
 *                                            inside an isolated sandbox (port-relay.ts)
 *   GET    /containers/:key/wait[?pid=]    → { exitCode, signal } when the agent (that pid) exits
 *                                            ({ exitCode: null, signal: null, running: false } if none runs)
 *   POST   /containers/:key/signal { signal } → { sent }
 *   DELETE /containers/:key[?purge=1]      → 204 once the agent and its process groups are gone
 */
import http from 'node:http';
import { ErrorCode, SandboxError } from '../../worker/protocol/errors';
import { checkSandboxId } from '../../worker/protocol/ids';
import { readJson } from '../http/http-util';
import { asObject } from '../../worker/protocol/requests';
import { optionalBoolean, optionalEnv } from '../../worker/protocol/validate';
import { clientGone } from '../http/deadline';
import { createRouter, json, noContent, type Route } from '../http/router';
import { CONTROL_PORT, checkProbePort } from '../../worker/protocol/ports';
import type { LocalAgentState } from '../../worker/protocol/agent';
import { checkResources, type HostCapacity } from '../../worker/protocol/resources';
import type { AgentSupervisor, StartOptions } from './agent-supervisor';
import type { PortRelays } from './port-relay';

export interface HostInfo {
  /** How this host runs sandboxes, and why not isolated when it is not. */
  isolation: 'namespaces' | 'none';
  reason?: string;
  /** How it limits what they use (cgroups), and why not when it does not. */
  limits: 'cgroup2' | 'cgroup1' | 'none';
  limitsReason?: string;
  /** The most one sandbox can get here. */
  capacity: HostCapacity;
}

/**
 * A sandbox id names folders here, so the two names that mean "this folder" or "the parent" are
 * out (the router's URL normalisation already removes such segments; this does not rely on it).
 */
export function checkKey(value: string | undefined): string {
  const key = checkSandboxId(value);
  if (key === '.' || key === '..') throw new SandboxError(ErrorCode.INVALID_SANDBOX_ID, `Sandbox ID '${key}' cannot name a folder`);
  return key;
}

/**
 * `{ env?, internet?, resources? }`: the sandbox's environment (it reaches the agent's commands
 * only, never the agent itself), whether it gets outbound network (default true), and what it
 * may use (every field of SandboxResources; without it, no limits).
 */
function parseStart(raw: unknown): StartOptions {
  const body = asObject(raw);
  const out: StartOptions = { env: optionalEnv(body, 'env') ?? {}, internet: optionalBoolean(body, 'internet') ?? true };
  if (body.resources !== undefined) out.resources = checkResources(body.resources);
  return out;
}

function parseSignal(raw: unknown): number {
  const signal = asObject(raw).signal;
  if (typeof signal !== 'number' || !Number.isInteger(signal) || signal < 1 || signal > 64) {
    throw new SandboxError(ErrorCode.INVALID_SIGNAL, `'signal' must be a signal number from 1 to 64 (e.g. 15 for SIGTERM)`);
  }
  return signal;
}

export function createHostServer(supervisor: AgentSupervisor, secret: string, info: HostInfo, relays: PortRelays | null): http.Server {
  // A running isolated agent's state says how to reach it: the relay to its port inside.
  const described = async (key: string, state: LocalAgentState): Promise<LocalAgentState> =>
    state.running && relays ? { ...state, relayPort: await relays.portFor(key, CONTROL_PORT) } : state;
  const routes: Route[] = [
    { method: 'GET', path: '/health', handler: () => json({ ok: true, ...info }) },
    {
      method: 'POST',
      path: '/containers/:key/start',
      handler: async ({ req, params }) => {
        const key = checkKey(params.key);
        await supervisor.start(key, parseStart(await readJson(req)));
        return json(await described(key, supervisor.state(key)));
      },
    },
    {
      method: 'GET',
      path: '/containers/:key',
      handler: async ({ params }) => {
        const key = checkKey(params.key);
        return json(await described(key, supervisor.state(key)));
      },
    },
    {
      method: 'GET',
      path: '/containers/:key/ports/:port/relay',
      handler: async ({ params }) => {
        const key = checkKey(params.key);
        const port = checkProbePort(params.port);
        if (!relays) throw new SandboxError(ErrorCode.NOT_FOUND, `Sandboxes here are not isolated: port ${port} is on this machine's loopback, with no relay`);
        return json({ port: await relays.portFor(key, port) });
      },
    },
    {
      method: 'GET',
      path: '/containers/:key/wait',
      handler: async ({ res, params, query }) => {
        const key = checkKey(params.key);
        const gone = clientGone(res);
        const pid = query.get('pid');
        const exit = await supervisor.wait(key, pid && /^\d+$/.test(pid) ? Number(pid) : undefined);
        return gone.aborted ? undefined : json(exit);
      },
    },
    {
      method: 'POST',
      path: '/containers/:key/signal',
      handler: async ({ req, params }) => {
        const key = checkKey(params.key);
        return json({ sent: supervisor.signal(key, parseSignal(await readJson(req))) });
      },
    },
    {
      method: 'DELETE',
      path: '/containers/:key',
      handler: async ({ params, query }) => {
        await supervisor.stop(checkKey(params.key), query.get('purge') === '1');
        return noContent;
      },
    },
  ];
  const server = http.createServer(createRouter(routes, { secret }));
  server.requestTimeout = 0; // /wait is a long poll
  return server;
}
