/**
 * Hop-by-hop headers belong to one connection and never travel on (RFC 9110 §7.6.1): the ones
 * named in Connection, and Connection, Proxy-Connection, Keep-Alive, TE, Trailer, Upgrade and
 * HTTP2-Settings themselves — except the Upgrade a WebSocket handshake needs. Pure.
 */
const HOP_BY_HOP = ['connection', 'proxy-connection', 'keep-alive', 'te', 'trailer', 'upgrade', 'http2-settings'];

function isWebSocketUpgrade(headers: Headers): boolean {
  return (headers.get('upgrade') ?? '').toLowerCase() === 'websocket';
}

/** Removes the hop-by-hop headers from `headers` (in place). */
export function stripHopByHop(headers: Headers): void {
  const websocket = isWebSocketUpgrade(headers);
  for (const token of (headers.get('connection') ?? '').split(',')) {
    const name = token.trim().toLowerCase();
    if (name && !(websocket && name === 'upgrade')) headers.delete(name);
  }
  for (const name of HOP_BY_HOP) {
    if (websocket && (name === 'upgrade' || name === 'connection')) continue;
    headers.delete(name);
  }
}
