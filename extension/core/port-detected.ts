/** What to do when a sandbox process starts listening on a new port (setting sandboxPorts.onPortDetected). */
import type { ControlEvent } from '../../worker/protocol/index';
import type { WorldState } from './state-reducer';

export const PORT_DETECTED_ACTIONS = ['notify', 'expose', 'exposeAndOpen', 'silent'] as const;
export type PortDetectedAction = (typeof PORT_DETECTED_ACTIONS)[number];

export function portDetectedAction(value: unknown): PortDetectedAction {
  return (PORT_DETECTED_ACTIONS as readonly unknown[]).includes(value) ? (value as PortDetectedAction) : 'notify';
}

export interface PortDetectedDecision {
  action: PortDetectedAction | 'none';
  sandboxId: string;
  port: number;
  processId: string | null;
  address: string;
}

/**
 * Decides for one applied event. Nothing for ports already exposed, ports the user chose to
 * ignore, or ports bound to loopback only (a preview could not reach them anyway).
 */
export function decidePortDetected(event: ControlEvent, world: WorldState, setting: PortDetectedAction, ignored: ReadonlySet<string>): PortDetectedDecision | null {
  if (event.type !== 'port-detected') return null;
  const { port, processId, address } = event.port;
  const base = { sandboxId: event.sandboxId, port, processId, address };
  const sandbox = world[event.sandboxId];
  const exposed = sandbox?.ports.some((p) => p.port === port) ?? false;
  const loopback = address === '127.0.0.1' || address === '::1';
  if (exposed || loopback || ignored.has(ignoreKey(event.sandboxId, port)) || setting === 'silent') return { ...base, action: 'none' };
  return { ...base, action: setting };
}

export function ignoreKey(sandboxId: string, port: number): string {
  return `${sandboxId}:${port}`;
}
