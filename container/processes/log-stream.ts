/**
 * Follows one process's log as SSE: every chunk after the client's last id, written the moment it
 * arrives, then the exit event, then the end. A slow client is never buffered without bound: it
 * reads from the LogBuffer at its own pace, and learns through `truncated` what it missed.
 */
import type { LogStreamEvent } from '../../worker/protocol/process';
import type { SseStream } from '../http/http-util';
import type { ManagedProcess } from './managed-process';

function message(event: LogStreamEvent, id?: number): { id?: string; event: string; data: string } {
  const msg: { id?: string; event: string; data: string } = { event: event.type, data: JSON.stringify(event) };
  if (id !== undefined) msg.id = String(id);
  return msg;
}

export function followLogs(p: ManagedProcess, sse: SseStream, after: number | undefined): void {
  // An id past anything this process produced comes from an earlier run: start over.
  let cursor = after === undefined || after > p.logs.lastSeq ? 0 : after;
  let blocked = false;

  const pump = (): void => {
    if (blocked || sse.closed) return;
    const exitSeq = p.exitSeq;
    if (exitSeq !== null && cursor >= exitSeq) return sse.end();
    const { chunks, dropped } = p.logs.since(cursor);
    if (dropped > 0) {
      sse.send(message({ type: 'truncated', dropped }));
      cursor = Math.max(cursor, p.logs.firstSeq - 1);
    }
    for (const chunk of chunks) {
      // Output that arrives after the exit (from a lingering child) stays in GET logs only.
      if (exitSeq !== null && chunk.seq > exitSeq) break;
      cursor = chunk.seq;
      const ok = sse.send(message({ type: 'log', stream: chunk.stream, data: chunk.data }, chunk.seq));
      if (!ok) {
        blocked = true;
        sse.onDrain(() => {
          blocked = false;
          pump();
        });
        return;
      }
    }
    if (exitSeq !== null) {
      const { exitCode = null, status, reason, memoryLimit } = p.info;
      sse.send(message({ type: 'exit', exitCode, status, ...(reason ? { reason, memoryLimit } : {}) }, exitSeq));
      sse.end();
    }
  };

  const offLog = p.logs.subscribe(pump);
  const offExit = p.onExit(pump);
  sse.onClose(() => {
    offLog();
    offExit();
  });
  pump();
}
