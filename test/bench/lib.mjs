// Small helpers shared by the benchmarks: statistics and an SSE reader over fetch.
export function median(xs) {
  return percentile(xs, 0.5);
}

export function percentile(xs, p) {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
}

export function fmt(ms) {
  return `${ms.toFixed(ms < 10 ? 2 : 1)} ms`;
}

export class SseReader {
  constructor(url, headers) {
    this.url = url;
    this.headers = headers;
  }

  async *messages() {
    const res = await fetch(this.url, { headers: this.headers });
    if (!res.ok) throw new Error(`${this.url} → ${res.status}`);
    const decoder = new TextDecoder();
    let buf = '';
    for await (const chunk of res.body) {
      buf += decoder.decode(chunk, { stream: true });
      let end;
      while ((end = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, end);
        buf = buf.slice(end + 2);
        const msg = { data: '' };
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) msg.event = line.slice(7);
          else if (line.startsWith('id: ')) msg.id = line.slice(4);
          else if (line.startsWith('data: ')) msg.data += line.slice(6);
        }
        if (msg.event || msg.data) yield msg;
      }
    }
  }
}

/** A control-API caller for a stack: JSON in and out (bytes go as they are), throws on a non-2xx answer. */
export function apiCaller(stack) {
  const headers = { authorization: `Bearer ${stack.token}`, 'content-type': 'application/json' };
  return async (method, p, body) => {
    const raw = body instanceof Uint8Array;
    const init = { method, headers: raw ? { authorization: headers.authorization } : headers, body: body === undefined ? undefined : raw ? body : JSON.stringify(body) };
    const res = await fetch(`${stack.url}/api/v1${p}`, init);
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${p} → ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
}
