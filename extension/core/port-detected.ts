/**
 * What to do when a sandbox process starts listening on a new port: the port's attributes
 * (`onDetect`) when they say, else the setting `sandboxPorts.onPortDetected`.
 */
import { isLoopbackAddress, type ControlEvent } from '../../worker/protocol/index';
import { PORT_DETECTED_ACTIONS, attributesFor, type AttributeRule, type OnDetect } from './port-attributes';
import type { WorldState } from './state-reducer';

export type PortDetectedAction = (typeof PORT_DETECTED_ACTIONS)[number];

export function portDetectedAction(value: unknown): PortDetectedAction {
  return (PORT_DETECTED_ACTIONS as readonly unknown[]).includes(value) ? (value as PortDetectedAction) : 'notify';
}

export interface PortDetectedDecision {
  action: Exclude<OnDetect, 'silent' | 'ignore'> | 'none';
  sandboxId: string;
  port: number;
  processId: string | null;
  address: string;
  label?: string;
}

/**
 * Decides for one applied event. Nothing for ports already exposed, ports the user chose to
 * ignore, ports whose attributes say `silent` or `ignore`, or ports bound to loopback only (a
 * preview could not reach them anyway).
 */
export function decidePortDetected(
  event: ControlEvent,
  world: WorldState,
  setting: PortDetectedAction,
  ignored: ReadonlySet<string>,
  rules: readonly AttributeRule[] = [],
): PortDetectedDecision | null {
  if (event.type !== 'port-detected') return null;
  const { port, processId, address } = event.port;
  const attributes = attributesFor(rules, port);
  const base = { sandboxId: event.sandboxId, port, processId, address, ...(attributes.label ? { label: attributes.label } : {}) };
  const sandbox = world[event.sandboxId];
  const exposed = sandbox?.ports.some((p) => p.port === port) ?? false;
  const action = attributes.onDetect ?? setting;
  if (exposed || isLoopbackAddress(address) || ignored.has(ignoreKey(event.sandboxId, port)) || action === 'silent' || action === 'ignore') return { ...base, action: 'none' };
  return { ...base, action };
}

export function ignoreKey(sandboxId: string, port: number): string {
  return `${sandboxId}:${port}`;
}
