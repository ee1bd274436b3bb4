/**
 * The inspector's live stream for one exposure (GET …/ports/:port/requests/stream): `hello` with
 * where the stream starts, then one `request` event (a TrafficSummary) per request as it finishes.
 * The SSE id is a position in finishing order (not the request's own id: a long request finishes
 * after later ones), so a client resuming with Last-Event-ID gets exactly what finished while it
 * was away, or `reset` (the records were cleared or started over, or what it missed is no longer
 * kept) and should fetch the list again. When the exposure ends the stream says `ended` and closes.
 */
import { HELLO_EVENT_NAME, SSE_KEEPALIVE, TRAFFIC_ENDED_EVENT_NAME, TRAFFIC_EVENT_NAME, TRAFFIC_RESET_EVENT_NAME, formatSse } from '../../protocol/index';
import { summaryOf, type StoredEntry, type TrafficLog } from './traffic-log';

const KEEPALIVE_MS = 15_000;

export function trafficStream(log: TrafficLog, port: number, lastEventId: string | undefined): ReadableStream<Uint8Array> {
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  const writer = writable.getWriter();
  const encoder = new TextEncoder();
  let open = true;
  const send = (text: string): void => {
    if (!open) return;
    writer.write(encoder.encode(text)).catch(() => stop());
  };
  const event = (k: { entry: StoredEntry; position: string }) => formatSse({ id: k.position, event: TRAFFIC_EVENT_NAME, data: JSON.stringify(summaryOf(k.entry)) });
  const newest = log.position(port);

  let head = formatSse({ event: HELLO_EVENT_NAME, data: JSON.stringify({ lastEventId: newest }) });
  if (lastEventId !== undefined) {
    const missed = log.since(port, lastEventId);
    if (missed === null) head += formatSse({ event: TRAFFIC_RESET_EVENT_NAME, data: JSON.stringify({ lastEventId: newest }) });
    else for (const e of missed) head += event(e);
  }
  send(head);

  const unfollow = log.follow(port, (news) => {
    if ('entry' in news) send(event(news));
    else if ('ended' in news) {
      send(formatSse({ event: TRAFFIC_ENDED_EVENT_NAME, data: JSON.stringify({ port }) }));
      stop();
    } else send(formatSse({ event: TRAFFIC_RESET_EVENT_NAME, data: JSON.stringify({ lastEventId: news.reset }) }));
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
