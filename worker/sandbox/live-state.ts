/**
 * What a running sandbox has right now, as its agent reports it: running processes, detected
 * ports and quick tunnels. No I/O: the Durable Object's event pump feeds agent events in and
 * publishes what `applyAgentEvent` answers, so plain Node tests cover every event. (getTunnel
 * and destroyTunnel also record their own answer at once, before the agent's event arrives.)
 */
import type { AgentEvent, ControlEventBody, DetectedPort, ProcessInfo, TunnelInfo } from '../protocol/index';

export class LiveState {
  readonly running = new Map<string, ProcessInfo>();
  readonly detected = new Map<number, DetectedPort>();
  /** Quick tunnels live in the container: they end with it. */
  readonly tunnels = new Map<number, TunnelInfo>();

  /** The agent's full answer after a (re)connect replaces everything known. */
  reset(processes: readonly ProcessInfo[], ports: readonly DetectedPort[], tunnels: readonly TunnelInfo[]): void {
    this.clear();
    for (const p of processes) if (p.status === 'running') this.running.set(p.id, p);
    for (const p of ports) this.detected.set(p.port, p);
    for (const t of tunnels) this.tunnels.set(t.port, t);
  }

  /** The container stopped: answers what ended with it. */
  clear(): { processIds: string[]; tunnelPorts: number[] } {
    const ended = { processIds: [...this.running.keys()], tunnelPorts: [...this.tunnels.keys()] };
    this.running.clear();
    this.detected.clear();
    this.tunnels.clear();
    return ended;
  }
}

/** Applies one agent event to the state and answers the control event to publish (null: none). */
export function applyAgentEvent(state: LiveState, sandboxId: string, event: AgentEvent): ControlEventBody | null {
  switch (event.type) {
    case 'process-started':
      state.running.set(event.process.id, event.process);
      break;
    case 'process-exited':
      state.running.delete(event.process.id);
      break;
    case 'port-detected':
      state.detected.set(event.port.port, event.port);
      break;
    case 'port-closed':
      state.detected.delete(event.port);
      break;
    case 'tunnel-up':
      state.tunnels.set(event.tunnel.port, event.tunnel);
      break;
    case 'tunnel-down':
      // The agent's reason stays in its log; clients learn only that the tunnel is gone.
      state.tunnels.delete(event.port);
      return { type: 'tunnel-down', sandboxId, port: event.port };
    case 'resources':
      return { type: 'sandbox-resources', sandboxId, resources: event.usage };
    default:
      return null;
  }
  // The other events reach clients as they are, with the sandbox named.
  return { ...event, sandboxId };
}
