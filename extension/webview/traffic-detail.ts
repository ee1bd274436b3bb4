/**
 * The inspector page's detail pane for one request: what came and went, its timing and sizes,
 * headers, the bodies as text (JSON pretty-printed) or by size when binary, and the actions.
 */
import type { CapturedBody, TrafficEntry } from '../../worker/protocol/index';
import { formatDuration, formatSize, formatTime, prettyBody, statusTone } from '../core/traffic-filter';
import { button, el } from './dom';

export interface DetailActions {
  replay(id: number): void;
  copyCurl(id: number): void;
  copyUrl(id: number): void;
  select(id: number): void;
}

/** Why Replay cannot send this request again as it was (undefined: it can). */
export function replayBlocked(e: TrafficEntry): string | undefined {
  if (e.websocket || e.status === 101) return 'A WebSocket session: open a new one instead';
  if (e.requestBody.truncated) return 'Its body was not kept whole (the inspector keeps the first 64 KiB)';
  if (e.requestBody.kind === 'binary') return 'Its body is binary, which the inspector keeps only by size';
  return undefined;
}

export function renderDetail(e: TrafficEntry, actions: DetailActions): HTMLElement {
  const blocked = replayBlocked(e);
  const head = el(
    'div',
    { class: 'detail-head' },
    el('span', { class: `status tone-${statusTone(e)}` }, String(e.status)),
    el('span', { class: 'method' }, e.method),
    el('span', { class: 'detail-path', title: e.path }, e.path),
  );
  const toolbar = el(
    'div',
    { class: 'actions' },
    button('Replay', () => actions.replay(e.id), { id: 'replay', ...(blocked ? { disabled: '', title: blocked } : { title: 'Send this request to the service again' }) }),
    button('Copy as curl', () => actions.copyCurl(e.id), { id: 'copy-curl', class: 'secondary' }),
    button('Copy URL', () => actions.copyUrl(e.id), { id: 'copy-request-url', class: 'secondary' }),
  );
  const facts: (HTMLElement | null)[] = [
    line('Request', `#${e.id}, arrived ${formatTime(e.time)}`),
    e.replayOf !== undefined ? linkLine('Replay of', `#${e.replayOf}`, () => actions.select(e.replayOf!)) : null,
    line('Answered by', e.answeredBy === 'proxy' ? `the preview proxy${e.code ? ` (${e.code})` : ''}` : 'the service'),
    line(
      'Timing',
      `headers after ${formatDuration(e.ttfbMs)}, ` +
        (e.endUnseen ? `followed for ${formatDuration(e.totalMs)} (to its first MiB or 10 s; the rest streamed on, not followed)` : `done after ${formatDuration(e.totalMs)}`),
    ),
    line('Sizes', `${formatSize(e.bytesIn, e.requestBody.sizeUnknown)} in, ${formatSize(e.bytesOut, e.responseBody.sizeUnknown)} out`),
    e.websocket
      ? line(
          'WebSocket',
          `${e.websocket.framesIn} frames (${formatSize(e.websocket.bytesIn)}) in, ${e.websocket.framesOut} frames (${formatSize(e.websocket.bytesOut)}) out` +
            (e.websocket.closeCode !== undefined ? `, closed ${e.websocket.closeCode}${e.websocket.closeReason ? ` (${e.websocket.closeReason})` : ''}` : ', still open'),
        )
      : null,
    e.error ? line('Broke off', e.error, 'error') : null,
    e.redacted.length > 0 ? line('Not kept', `${e.redacted.join(', ')} (credentials are never recorded)`) : null,
  ];
  return el(
    'div',
    { class: 'detail-inner' },
    head,
    toolbar,
    blocked ? el('p', { class: 'muted' }, `Replay is not possible: ${blocked}.`) : null,
    el('dl', { class: 'facts' }, ...facts),
    section('Request headers', headers(e.requestHeaders)),
    section('Request body', body(e.requestBody)),
    section('Response headers', headers(e.responseHeaders)),
    section('Response body', body(e.responseBody)),
  );
}

function line(term: string, text: string, tone?: string): HTMLElement {
  return el('div', {}, el('dt', {}, term), el('dd', tone ? { class: tone } : {}, text));
}

function linkLine(term: string, text: string, onClick: () => void): HTMLElement {
  const a = el('a', { href: '#', class: 'link' }, text);
  a.addEventListener('click', (ev) => {
    ev.preventDefault();
    onClick();
  });
  return el('div', {}, el('dt', {}, term), el('dd', {}, a));
}

function section(title: string, content: HTMLElement): HTMLElement {
  return el('details', { open: '', class: 'section' }, el('summary', {}, title), content);
}

function headers(pairs: [string, string][]): HTMLElement {
  if (pairs.length === 0) return el('p', { class: 'muted' }, 'None');
  return el('table', { class: 'headers' }, el('tbody', {}, ...pairs.map(([k, v]) => el('tr', {}, el('th', {}, k), el('td', {}, v)))));
}

function body(b: CapturedBody): HTMLElement {
  const size = formatSize(b.size, b.sizeUnknown);
  if (b.kind === 'none') return el('p', { class: 'muted' }, b.truncated ? 'Broke off before any of it came' : 'No body');
  if (b.kind === 'binary') return el('p', { class: 'muted' }, `Binary, ${size}${b.contentType ? ` (${b.contentType})` : ''}: kept by size and type only`);
  const pretty = prettyBody(b.text ?? '', b.contentType);
  return el(
    'div',
    {},
    b.truncated ? el('p', { class: 'muted' }, `The first ${formatSize(new TextEncoder().encode(b.text ?? '').length)} of ${size}: the rest was not kept`) : null,
    el('pre', { class: `body${pretty.json ? ' json' : ''}` }, pretty.text),
  );
}
