/**
 * The traffic inspector's page, in the panel's webview: a table of the exposure's requests that
 * follows what the extension host sends, filters, and a detail pane. It fetches nothing itself
 * (its Content-Security-Policy lets it reach nothing): every action is a message to the host,
 * which holds the token. Filters and the selection survive the panel being hidden (setState).
 */
import type { TrafficEntry, TrafficSummary } from '../../worker/protocol/index';
import type { FeedState } from '../core/traffic-feed';
import type { FromPage, ToPage } from '../core/traffic-messages';
import { NO_FILTER, formatDuration, formatSize, formatTime, matchesFilter, statusTone, type StatusClass, type TrafficFilter } from '../core/traffic-filter';
import { renderDetail } from './traffic-detail';
import { button, byId, clear, el } from './dom';

interface VsCodeApi {
  postMessage(message: FromPage): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

interface Saved {
  filter: TrafficFilter;
  selected?: number;
}

const vscode = acquireVsCodeApi();
const saved = (vscode.getState() as Saved | undefined) ?? { filter: NO_FILTER };
let filter: TrafficFilter = { ...NO_FILTER, ...saved.filter };
let selected: number | undefined = saved.selected;
let entries: TrafficSummary[] = [];
let state: FeedState = { kind: 'connecting' };
let exposureUrl = '';
let shownDetail: number | undefined;
/** The entry asked of the host and not yet answered (so a busy table does not ask again and again). */
let asked: number | undefined;

const rows = byId<HTMLTableSectionElement>('rows');
const empty = byId('empty');
const detail = byId('detail');
const banner = byId('banner');
const notice = byId('notice');
const pill = byId('state');
const count = byId('count');
const methodSelect = byId<HTMLSelectElement>('method');
const statusSelect = byId<HTMLSelectElement>('status');
const textInput = byId<HTMLInputElement>('text');

methodSelect.value = filter.method;
statusSelect.value = filter.status;
textInput.value = filter.text;

function save(): void {
  vscode.setState({ filter, ...(selected !== undefined ? { selected } : {}) } satisfies Saved);
}

function onFilter(): void {
  filter = { method: methodSelect.value, status: statusSelect.value as StatusClass, text: textInput.value };
  save();
  renderRows();
}
methodSelect.addEventListener('change', onFilter);
statusSelect.addEventListener('change', onFilter);
textInput.addEventListener('input', onFilter);
byId('clear').addEventListener('click', () => vscode.postMessage({ type: 'clear' }));
byId('copy-exposure-url').addEventListener('click', () => vscode.postMessage({ type: 'copy-url' }));

function select(id: number | undefined): void {
  selected = id;
  save();
  rows.querySelectorAll('tr').forEach((row) => row.setAttribute('aria-selected', String(Number(row.dataset.id) === id)));
  if (id === undefined) {
    detail.hidden = true;
    shownDetail = undefined;
    return;
  }
  if (shownDetail !== id) ask(id);
}

function ask(id: number): void {
  if (asked === id) return;
  asked = id;
  vscode.postMessage({ type: 'select', id });
}

function renderRows(): void {
  const visible = entries.filter((e) => matchesFilter(e, filter));
  clear(rows);
  for (const e of visible) rows.append(row(e));
  count.textContent = visible.length === entries.length ? `${entries.length} requests` : `${visible.length} of ${entries.length} requests`;
  empty.hidden = visible.length > 0 || state.kind === 'off' || state.kind === 'ended';
  empty.textContent = entries.length === 0 ? `No requests yet. Requests to ${exposureUrl || 'the preview URL'} show here as they finish.` : 'No request matches the filters.';
}

function row(e: TrafficSummary): HTMLTableRowElement {
  const size = e.websocket ? `${formatSize(e.websocket.bytesIn + e.websocket.bytesOut)} ws` : formatSize(e.bytesOut);
  const tr = el(
    'tr',
    { 'data-id': String(e.id), tabindex: '0', 'aria-selected': String(e.id === selected), class: e.answeredBy === 'proxy' ? 'proxy' : undefined },
    el('td', { class: 'time' }, formatTime(e.time)),
    el('td', { class: 'method' }, e.method),
    // The replay mark first: a long path is cut at its end.
    el('td', { class: 'path', title: e.path }, e.replayOf !== undefined ? el('span', { class: 'tag' }, `replay of #${e.replayOf}`) : null, e.path),
    el(
      'td',
      { class: `status tone-${statusTone(e)}`, title: e.answeredBy === 'proxy' ? `answered by the preview proxy${e.code ? `: ${e.code}` : ''}` : undefined },
      String(e.status),
    ),
    el(
      'td',
      { class: 'num', title: e.endUnseen ? 'followed to its first MiB or 10 s; the rest streamed on, not followed' : undefined },
      `${e.endUnseen ? '≥ ' : ''}${formatDuration(e.totalMs)}`,
    ),
    el('td', { class: 'num' }, size),
  );
  tr.addEventListener('click', () => select(e.id));
  tr.addEventListener('keydown', (ev) => {
    const to = ev.key === 'ArrowDown' ? tr.nextElementSibling : ev.key === 'ArrowUp' ? tr.previousElementSibling : ev.key === 'Enter' ? tr : null;
    if (!(to instanceof HTMLTableRowElement)) return;
    ev.preventDefault();
    to.focus();
    select(Number(to.dataset.id));
  });
  return tr;
}

function renderState(): void {
  const words: Record<FeedState['kind'], string> = {
    connecting: 'Connecting…',
    live: 'Live',
    reconnecting: 'Reconnecting…',
    off: 'Not recording',
    ended: 'Ended',
    failed: 'Refused',
  };
  pill.textContent = words[state.kind];
  pill.className = `pill pill-${state.kind}`;
  clear(banner);
  const say = (text: string, retry: boolean) => {
    banner.append(el('span', {}, text));
    if (retry) banner.append(button('Retry', () => vscode.postMessage({ type: 'retry' }), { class: 'secondary' }));
  };
  if (state.kind === 'reconnecting') say(`Lost the live stream (${state.error}); trying again in ${Math.ceil(state.retryInMs / 1000)} s. Nothing is missed meanwhile.`, true);
  else if (state.kind === 'off') say(`${state.reason}. Nothing is recorded for this port.`, false);
  else if (state.kind === 'ended') say(`${state.reason}. What was recorded is gone with it.`, true);
  else if (state.kind === 'failed') say(`The Worker refused the token: ${state.error}`, true);
  banner.hidden = banner.childElementCount === 0;
}

function showDetail(e: TrafficEntry): void {
  if (asked === e.id) asked = undefined;
  if (e.id !== selected) return;
  shownDetail = e.id;
  clear(detail);
  detail.append(
    renderDetail(e, {
      replay: (id) => vscode.postMessage({ type: 'replay', id }),
      copyCurl: (id) => vscode.postMessage({ type: 'copy-curl', id }),
      copyUrl: (id) => vscode.postMessage({ type: 'copy-url', id }),
      select: (id) => select(id),
    }),
  );
  detail.hidden = false;
}

let noticeTimer: ReturnType<typeof setTimeout> | undefined;
function showNotice(text: string, tone: 'info' | 'error'): void {
  notice.textContent = text;
  notice.className = `notice notice-${tone}`;
  notice.hidden = false;
  if (noticeTimer) clearTimeout(noticeTimer);
  if (tone === 'info') noticeTimer = setTimeout(() => (notice.hidden = true), 4000);
}

window.addEventListener('message', (ev: MessageEvent<ToPage>) => {
  const msg = ev.data;
  switch (msg?.type) {
    case 'exposure':
      exposureUrl = msg.url;
      byId('label').textContent = `${msg.label} · ${msg.sandboxId}`;
      byId('url').textContent = msg.url;
      renderRows();
      break;
    case 'view': {
      entries = msg.entries;
      state = msg.state;
      renderState();
      renderRows();
      if (selected !== undefined && shownDetail !== selected && entries.some((e) => e.id === selected)) ask(selected);
      break;
    }
    case 'detail':
      showDetail(msg.entry);
      break;
    case 'detail-missing':
      if (asked === msg.id) asked = undefined;
      if (msg.id === selected) {
        clear(detail);
        detail.append(el('p', { class: 'muted' }, msg.message));
        detail.hidden = false;
        shownDetail = undefined;
      }
      break;
    case 'select':
      select(msg.id);
      break;
    case 'notice':
      showNotice(msg.text, msg.tone);
      break;
  }
});

vscode.postMessage({ type: 'ready' });
