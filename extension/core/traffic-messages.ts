/**
 * What the inspector panel (extension host) and its page (the webview) say to each other. The page
 * is untrusted as far as the host is concerned: every message from it goes through
 * parsePageMessage, and anything else is dropped.
 */
import { TICKET_PARAM, type TrafficEntry, type TrafficSummary } from '../../worker/protocol/index';
import type { FeedState } from './traffic-feed';

export type ToPage =
  /** Which exposure the page shows (sent when the page is ready: first, and each time it is shown again). */
  | { type: 'exposure'; sandboxId: string; port: number; label: string; url: string }
  | { type: 'view'; entries: TrafficSummary[]; state: FeedState }
  | { type: 'detail'; entry: TrafficEntry }
  /** The selected entry could not be fetched (no longer kept, or the Worker is away). */
  | { type: 'detail-missing'; id: number; message: string }
  /** Select this entry (the replay the person just sent). */
  | { type: 'select'; id: number }
  /** A line under the toolbar: what an action did, or why it failed. */
  | { type: 'notice'; text: string; tone: 'info' | 'error' };

export type FromPage =
  | { type: 'ready' }
  | { type: 'select'; id: number }
  | { type: 'replay'; id: number }
  | { type: 'copy-curl'; id: number }
  /** The request's URL (`id`), or the exposure's (no id). */
  | { type: 'copy-url'; id?: number }
  | { type: 'clear' }
  | { type: 'retry' };

const WITH_ID = new Set(['select', 'replay', 'copy-curl']);
const PLAIN = new Set(['ready', 'clear', 'retry']);

function isId(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 1;
}

/** A message from the page, or undefined when it is not one the host takes. */
export function parsePageMessage(raw: unknown): FromPage | undefined {
  if (!raw || typeof raw !== 'object') return undefined;
  const { type, id } = raw as { type?: unknown; id?: unknown };
  if (typeof type !== 'string') return undefined;
  if (PLAIN.has(type)) return { type } as FromPage;
  if (WITH_ID.has(type)) return isId(id) ? ({ type, id } as FromPage) : undefined;
  if (type === 'copy-url') return id === undefined ? { type } : isId(id) ? { type, id } : undefined;
  return undefined;
}

/** The URL a recorded request went to, without the redacted ticket parameter (a person opens or shares it). */
export function requestUrl(exposureUrl: string, path: string): string {
  const url = new URL(path.replace(/^\/*/, '/'), exposureUrl);
  url.searchParams.delete(TICKET_PARAM);
  return url.toString();
}
