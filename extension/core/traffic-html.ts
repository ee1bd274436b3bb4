/**
 * The inspector panel's HTML: a fixed skeleton the page script fills, under a strict
 * Content-Security-Policy (nothing but the extension's own script, by nonce, and stylesheet; no
 * network, no inline code, no frames), so a request body that looks like markup stays text.
 */

export interface TrafficHtmlParts {
  /** The webview's own source (webview.cspSource). */
  cspSource: string;
  nonce: string;
  scriptUri: string;
  styleUri: string;
}

export function trafficCsp(p: Pick<TrafficHtmlParts, 'cspSource' | 'nonce'>): string {
  return [
    `default-src 'none'`,
    `style-src ${p.cspSource}`,
    `font-src ${p.cspSource}`,
    `img-src ${p.cspSource}`,
    `script-src 'nonce-${p.nonce}'`,
    `base-uri 'none'`,
    `form-action 'none'`,
  ].join('; ');
}

export function trafficHtml(p: TrafficHtmlParts): string {
  const attr = (v: string) => v.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
  const options = (list: [string, string][]) => list.map(([value, label]) => `<option value="${value}">${label}</option>`).join('');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${attr(trafficCsp(p))}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="${attr(p.styleUri)}">
<title>Traffic</title>
</head>
<body>
<header class="bar">
  <div class="title"><strong id="label"></strong> <span id="url" class="muted"></span></div>
  <span id="state" class="pill">Connecting…</span>
  <button type="button" id="copy-exposure-url" class="secondary" title="Copy the preview URL">Copy URL</button>
  <button type="button" id="clear" class="secondary" title="Forget the recorded requests of this port">Clear</button>
</header>
<div class="filters" role="search">
  <label>Method <select id="method">${options([['all', 'All'], ...['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'].map((m): [string, string] => [m, m])])}</select></label>
  <label>Status <select id="status">${options([
    ['all', 'All'],
    ['2xx', '2xx'],
    ['3xx', '3xx'],
    ['4xx', '4xx'],
    ['5xx', '5xx'],
    ['errors', 'Errors (4xx, 5xx, broken)'],
    ['proxy', 'Answered by the proxy'],
  ])}</select></label>
  <input id="text" type="search" placeholder="Filter by path, status or code" aria-label="Filter by text">
  <span id="count" class="muted"></span>
</div>
<div id="banner" class="banner" role="status" hidden></div>
<div id="notice" class="notice" role="status" hidden></div>
<main class="split">
  <section class="list">
    <table class="requests" aria-label="Requests">
      <thead><tr><th>Time</th><th>Method</th><th>Path</th><th>Status</th><th class="num">Duration</th><th class="num">Size</th></tr></thead>
      <tbody id="rows"></tbody>
    </table>
    <p id="empty" class="muted empty"></p>
  </section>
  <section id="detail" class="detail" aria-label="Request details" hidden></section>
</main>
<script nonce="${attr(p.nonce)}" src="${attr(p.scriptUri)}"></script>
</body>
</html>`;
}
