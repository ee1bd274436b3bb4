/**
 * The inspector's live stream for one exposure (GET …/ports/:port/requests/stream): `hello` with the
 * newest id, then one `request` event (a TrafficSummary, its id as the SSE id) per request as it
 * finishes. A client resuming with Last-Event-ID gets exactly what it missed, or `reset` (the
 * records were cleared, or what it missed is no longer kept) and should fetch the list again.
 * When the exposure ends the stream says `ended` and closes.
 */
import { HELLO_EVENT_NAME, SSE_KEEPALIVE, TRAFFIC_EVENT_NAME, TRAFFIC_RESET_EVENT_NAME, formatSse, summarize, type TrafficEntry } from '../../protocol/index';
import type { TrafficLog } from './traffic-log';

export const TRAFFIC_ENDED_EVENT_NAME = 'ended';
const KEEPALIVE_MS = 15_000;

export function trafficStream(log: TrafficLog, port: number, lastEventId: number | undefined): ReadableStream<Uint8Array> {
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  const writer = writable.getWriter();
  const encoder = new TextEncoder();
  let open = true;
  const send = (text: string): void => {
    if (!open) return;
    writer.write(encoder.encode(text)).catch(() => stop());
  };
  const event = (e: TrafficEntry) => formatSse({ id: String(e.id), event: TRAFFIC_EVENT_NAME, data: JSON.stringify(summarize(e)) });
  const newest = log.list(port, { limit: 1 })[0]?.id ?? 0;

  let head = formatSse({ event: HELLO_EVENT_NAME, data: JSON.stringify({ lastEventId: newest }) });
  if (lastEventId !== undefined) {
    const missed = log.since(port, lastEventId);
    if (missed === null) head += formatSse({ event: TRAFFIC_RESET_EVENT_NAME, data: JSON.stringify({ lastEventId: newest }) });
    else for (const e of missed) head += event(e);
  }
  send(head);

  const unfollow = log.follow(port, (news) => {
    if ('entry' in news) send(event(news.entry));
    else if ('ended' in news) {
      send(formatSse({ event: TRAFFIC_ENDED_EVENT_NAME, data: JSON.stringify({ port }) }));
      stop();
    } else send(formatSse({ event: TRAFFIC_RESET_EVENT_NAME, data: JSON.stringify({ lastEventId: 0 }) }));
  });
  const keepalive = setInterval(() => send(SSE_KEEPALIVE), KEEPALIVE_MS);
  function stop(): void {
    if (!open) return;
    open = false;
    clearInterval(keepalive);
    unfollow();
    writer.close().catch(() => {});
  }
  // The client went away: a write fails, and the follower goes.
  void writer.closed.catch(() => stop());
  return readable;
}
