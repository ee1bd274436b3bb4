import { ErrorCode, SandboxError } from './errors';

/** The agent's control server inside every sandbox; never exposed. */
export const CONTROL_PORT = 3000;
export const MIN_USER_PORT = 1024;
export const MAX_USER_PORT = 65535;

/**
 * Port rules for exposePort, wsConnect and tunnels (SPEC 2.3). Accepts numbers and numeric
 * strings from URL paths; anything else is refused with the SPEC's message.
 */
export function checkUserPort(value: unknown): number {
  const port = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (port === CONTROL_PORT) {
    throw new SandboxError(ErrorCode.RESERVED_PORT, `Port ${CONTROL_PORT} is reserved for the sandbox control plane. Use a different port (1024-65535, except ${CONTROL_PORT})`);
  }
  if (typeof port !== 'number' || !Number.isInteger(port) || port < MIN_USER_PORT || port > MAX_USER_PORT) {
    throw new SandboxError(ErrorCode.INVALID_PORT, `Invalid port number: ${String(value)}. Must be 1024-65535`);
  }
  return port;
}

/** Port rules for readiness probes: any TCP port a process may listen on (1-65535). */
export function checkProbePort(value: unknown): number {
  const port = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > MAX_USER_PORT) {
    throw new SandboxError(ErrorCode.INVALID_PORT, `Invalid port number: ${String(value)}. Must be 1-65535`);
  }
  return port;
}

/**
 * True for an address only this machine (or only the sandbox itself) can reach: 127.0.0.0/8, ::1,
 * and IPv4 loopback written as an IPv4-mapped IPv6 address in dotted form (`::ffff:127.0.0.1`, the
 * spelling the agent reports for a socket bound through an IPv6 API). A service listening only
 * there is unreachable from outside the sandbox, as on Cloudflare: the agent ranks addresses with
 * this rule, the Worker's 502 gives its hint by it, and the extension warns before exposing.
 */
export function isLoopbackAddress(address: string): boolean {
  const v4 = address.toLowerCase().startsWith('::ffff:') ? address.slice(7) : address;
  return v4.startsWith('127.') || address === '::1';
}
