/** Reads an SSE body with the shared SseParser, one decoded chunk at a time. */
import { SseParser, type SseMessage } from '../../worker/protocol/index';

/** Calls onMessage for every whole message until the body ends or the signal aborts (resolves) or it fails (rejects). */
export async function readSse(body: ReadableStream<Uint8Array>, onMessage: (msg: SseMessage) => void, signal?: AbortSignal): Promise<void> {
  const parser = new SseParser();
  const decoder = new TextDecoder();
  const reader = body.getReader();
  // Stopping must not wait for the next byte: cancel the read when the signal aborts.
  const onAbort = () => void reader.cancel().catch(() => {});
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) onAbort();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      for (const msg of parser.push(decoder.decode(value, { stream: true }))) onMessage(msg);
    }
    // A message cut off by the end of the body is not dispatched (as EventSource does).
    for (const msg of parser.push(decoder.decode())) onMessage(msg);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    reader.releaseLock();
  }
}
