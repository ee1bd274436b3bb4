/**
 * The agent: its services wired together and its routing table (the routes documented in
 * worker/protocol/agent.ts). main.ts only reads the environment and starts it.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { AGENT_EVENT_NAME, type AgentEvent } from '../worker/protocol/agent';
import { RESET_EVENT_NAME } from '../worker/protocol/events';
import { checkProbePort } from '../worker/protocol/ports';
import { ErrorCode, SandboxError } from '../worker/protocol/errors';
import { commandEnv, type AgentConfig } from './config';
import { EventLog } from './event-log';
import { fileRoutes } from './files/file-routes';
import { Files } from './files/files';
import { lastEventId, openSse } from './http/http-util';
import { PortScanner } from './ports/port-scanner';
import { ProcessGroups } from './processes/process-groups';
import { processRoutes } from './processes/process-routes';
import { ProcessService } from './processes/process-service';
import { createRouter, json, type Route } from './http/router';
import { tunnelRoutes } from './tunnels/tunnel-routes';
import { TunnelService } from './tunnels/tunnel-service';
import { MemoryWatch } from './resources/memory-watch';
import { NO_CGROUP, ResourceReader } from './resources/usage';

/** A client this far behind on /events is dropped rather than buffered. */
const MAX_EVENT_BACKLOG_BYTES = 1024 * 1024;

export interface Agent {
  server: http.Server;
  processes: ProcessService;
  groups: ProcessGroups;
  scanner: PortScanner;
  tunnels: TunnelService;
  /** Listens; resolves with the real port. */
  listen(): Promise<number>;
  /** Ends every process group (TERM, then KILL after `graceMs`) and closes the server. */
  shutdown(graceMs?: number): Promise<void>;
}

export function createAgent(config: AgentConfig, env: NodeJS.ProcessEnv): Agent {
  const baseEnv = commandEnv(env, config.commandEnv);
  const files = new Files(config.workspace, { ownView: config.ownView });
  const events = new EventLog<AgentEvent>(1000);
  const groups = new ProcessGroups(config.pgidFile);
  let boundPort = config.port;
  const scanner = new PortScanner({ groups, events, intervalMs: config.portScanMs, ownPort: () => boundPort, ownView: config.ownView });
  // A sandbox's disk is its workspace, and in its own view its in-memory /tmp and HOME too.
  const resources = new ResourceReader(config.ownView ? [config.workspace, '/tmp', env.HOME ?? '/root'] : [config.workspace], config.ownCgroup ? undefined : NO_CGROUP);
  const memoryWatch = new MemoryWatch(resources, events);
  memoryWatch.start();
  if (resources.limited) resources.countDisk();
  const memory = { claimKill: () => memoryWatch.claimKill(), memoryLimit: () => resources.memoryLimit() };
  const processes = new ProcessService({
    files,
    groups,
    events,
    baseEnv,
    logLimit: config.logLimit,
    memory,
    onStart: () => scanner.wake(),
  });
  const tunnels = new TunnelService({
    groups,
    events,
    binary: config.cloudflared,
    cwd: config.workspace,
    env: baseEnv,
    timeoutMs: config.tunnelTimeoutMs,
  });

  const health = (): ReturnType<typeof json> => json({ ok: true, sandboxId: config.sandboxId });
  const routes: Route[] = [
    { method: 'GET', path: '/', handler: health },
    { method: 'GET', path: '/health', handler: health },
    ...processRoutes({ processes, files, groups, baseEnv, memory, listener: config.ownView ? undefined : (port) => scanner.listener(port) }),
    ...fileRoutes({ files, groups, baseEnv }),
    ...tunnelRoutes(tunnels),
    { method: 'GET', path: '/ports/detected', handler: async () => json({ ports: await scanner.scan() }) },
    {
      method: 'GET',
      path: '/resources',
      handler: async () => {
        if (!resources.limited) throw new SandboxError(ErrorCode.NOT_FOUND, "This sandbox has no cgroup of its own: what it uses cannot be told from the host's use");
        return json(resources.read());
      },
    },
    {
      method: 'GET',
      path: '/ports/:port/listener',
      handler: async ({ params }) => json(await scanner.listener(checkProbePort(params.port))),
    },
    {
      method: 'GET',
      path: '/events',
      handler: ({ req, res, query }) => {
        const sse = openSse(res);
        const { events: missed, reset } = events.since(lastEventId(req, query));
        if (reset) sse.send({ event: RESET_EVENT_NAME, data: JSON.stringify({ lastId: events.lastId }) });
        const send = (item: { id: number; event: AgentEvent }): void => {
          if (res.writableLength > MAX_EVENT_BACKLOG_BYTES) return sse.end();
          sse.send({ id: String(item.id), event: AGENT_EVENT_NAME, data: JSON.stringify(item.event) });
        };
        for (const item of missed) send(item);
        sse.onClose(events.subscribe(send));
        return undefined;
      },
    },
  ];

  const server = http.createServer(createRouter(routes, { secret: config.secret }));
  // Waits and streams may be long; the client decides when to give up.
  server.requestTimeout = 0;
  server.keepAliveTimeout = 65_000;

  return {
    server,
    processes,
    groups,
    scanner,
    tunnels,
    listen: () =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        const done = (): void => {
          boundPort = (server.address() as AddressInfo).port;
          resolve(boundPort);
        };
        // Every address is listened on with no host: Node then skips its address lookup, whose first
        // use cost ~10 ms of a sandbox's cold start on Node 22 here. That binds `::`, which takes
        // IPv6 as well as IPv4 (inside a sandbox: its own network; Node falls back to 0.0.0.0
        // where there is no IPv6).
        server.listen(config.port, config.bind === '0.0.0.0' ? undefined : config.bind, done);
      }),
    shutdown: async (graceMs = 2000) => {
      scanner.stop();
      memoryWatch.stop();
      groups.signalAll('SIGTERM');
      const until = Date.now() + graceMs;
      while (groups.anyAlive() && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      groups.signalAll('SIGKILL');
      // Once they are gone, the pgid file says so, and nobody reaps those ids again later.
      const reaped = Date.now() + 500;
      while (groups.anyAlive() && Date.now() < reaped) await new Promise((r) => setTimeout(r, 20));
      groups.forgetDead();
      server.closeAllConnections();
      server.close();
    },
  };
}
