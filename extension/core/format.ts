/** Small text formatters shared by the tree model and the notifications. */

/** `4m`, `2h 5m`, `12s`, `3d 4h`: short, for tree descriptions. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h}h ${m % 60}m` : `${h}h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d}d ${h % 24}h` : `${d}d`;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** Commands can be long shell lines; tree labels keep the start. */
export function shorten(text: string, max = 60): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

/** Escapes text for a Markdown tooltip. */
export function md(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, (c) => `\\${c}`);
}

/** `14:03`: the local wall-clock time, for "as of" marks. */
export function clockTime(ms: number): string {
  const d = new Date(ms);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

/** `just now`, `12 seconds ago`, `4 minutes ago`, `2 hours ago`, `3 days ago`: for tooltips. */
export function formatRelative(thenMs: number, nowMs: number): string {
  if (!Number.isFinite(thenMs)) return 'at an unknown time';
  const future = thenMs > nowMs;
  const s = Math.floor(Math.abs(nowMs - thenMs) / 1000);
  if (s < 5) return future ? 'in a moment' : 'just now';
  const [n, unit] = s < 60 ? [s, 'second'] : s < 3600 ? [Math.floor(s / 60), 'minute'] : s < 86_400 ? [Math.floor(s / 3600), 'hour'] : [Math.floor(s / 86_400), 'day'];
  const amount = plural(n, unit);
  return future ? `in ${amount}` : `${amount} ago`;
}
