/**
 * The agent API (Worker ↔ container). The agent listens on CONTROL_PORT inside the container;
 * locally the local container host runs one agent per sandbox on a loopback port of its own.
 * Bodies are JSON; errors are `ErrorBody` with the status from ERROR_STATUS.
 *
 *   GET    /health                                 → { ok: true, sandboxId }
 *   POST   /exec                  ExecRequest      → ExecResult
 *   POST   /processes             StartRequest     → ProcessInfo (201)
 *   GET    /processes                              → { processes: ProcessInfo[] }
 *   DELETE /processes                              → { killed: number }
 *   GET    /processes/:id                          → ProcessInfo
 *   DELETE /processes/:id?signal=SIGTERM           → 204
 *   GET    /processes/:id/logs                     → ProcessLogs
 *   GET    /processes/:id/logs/stream  Last-Event-ID → SSE of LogStreamEvent (event: log|truncated|exit)
 *   POST   /processes/:id/wait-for-port WaitForPortRequest → { ready: true }
 *   POST   /processes/:id/wait-for-log  WaitForLogRequest  → WaitForLogResult
 *   POST   /processes/:id/wait-for-exit { timeout? }       → { exitCode }
 *   PUT    /files?path=…&encoding=utf-8|base64  raw body   → { path, size } (201)
 *   GET    /files?path=…                          → raw bytes (application/octet-stream)
 *   POST   /mkdir                 { path, recursive? } → { path }
 *   POST   /checkout              CheckoutRequest  → { path }
 *   GET    /ports/detected                         → { ports: DetectedPort[] }
 *   GET    /ports/:port/listener                   → { listening, address? } (who holds the port)
 *   GET    /events                Last-Event-ID    → SSE of AgentEvent
 *   PUT    /tunnels/:port                         → TunnelInfo (starts cloudflared once; idempotent)
 *   GET    /tunnels                               → { tunnels: TunnelInfo[] }
 *   GET    /resources                             → ResourceUsage (what the sandbox uses, from its cgroup; 404 without one)
 *   DELETE /tunnels/:port                         → 204 (idempotent)
 */
import type { DetectedPort, ProcessInfo, WaitForPortOptions } from './process';
import type { TunnelInfo } from './api';
import type { ResourceUsage } from './resources';

export interface ExecRequest {
  command: string;
  cwd?: string;
  env?: Record<string, string>;
  timeout?: number;
}

export interface StartRequest {
  command: string;
  cwd?: string;
  env?: Record<string, string>;
  processId?: string;
}

export interface WaitForPortRequest extends WaitForPortOptions {
  port: number;
}

export interface WaitForLogRequest {
  pattern: string;
  /** When true, `pattern` is a RegExp source; `flags` are its flags. */
  regex?: boolean;
  flags?: string;
  timeout?: number;
}

export interface CheckoutRequest {
  repoUrl: string;
  branch?: string;
  targetDir?: string;
}

export interface ListenerInfo {
  listening: boolean;
  /** The address the port is bound to (e.g. 0.0.0.0, 127.0.0.1, ::). */
  address?: string;
  /**
   * Whose listener it is. Always the sandbox's in a container or namespaces; as plain processes
   * (the local fallback) the port may be held by another sandbox or program on the machine.
   */
  owner?: 'sandbox' | 'other';
  /** Who holds it, when that is not the sandbox: e.g. `pid 4121 (python3 -m http.server 8000)`. */
  holder?: string;
}

/**
 * SSE `event:` name of every AgentEvent on GET /events (the SSE id is the event's number). A
 * client whose Last-Event-ID is no longer in the agent's history (or comes from an earlier agent
 * run) first gets one `event: reset` (RESET_EVENT_NAME in events.ts) and should refetch state.
 */
export const AGENT_EVENT_NAME = 'agent';

/** Events the agent pushes to its Durable Object over GET /events. */
export type AgentEvent =
  | { type: 'process-started'; process: ProcessInfo }
  | { type: 'process-exited'; process: ProcessInfo }
  | { type: 'port-detected'; port: DetectedPort }
  | { type: 'port-closed'; port: number }
  | { type: 'tunnel-up'; tunnel: TunnelInfo }
  | { type: 'tunnel-down'; port: number; reason: string }
  /** Sent when memory use crosses MEMORY_NEAR_LIMIT (either way) and after every out-of-memory kill. */
  | { type: 'resources'; usage: ResourceUsage };

/** Environment variables the agent reads at start. */
export const AGENT_ENV = {
  /** Port to listen on (default 3000; the local host passes 0 and reads the real one). */
  PORT: 'SANDBOX_AGENT_PORT',
  /** Address to bind (default 0.0.0.0 in a container; the local host passes 127.0.0.1). */
  BIND: 'SANDBOX_AGENT_BIND',
  /** Folder that /workspace maps to (default /workspace). */
  WORKSPACE: 'SANDBOX_WORKSPACE',
  /** The sandbox id, for logs and health. */
  SANDBOX_ID: 'SANDBOX_ID',
  /** Per-process log buffer limit in bytes. */
  LOG_LIMIT: 'SANDBOX_LOG_LIMIT',
  /** File where the agent keeps the process-group ids it started, so its host can reap them. */
  PGID_FILE: 'SANDBOX_PGID_FILE',
  /** The cloudflared binary for tunnels (default: `cloudflared` on PATH). */
  CLOUDFLARED: 'SANDBOX_CLOUDFLARED',
  /** How long PUT /tunnels/:port waits for cloudflared's URL and readiness, milliseconds (default 30000). */
  TUNNEL_TIMEOUT_MS: 'SANDBOX_TUNNEL_TIMEOUT_MS',
  /** Interval of the listening-port scan, milliseconds. */
  PORT_SCAN_MS: 'SANDBOX_PORT_SCAN_MS',
  /**
   * The secret every request must carry in LOCAL_SECRET_HEADER (set by the local container host,
   * one per agent). Without it only the browser checks of the door apply (a container's port 3000
   * is reachable from its Durable Object alone).
   */
  SECRET: 'SANDBOX_AGENT_SECRET',
  /**
   * The sandbox's own environment as a JSON object of strings: what its commands see on top of
   * PATH, HOME and LANG. It never becomes the agent's own environment.
   */
  COMMAND_ENV: 'SANDBOX_COMMAND_ENV',
  /**
   * '1' when the agent runs in namespaces of its own (the local host's isolated mode, or a
   * container): every path it sees is the sandbox's, so file operations and `cwd` may name any
   * of them, not only paths under /workspace.
   */
  OWN_VIEW: 'SANDBOX_OWN_VIEW',
  /**
   * `uid:gid` the agent becomes before anything else, when the local host runs as root and starts
   * it as root inside the sandbox's namespaces (which root makes without a user namespace).
   */
  RUN_AS: 'SANDBOX_RUN_AS',
  /**
   * '1' when the cgroup the agent is in is the sandbox's own (the local host made it), '0' when it
   * is the host's (no limits): then its usage is not the sandbox's. Unset (a container): its own.
   */
  OWN_CGROUP: 'SANDBOX_OWN_CGROUP',
} as const;

/**
 * The header that carries the per-run secret to the local container host and to each local agent.
 * Browsers cannot add it to a cross-origin request without a CORS preflight, which neither answers.
 */
export const LOCAL_SECRET_HEADER = 'x-sandbox-secret';

/**
 * What the local container host says about a sandbox's agent (its start and state routes): the
 * one shape both the host and the Worker's stand-in read.
 */
export interface LocalAgentState {
  running: boolean;
  /** The agent's port: on this machine's loopback (plain), or inside the sandbox (namespaces). */
  port?: number;
  /** The process the host started (the agent, or bubblewrap around it). */
  pid?: number;
  /** What the Worker sends this agent in LOCAL_SECRET_HEADER (one per agent). */
  secret?: string;
  isolation?: 'namespaces' | 'none';
  /** Whether the sandbox has outbound network. */
  internet?: boolean;
  /** Isolated: the loopback port of the host's relay to the agent's port inside. */
  relayPort?: number;
}

/** Environment variable that gives the local container host its secret (read once, then removed). */
export const HOST_SECRET_ENV = 'SANDBOX_HOST_SECRET';

/** The folder sandbox paths are written against. */
export const WORKSPACE_ROOT = '/workspace';
