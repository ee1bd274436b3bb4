/**
 * The extension's picture of the world: SandboxState per sandbox id, advanced by ControlEvents.
 * Pure: every function answers a new object and leaves its inputs alone.
 */
import type { ControlEvent, DetectedPort, ExposedPort, ProcessInfo, SandboxState, TunnelInfo } from '../../worker/protocol/index';

export type WorldState = Readonly<Record<string, SandboxState>>;

export const EMPTY_WORLD: WorldState = Object.freeze({});

/** The world made of full states fetched from GET /sandboxes/:id. */
export function worldFrom(states: readonly SandboxState[]): WorldState {
  const out: Record<string, SandboxState> = {};
  for (const s of states) out[s.id] = s;
  return out;
}

function emptySandbox(id: string, event: ControlEvent): SandboxState {
  return { id, status: 'starting', createdAt: event.time, processes: [], ports: [], detectedPorts: [], tunnels: [] };
}

function upsert<T>(list: readonly T[], item: T, same: (a: T) => boolean, order?: (a: T, b: T) => number): T[] {
  const out = list.filter((x) => !same(x));
  out.push(item);
  return order ? out.sort(order) : out;
}

const byPort = (a: { port: number }, b: { port: number }) => a.port - b.port;

/** Applies one event. Unknown sandboxes appear on their first event; unknown event types change nothing. */
export function reduce(world: WorldState, event: ControlEvent): WorldState {
  if (event.type === 'sandbox-destroyed') {
    if (!(event.sandboxId in world)) return world;
    const { [event.sandboxId]: _gone, ...rest } = world;
    return rest;
  }
  const before = world[event.sandboxId] ?? emptySandbox(event.sandboxId, event);
  const after = reduceSandbox(before, event);
  if (after === before && event.sandboxId in world) return world;
  return { ...world, [event.sandboxId]: after };
}

function reduceSandbox(s: SandboxState, event: ControlEvent): SandboxState {
  switch (event.type) {
    case 'sandbox-created':
      return { ...s, status: event.status, ...(event.limits ? { instanceType: event.instanceType, limits: event.limits } : {}) };
    case 'sandbox-status': {
      if (event.status === 'running') return { ...s, status: event.status };
      // A stopped sandbox listens on nothing and uses nothing; the Worker forgets its detected ports too.
      const { resources: _gone, ...rest } = s;
      return { ...rest, status: event.status, detectedPorts: [] };
    }
    case 'sandbox-resources':
      return { ...s, resources: event.resources };
    case 'process-started':
    case 'process-exited':
      return { ...s, processes: upsert<ProcessInfo>(s.processes, event.process, (p) => p.id === event.process.id) };
    case 'processes-gone': {
      const gone = new Set(event.processIds);
      return {
        ...s,
        processes: s.processes.map((p) => (gone.has(p.id) && p.status === 'running' ? { ...p, status: 'killed', endTime: event.time } : p)),
        detectedPorts: s.detectedPorts.filter((d) => d.processId === null || !gone.has(d.processId)),
      };
    }
    case 'port-exposed':
      return { ...s, ports: upsert<ExposedPort>(s.ports, event.port, (p) => p.port === event.port.port, byPort) };
    case 'port-unexposed':
    case 'port-expired':
      return { ...s, ports: s.ports.filter((p) => p.port !== event.port) };
    case 'port-detected':
      return { ...s, detectedPorts: upsert<DetectedPort>(s.detectedPorts, event.port, (p) => p.port === event.port.port, byPort) };
    case 'port-traffic':
      return { ...s, ports: s.ports.map((p) => (p.port === event.port ? { ...p, traffic: event.traffic } : p)) };
    case 'port-closed':
      return { ...s, detectedPorts: s.detectedPorts.filter((p) => p.port !== event.port) };
    case 'tunnel-up':
      return { ...s, tunnels: upsert<TunnelInfo>(s.tunnels, event.tunnel, (t) => t.port === event.tunnel.port, byPort) };
    case 'tunnel-down':
      return { ...s, tunnels: s.tunnels.filter((t) => t.port !== event.port) };
    default:
      return s;
  }
}

/** Replaces one sandbox's state with a fetched one (or removes it when the fetch said it is gone). */
export function withSandbox(world: WorldState, id: string, state: SandboxState | null): WorldState {
  if (state) return { ...world, [id]: state };
  if (!(id in world)) return world;
  const { [id]: _gone, ...rest } = world;
  return rest;
}
