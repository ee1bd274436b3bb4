/**
 * The connection to the Worker as a person sees it: connected to which Worker, reconnecting (and
 * when the next try is), or not connected. Pure: the event stream's status changes go in, the
 * words for the view's description, its message and the status bar come out, so plain Node tests
 * cover every state and the VS Code side only copies strings.
 */
import type { StreamStatusChange } from './event-stream';
import { clockTime } from './format';

export type LinkKind = 'disconnected' | 'connecting' | 'connected' | 'reconnecting' | 'refused';

export interface LinkState {
  kind: LinkKind;
  /** The Worker's origin, e.g. http://127.0.0.1:8787. */
  url?: string;
  /** When the live stream was lost (reconnecting): what the tree shows is as of then. */
  lostAt?: number;
  /** When the next attempt starts (reconnecting, while waiting). */
  retryAt?: number;
  /** Why the stream was lost or refused, in the error's words. */
  reason?: string;
}

export const DISCONNECTED: LinkState = Object.freeze({ kind: 'disconnected' });

export function connecting(url: string): LinkState {
  return { kind: 'connecting', url };
}

export interface LinkStep {
  next: LinkState;
  /** True exactly once per outage: the stream is back after being lost. */
  reconnected: boolean;
}

/** Advances the state with one status change of the event stream. */
export function linkOnStream(prev: LinkState, change: StreamStatusChange, now: number): LinkStep {
  const url = prev.url;
  const base = url === undefined ? {} : { url };
  const lost = prev.kind === 'reconnecting';
  switch (change.status) {
    case 'connected':
      return { next: { kind: 'connected', ...base }, reconnected: lost };
    case 'connecting':
      // A first connect stays "connecting"; an attempt after a loss is still "reconnecting".
      if (lost) return { next: { ...prev, retryAt: undefined }, reconnected: false };
      return { next: prev.kind === 'connected' ? prev : { kind: 'connecting', ...base }, reconnected: false };
    case 'waiting':
      return {
        next: {
          kind: 'reconnecting',
          ...base,
          lostAt: lost ? prev.lostAt : now,
          retryAt: now + (change.retryInMs ?? 0),
          reason: messageOf(change.error) ?? prev.reason,
        },
        reconnected: false,
      };
    case 'failed':
      return { next: { kind: 'refused', ...base, lostAt: prev.lostAt ?? now, reason: messageOf(change.error) }, reconnected: false };
    case 'stopped':
    default:
      return { next: prev, reconnected: false };
  }
}

/** The outage line's list with one more failed command: each once, the latest last, at most three. */
export function withOutageError(list: readonly string[], title: string): string[] {
  const what = title.toLowerCase();
  return [...list.filter((e) => e !== what), what].slice(-3);
}

/** True while the tree shows what was known before the stream was lost. */
export function isStale(state: LinkState): boolean {
  return (state.kind === 'reconnecting' || state.kind === 'refused') && state.lostAt !== undefined;
}

export interface LinkTexts {
  /** The view's description, beside its title. */
  description: string;
  /** The status-bar item's text (with a codicon). */
  status: string;
  /** The status-bar item's tooltip. */
  tooltip: string;
  /** A line above the tree, or undefined for none. */
  message?: string;
}

/** `127.0.0.1:8787` for `http://127.0.0.1:8787`: what a person reads. */
export function hostOf(url: string | undefined): string {
  if (!url) return '';
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

export function linkTexts(state: LinkState, now: number, outageErrors: readonly string[] = []): LinkTexts {
  const host = hostOf(state.url);
  switch (state.kind) {
    case 'connected':
      return { description: host, status: `$(plug) ${host}`, tooltip: `Sandbox Ports: connected to ${state.url} (live updates)` };
    case 'connecting':
      return { description: `connecting to ${host}…`, status: `$(sync~spin) ${host}`, tooltip: `Sandbox Ports: connecting to ${state.url}…` };
    case 'reconnecting': {
      const when = state.retryAt === undefined ? 'reconnecting now…' : `reconnecting in ${Math.max(1, Math.ceil((state.retryAt - now) / 1000))} s`;
      const asOf = state.lostAt === undefined ? '' : ` at ${clockTime(state.lostAt)}`;
      const errors = outageErrors.length > 0 ? ` Not done while disconnected: ${outageErrors.join('; ')}.` : '';
      return {
        description: `${host}: ${when}`,
        status: `$(sync~spin) ${host}: ${when}`,
        tooltip: `Sandbox Ports: lost the connection to ${state.url}${asOf}${state.reason ? ` (${state.reason})` : ''}; ${when}. Click to retry now.`,
        message: `Lost the connection to ${host}${asOf}${state.reason ? ` (${state.reason})` : ''}. Showing what was known then; ${when}.${errors}`,
      };
    }
    case 'refused':
      return {
        description: `${host}: token refused`,
        status: `$(error) ${host}: token refused`,
        tooltip: `Sandbox Ports: ${state.url} refused the token. Click to connect again.`,
        message: `${host} refused the token${state.reason ? ` (${state.reason})` : ''}. Connect again with the right token.`,
      };
    case 'disconnected':
    default:
      return { description: 'not connected', status: '$(debug-disconnect) Sandboxes: not connected', tooltip: 'Sandbox Ports: not connected. Click to connect.' };
  }
}

function messageOf(error: unknown): string | undefined {
  if (error === undefined || error === null) return undefined;
  const text = error instanceof Error ? error.message : String(error);
  return text.length > 120 ? `${text.slice(0, 119)}…` : text;
}
