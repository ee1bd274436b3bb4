/**
 * Reading cloudflared's output: with `--output json` every log line is one JSON object
 * (`{"level":"info","time":"…","message":"…", …fields}`; some builds say `msg`), otherwise a text
 * line (`2024-05-01T10:00:00Z INF message key=value`). The quick tunnel's URL arrives inside an
 * ASCII box (`|  https://<words>.trycloudflare.com  |`). Pure: no I/O.
 */

export interface CloudflaredLine {
  /** `info`, `warn`, `error`, `fatal`, … (null for a text line without a level). */
  level: string | null;
  message: string;
  /** The other fields of a JSON line (error, connIndex, location, …). */
  fields: Record<string, unknown>;
}

export interface QuickTunnelUrl {
  url: string;
  hostname: string;
}

const TEXT_LEVELS: Record<string, string> = { DBG: 'debug', INF: 'info', WRN: 'warn', ERR: 'error', FTL: 'fatal' };

/** One line of output; null for a blank one. */
export function parseLogLine(raw: string): CloudflaredLine | null {
  const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
  if (line.trim() === '') return null;
  if (line.trimStart().startsWith('{')) {
    try {
      const obj = JSON.parse(line) as unknown;
      if (obj && typeof obj === 'object' && !Array.isArray(obj)) {
        const { level, message, msg, time: _time, ...fields } = obj as Record<string, unknown>;
        const text = typeof message === 'string' ? message : typeof msg === 'string' ? msg : '';
        return { level: typeof level === 'string' ? level : null, message: text, fields };
      }
    } catch {
      /* not JSON after all: a text line */
    }
  }
  const m = /^\S+Z\s+(DBG|INF|WRN|ERR|FTL)\s+(.*)$/.exec(line);
  if (m) return { level: TEXT_LEVELS[m[1]!]!, message: m[2]!, fields: {} };
  return { level: null, message: line, fields: {} };
}

/**
 * The quick tunnel's public URL in a message. Only a single-label host under trycloudflare.com
 * counts, and never `api.trycloudflare.com` (the service cloudflared asks, named in its errors).
 */
export function quickTunnelUrl(message: string): QuickTunnelUrl | null {
  const re = /https:\/\/([a-z0-9](?:[a-z0-9-]*[a-z0-9])?)\.trycloudflare\.com(?![a-z0-9-]|\.[a-z0-9])/gi;
  for (const m of message.matchAll(re)) {
    const label = m[1]!.toLowerCase();
    if (label === 'api') continue;
    const hostname = `${label}.trycloudflare.com`;
    return { url: `https://${hostname}`, hostname };
  }
  return null;
}

/** The metrics server's address from `Starting metrics server on 127.0.0.1:41234/metrics`. */
export function metricsAddress(message: string): string | null {
  const m = /Starting metrics server on (\S+?)\/metrics/.exec(message);
  return m ? m[1]! : null;
}

/** A line as shown in an error message: `ERROR failed to request quick Tunnel error="…"`. */
export function formatLine(line: CloudflaredLine): string {
  const level = line.level ? `${line.level.toUpperCase()} ` : '';
  const extras = ['error', 'err']
    .filter((k) => line.fields[k] !== undefined)
    .map((k) => ` ${k}=${JSON.stringify(String(line.fields[k]))}`)
    .join('');
  return `${level}${line.message}${extras}`;
}

/** Longest unfinished line kept per stream. */
const MAX_PARTIAL_CHARS = 64 * 1024;

/**
 * Follows cloudflared's stdout and stderr: assembles lines, remembers the last `tailSize` of
 * them, and picks up the tunnel URL and metrics address when they pass.
 */
export class CloudflaredOutput {
  url: QuickTunnelUrl | null = null;
  metrics: string | null = null;
  private readonly tailSize: number;
  private readonly lines: string[] = [];
  private readonly partial: Record<string, string> = {};

  constructor(tailSize = 20) {
    this.tailSize = tailSize;
  }

  /** Feeds a chunk of one stream; returns the complete lines it finished. */
  feed(stream: 'stdout' | 'stderr', data: string): CloudflaredLine[] {
    const parts = ((this.partial[stream] ?? '') + data).split('\n');
    let rest = parts.pop()!;
    if (rest.length > MAX_PARTIAL_CHARS) rest = rest.slice(-MAX_PARTIAL_CHARS);
    this.partial[stream] = rest;
    return parts.map((p) => this.take(p)).filter((l): l is CloudflaredLine => l !== null);
  }

  /** The streams ended: their unfinished lines count too. */
  end(): CloudflaredLine[] {
    const out: CloudflaredLine[] = [];
    for (const stream of Object.keys(this.partial)) {
      const line = this.take(this.partial[stream]!);
      this.partial[stream] = '';
      if (line) out.push(line);
    }
    return out;
  }

  /** The last lines, formatted, oldest first. */
  tail(): string[] {
    return this.lines.slice();
  }

  /** The tail as the end of an error message. */
  describeTail(): string {
    return this.lines.length === 0 ? 'cloudflared printed nothing.' : `Last cloudflared log lines:\n${this.lines.join('\n')}`;
  }

  private take(raw: string): CloudflaredLine | null {
    const line = parseLogLine(raw);
    if (!line) return null;
    this.lines.push(formatLine(line));
    if (this.lines.length > this.tailSize) this.lines.splice(0, this.lines.length - this.tailSize);
    this.url ??= quickTunnelUrl(line.message);
    this.metrics ??= metricsAddress(line.message);
    return line;
  }
}
