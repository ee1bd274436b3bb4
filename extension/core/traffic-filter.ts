/**
 * The inspector table's filters (method, status class, text) and the words and numbers its rows
 * show. Pure: the webview page runs it in the browser, and unit tests in Node.
 */
import type { TrafficSummary } from '../../worker/protocol/index';

export type StatusClass = 'all' | '2xx' | '3xx' | '4xx' | '5xx' | 'proxy' | 'errors';

export interface TrafficFilter {
  /** Empty or 'all': every method. */
  method: string;
  status: StatusClass;
  /** Matched, case-insensitively, against the path, the method, the status and the proxy's code. */
  text: string;
}

export const NO_FILTER: TrafficFilter = { method: 'all', status: 'all', text: '' };

export function matchesFilter(e: TrafficSummary, f: TrafficFilter): boolean {
  if (f.method && f.method !== 'all' && e.method !== f.method) return false;
  if (!matchesStatus(e, f.status)) return false;
  const text = f.text.trim().toLowerCase();
  if (!text) return true;
  return [e.path, e.method, String(e.status), e.code ?? '', e.error ?? ''].some((field) => field.toLowerCase().includes(text));
}

function matchesStatus(e: TrafficSummary, status: StatusClass): boolean {
  switch (status) {
    case 'all':
      return true;
    case 'proxy':
      return e.answeredBy === 'proxy';
    case 'errors':
      return e.status >= 400 || e.error !== undefined;
    default:
      return Math.floor(e.status / 100) === Number(status[0]);
  }
}

/** The colour class of a status: the page maps it to the theme's colours. */
export function statusTone(e: TrafficSummary): 'ok' | 'redirect' | 'client-error' | 'server-error' | 'info' {
  if (e.status >= 500 || (e.error && e.status < 400)) return 'server-error';
  if (e.status >= 400) return 'client-error';
  if (e.status >= 300) return 'redirect';
  if (e.status >= 200) return 'ok';
  return 'info';
}

/** `850 ms`, `1.2 s`, `2 min 5 s`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${s % 60} s`;
}

/**
 * `0 B`, `512 B`, `1.5 KiB`, `3.2 MiB`: to the byte below a KiB (a request's size matters there),
 * where protocol's formatBytes, made for memory limits, rounds to whole KiB.
 */
export function formatSize(bytes: number, atLeast = false): string {
  const prefix = atLeast ? '≥ ' : '';
  if (bytes < 1024) return `${prefix}${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let n = bytes / 1024;
  let unit = 0;
  while (n >= 1024 && unit < units.length - 1) {
    n /= 1024;
    unit++;
  }
  return `${prefix}${n.toFixed(n < 10 ? 1 : 0)} ${units[unit]}`;
}

/** `14:03:07.123`: the local time of a request, to the millisecond (requests come close together). */
export function formatTime(iso: string): string {
  const d = new Date(iso);
  if (!Number.isFinite(d.getTime())) return iso;
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

/** A body for the detail pane: JSON pretty-printed when it parses, other text as it came. */
export function prettyBody(text: string, contentType: string | undefined): { text: string; json: boolean } {
  const looksJson = /json/i.test(contentType ?? '') || /^\s*[[{]/.test(text);
  if (!looksJson) return { text, json: false };
  try {
    return { text: JSON.stringify(JSON.parse(text), null, 2), json: true };
  } catch {
    return { text, json: false };
  }
}
