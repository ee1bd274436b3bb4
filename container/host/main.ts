/**
 * Entry point of the local container host (dist/container-host.js): runs sandbox agents as plain
 * processes when there is no container runtime. Listens on 127.0.0.1 only.
 *
 *   SANDBOX_HOST_PORT   port to listen on (default 8790; 0 picks a free one)
 *   SANDBOX_STATE_DIR   folder for workspaces, agent logs and pgid files (default ./.sandbox-ports/state)
 *   SANDBOX_HOST_SECRET the secret every request must carry (required; the Worker has the same)
 */
import { createHash } from 'node:crypto';
import type http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { HOST_SECRET_ENV } from '../../worker/protocol/agent';
import { AgentSupervisor, agentBaseEnv } from './agent-supervisor';
import { createHostServer, type HostInfo } from './host-server';
import { probeIsolation, readSystemEntries } from './isolation-probe';
import { PortRelays } from './port-relay';
import { probeLimits, readProbeInput } from './limits/cgroup-probe';
import { SandboxUsers } from './sandbox-users';
import { runMain, stopOnSignals } from '../process-lifecycle';

export const HOST_PORT_ENV = 'SANDBOX_HOST_PORT';
export const HOST_STATE_ENV = 'SANDBOX_STATE_DIR';
export const DEFAULT_HOST_PORT = 8790;

function readPort(raw: string | undefined): number {
  if (raw === undefined || raw.trim() === '') return DEFAULT_HOST_PORT;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${HOST_PORT_ENV} must be a port number (got '${raw}')`);
  return n;
}

async function main(): Promise<void> {
  const port = readPort(process.env[HOST_PORT_ENV]);
  const stateDir = path.resolve(process.env[HOST_STATE_ENV] || path.join('.sandbox-ports', 'state'));
  const secret = process.env[HOST_SECRET_ENV];
  if (!secret || secret.length < 16) throw new Error(`${HOST_SECRET_ENV} must be set to a secret of at least 16 characters (npm start makes one)`);
  delete process.env[HOST_SECRET_ENV];
  const support = probeIsolation();
  const isolated = support.mode === 'namespaces';
  const limits = probeLimits(readProbeInput(createHash('sha256').update(stateDir).digest('hex').slice(0, 10)));
  let relays: PortRelays | null = null;
  const supervisor = new AgentSupervisor({
    stateDir,
    agentScript: path.join(__dirname, 'agent.js'),
    baseEnv: agentBaseEnv(process.env),
    isolation: support.mode,
    system: isolated ? readSystemEntries() : [],
    ...(support.pasta ? { pasta: support.pasta } : {}),
    onExit: (key) => relays?.closeFor(key),
    limits: limits.driver,
    capacity: limits.capacity,
    // As root, isolated sandboxes run as users of their own; otherwise as the user running this.
    users: isolated && process.getuid?.() === 0 ? new SandboxUsers(stateDir) : null,
  });
  await supervisor.init();
  if (isolated) {
    relays = new PortRelays({
      secret: (key) => supervisor.state(key).secret,
      connect: (key, port) => supervisor.connectInside(key, port),
    });
  }
  const info: HostInfo = { isolation: support.mode, limits: limits.kind, capacity: limits.capacity };
  if (support.reason) info.reason = support.reason;
  if (limits.reason) info.limitsReason = limits.reason;
  const server = createHostServer(supervisor, secret, info, relays);
  const bound = await listen(server, port);
  if (!isolated) {
    // Said once, loudly: the sandboxes started here are plain processes.
    console.warn(`WARNING: sandboxes are NOT isolated (${support.reason}); they run as plain processes with your rights and share this machine's network.`);
  }
  if (!limits.driver) console.warn(`WARNING: sandboxes have NO limits on memory, processes or CPU (${limits.reason}).`);
  console.log(`container host listening on ${bound} (state in ${stateDir}; isolation: ${support.mode}; limits: ${limits.kind})`);
  process.send?.({ type: 'ready', port: bound });

  stopOnSignals('container host', async () => {
    server.closeAllConnections();
    server.close();
    relays?.closeAll();
    await supervisor.stopAll();
  });
}

function listen(server: http.Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

runMain('container host', main);
