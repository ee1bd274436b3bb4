/**
 * A bounded log of one process's output (stdout and stderr together). Every chunk gets the next
 * sequence id; the oldest chunks are dropped once the kept bytes pass the limit, so a process that
 * prints without end costs at most `limit` bytes (plus the newest chunk). Pure: no I/O.
 */
import type { ProcessLogs } from '../../worker/protocol/process';

export type LogStreamName = 'stdout' | 'stderr';

export interface LogChunk {
  seq: number;
  stream: LogStreamName;
  data: string;
  /** Size of the raw output in bytes (what the limit counts). */
  bytes: number;
}

export interface LogSince {
  chunks: LogChunk[];
  /** How many chunks after the requested point were already dropped. */
  dropped: number;
}

export type LogListener = (chunk: LogChunk) => void;

export function truncationMarker(bytes: number): string {
  return `[… ${bytes} bytes of earlier output truncated …]\n`;
}

export class LogBuffer {
  private readonly limit: number;
  // A deque: chunks[head..] are kept; the dead prefix is compacted from time to time.
  private chunks: LogChunk[] = [];
  private head = 0;
  private keptBytes = 0;
  private seq = 0;
  private readonly droppedBytes: Record<LogStreamName, number> = { stdout: 0, stderr: 0 };
  private readonly listeners = new Set<LogListener>();

  constructor(limitBytes: number) {
    this.limit = Math.max(1, limitBytes);
  }

  /** The id of the newest chunk (or reserved id); 0 before any output. */
  get lastSeq(): number {
    return this.seq;
  }

  /** The id of the oldest kept chunk; lastSeq + 1 when nothing is kept. */
  get firstSeq(): number {
    return this.head < this.chunks.length ? this.chunks[this.head]!.seq : this.seq + 1;
  }

  get truncated(): boolean {
    return this.droppedBytes.stdout > 0 || this.droppedBytes.stderr > 0;
  }

  append(stream: LogStreamName, data: string, bytes = byteLength(data)): LogChunk {
    const chunk: LogChunk = { seq: ++this.seq, stream, data, bytes };
    this.chunks.push(chunk);
    this.keptBytes += bytes;
    this.dropOverLimit();
    for (const listener of this.listeners) listener(chunk);
    return chunk;
  }

  /** Takes the next id for an event that is not output (the exit event), so ids stay unique. */
  reserveSeq(): number {
    return ++this.seq;
  }

  /** Kept chunks with seq > afterSeq, and how many of those were dropped already. */
  since(afterSeq: number): LogSince {
    const first = this.firstSeq;
    const dropped = Math.max(0, first - afterSeq - 1);
    let i = this.head;
    if (afterSeq >= first) {
      // Binary search: chunk seqs increase but may skip reserved ids.
      let lo = this.head;
      let hi = this.chunks.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (this.chunks[mid]!.seq <= afterSeq) lo = mid + 1;
        else hi = mid;
      }
      i = lo;
    }
    return { chunks: this.chunks.slice(i), dropped };
  }

  /** All kept output by stream, each truncated stream led by a visible marker line. */
  snapshot(): ProcessLogs {
    const out: Record<LogStreamName, string[]> = { stdout: [], stderr: [] };
    for (const name of ['stdout', 'stderr'] as const) {
      if (this.droppedBytes[name] > 0) out[name].push(truncationMarker(this.droppedBytes[name]));
    }
    for (let i = this.head; i < this.chunks.length; i++) {
      const chunk = this.chunks[i]!;
      out[chunk.stream].push(chunk.data);
    }
    return { stdout: out.stdout.join(''), stderr: out.stderr.join(''), truncated: this.truncated };
  }

  /** Calls `listener` with every chunk appended from now on; returns the function that stops it. */
  subscribe(listener: LogListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  private dropOverLimit(): void {
    // Always keep the newest chunk, so the latest output is never lost entirely.
    while (this.keptBytes > this.limit && this.chunks.length - this.head > 1) {
      const old = this.chunks[this.head]!;
      this.chunks[this.head] = undefined as unknown as LogChunk;
      this.head++;
      this.keptBytes -= old.bytes;
      this.droppedBytes[old.stream] += old.bytes;
    }
    if (this.head > 1024 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
  }
}

function byteLength(text: string): number {
  // UTF-8 length without Buffer, so this module runs anywhere.
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}
