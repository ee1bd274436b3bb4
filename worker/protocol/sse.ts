/**
 * Server-Sent Events framing, written once for the agent, the Worker and the extension.
 * Only the fields this product uses: id, event, data (one JSON document per event), retry.
 */

export interface SseMessage {
  id?: string;
  event?: string;
  data: string;
}

export function formatSse(msg: SseMessage): string {
  let out = '';
  if (msg.id !== undefined) out += `id: ${msg.id}\n`;
  if (msg.event !== undefined) out += `event: ${msg.event}\n`;
  for (const line of msg.data.split('\n')) out += `data: ${line}\n`;
  return out + '\n';
}

/**
 * The JSON document a message carries, when it is the named event (any event without a name);
 * null for another event or data that is not JSON, which a follower skips rather than fails on.
 */
export function eventData<T>(msg: SseMessage, name?: string): T | null {
  if (name !== undefined && msg.event !== name) return null;
  try {
    return JSON.parse(msg.data) as T;
  } catch {
    return null;
  }
}

/** A comment line keeps idle connections open through proxies without producing an event. */
export const SSE_KEEPALIVE = ': keepalive\n\n';

/**
 * Incremental parser: feed it decoded text chunks in order, get whole messages back. Handles
 * CRLF, split lines and multi-line data as the EventSource standard does.
 */
export class SseParser {
  private buffer = '';
  private id: string | undefined;
  private event: string | undefined;
  private data: string[] = [];
  /** The id of the last complete message, for Last-Event-ID on reconnect. */
  lastEventId: string | undefined;

  push(chunk: string): SseMessage[] {
    this.buffer += chunk;
    const out: SseMessage[] = [];
    let nl: number;
    while ((nl = this.buffer.search(/\r\n|\n|\r/)) >= 0) {
      const line = this.buffer.slice(0, nl);
      const sepLen = this.buffer.startsWith('\r\n', nl) ? 2 : 1;
      // A lone '\r' at the end may be the first half of '\r\n': wait for more input.
      if (this.buffer[nl] === '\r' && sepLen === 1 && nl === this.buffer.length - 1) break;
      this.buffer = this.buffer.slice(nl + sepLen);
      if (line === '') {
        if (this.data.length > 0 || this.event !== undefined) {
          const msg: SseMessage = { data: this.data.join('\n') };
          if (this.id !== undefined) msg.id = this.id;
          if (this.event !== undefined) msg.event = this.event;
          if (this.id !== undefined) this.lastEventId = this.id;
          out.push(msg);
        }
        this.data = [];
        this.event = undefined;
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'data') this.data.push(value);
      else if (field === 'event') this.event = value;
      else if (field === 'id') this.id = value;
    }
    return out;
  }
}
