/**
 * The control API's event stream (GET /api/v1/events): every change, so the extension never
 * polls while connected. Each event has a monotonically increasing `id` (also the SSE id) and an
 * ISO `time`. The SSE `event:` field is always `change`; `type` discriminates.
 */
import type { DetectedPort, ProcessInfo } from './process';
import type { ExposedPort, SandboxStatus, TunnelInfo } from './api';
import type { ResourceUsage, SandboxInstanceType, SandboxResources } from './resources';
import type { PortTraffic } from './traffic';

export type ControlEventBody =
  | { type: 'sandbox-created'; sandboxId: string; status: SandboxStatus; instanceType?: SandboxInstanceType; limits?: SandboxResources }
  | { type: 'sandbox-status'; sandboxId: string; status: SandboxStatus; reason?: string }
  | { type: 'sandbox-destroyed'; sandboxId: string }
  | { type: 'process-started'; sandboxId: string; process: ProcessInfo }
  | { type: 'process-exited'; sandboxId: string; process: ProcessInfo }
  | { type: 'processes-gone'; sandboxId: string; processIds: string[] }
  | { type: 'port-exposed'; sandboxId: string; port: ExposedPort }
  | { type: 'port-unexposed'; sandboxId: string; port: number }
  | { type: 'port-expired'; sandboxId: string; port: number }
  | { type: 'port-detected'; sandboxId: string; port: DetectedPort }
  | { type: 'port-closed'; sandboxId: string; port: number }
  | { type: 'tunnel-up'; sandboxId: string; tunnel: TunnelInfo }
  | { type: 'tunnel-down'; sandboxId: string; port: number }
  /** Memory use crossed the near-limit mark, or the kernel killed a process for memory. */
  | { type: 'sandbox-resources'; sandboxId: string; resources: ResourceUsage }
  /** The traffic inspector's count for an exposed port changed (at most about once a second per port). */
  | { type: 'port-traffic'; sandboxId: string; port: number; traffic: PortTraffic };

export type ControlEvent = ControlEventBody & { id: number; time: string };

export type ControlEventType = ControlEventBody['type'];

export const CONTROL_EVENT_NAME = 'change';
/** Sent first on every connection: the newest id, so a client knows where "now" is. */
export const HELLO_EVENT_NAME = 'hello';
/** Sent when a client resumes from an id older than the kept history: it should refetch state. */
export const RESET_EVENT_NAME = 'reset';
