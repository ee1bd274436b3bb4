/**
 * "Inspect Traffic": one editor-area webview per exposure, fed by core/traffic-feed (list, then the
 * live stream, resumed across reconnects). The page holds no token and reaches nothing; its
 * messages are checked (core/traffic-messages) and acted on here: fetch an entry, replay it, copy
 * it as curl or as a URL, clear the records.
 */
import * as vscode from 'vscode';
import { REDACTED, type TrafficEntry } from '../worker/protocol/index';
import { curlCommand } from './core/curl';
import { TrafficFeed, type FeedView } from './core/traffic-feed';
import { trafficHtml } from './core/traffic-html';
import { portLabel } from './core/tree-model';
import { parsePageMessage, requestUrl, type FromPage, type ToPage } from './core/traffic-messages';
import type { Ctx } from './context';

/** A busy port finishes many requests a second: the page gets the table at most this often. */
const VIEW_EVERY_MS = 100;

export class TrafficPanels implements vscode.Disposable {
  private readonly open = new Map<string, TrafficPanel>();

  constructor(private readonly ctx: Ctx) {}

  /** Opens (or brings forward) the inspector of `sandboxId`'s port. */
  show(sandboxId: string, port: number): TrafficPanel {
    const key = `${sandboxId}/${port}`;
    const existing = this.open.get(key);
    if (existing) {
      existing.reveal();
      return existing;
    }
    const panel = new TrafficPanel(this.ctx, sandboxId, port, () => this.open.delete(key));
    this.open.set(key, panel);
    return panel;
  }

  /** The connection came back: panels waiting between attempts try at once. */
  reconnected(): void {
    for (const p of this.open.values()) p.retry();
  }

  /** Connected elsewhere, or disconnected: each panel lets go of its stream and starts over from the list. */
  connectionChanged(): void {
    for (const p of this.open.values()) p.restart();
  }

  dispose(): void {
    for (const p of [...this.open.values()]) p.dispose();
  }
}

export class TrafficPanel implements vscode.Disposable {
  private readonly panel: vscode.WebviewPanel;
  private readonly feed: TrafficFeed;
  private pending: ReturnType<typeof setTimeout> | undefined;
  private lastView: FeedView | undefined;
  private disposed = false;

  constructor(
    private readonly ctx: Ctx,
    readonly sandboxId: string,
    readonly port: number,
    private readonly onGone: () => void,
  ) {
    const dist = vscode.Uri.joinPath(ctx.extension.extensionUri, 'dist', 'webview');
    const media = vscode.Uri.joinPath(ctx.extension.extensionUri, 'media');
    this.panel = vscode.window.createWebviewPanel('sandboxPorts.traffic', this.title(), vscode.ViewColumn.Active, {
      enableScripts: true,
      localResourceRoots: [dist, media],
    });
    const webview = this.panel.webview;
    webview.html = trafficHtml({
      cspSource: webview.cspSource,
      nonce: nonce(),
      scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(dist, 'traffic.js')).toString(),
      styleUri: webview.asWebviewUri(vscode.Uri.joinPath(media, 'traffic.css')).toString(),
    });
    this.feed = new TrafficFeed({
      list: () => ctx.client.listRequests(sandboxId, port),
      openStream: (last, signal) => ctx.client.openStream(`${ctx.client.requestsPath(sandboxId, port)}/stream`, last, signal),
      onChange: (view) => this.viewChanged(view),
    });
    webview.onDidReceiveMessage((raw) => {
      const msg = parsePageMessage(raw);
      if (!msg) return ctx.log.warn(`traffic panel ${sandboxId}:${port}: a message it does not take was dropped`);
      this.handle(msg).catch((err) => this.post({ type: 'notice', text: messageOf(err), tone: 'error' }));
    });
    this.panel.onDidDispose(() => this.dispose());
    this.feed.start();
  }

  /** What the page shows now (for tests): the newest entries first. */
  get view(): FeedView | undefined {
    return this.lastView;
  }

  reveal(): void {
    this.panel.reveal();
  }

  retry(): void {
    void this.feed.retryNow();
  }

  restart(): void {
    void this.feed.restart();
  }

  private exposure() {
    return this.ctx.world[this.sandboxId]?.ports.find((p) => p.port === this.port);
  }

  private title(): string {
    const e = this.exposure();
    return `Traffic: ${portLabel(this.port, e?.name)} · ${this.sandboxId}`;
  }

  private viewChanged(view: FeedView): void {
    this.lastView = view;
    if (this.pending) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      if (this.lastView) this.post({ type: 'view', ...this.lastView });
    }, VIEW_EVERY_MS);
  }

  private post(msg: ToPage): void {
    if (!this.disposed) void this.panel.webview.postMessage(msg);
  }

  private async handle(msg: FromPage): Promise<void> {
    const client = this.ctx.client;
    const url = this.exposure()?.url ?? '';
    switch (msg.type) {
      case 'ready':
        this.panel.title = this.title();
        this.post({ type: 'exposure', sandboxId: this.sandboxId, port: this.port, label: portLabel(this.port, this.exposure()?.name), url });
        if (this.lastView) this.post({ type: 'view', ...this.lastView });
        return;
      case 'select':
        try {
          this.post({ type: 'detail', entry: await client.getRequest(this.sandboxId, this.port, msg.id) });
        } catch (err) {
          this.post({ type: 'detail-missing', id: msg.id, message: messageOf(err) });
        }
        return;
      case 'replay':
        return this.replay(msg.id);
      case 'copy-curl': {
        const entry = await client.getRequest(this.sandboxId, this.port, msg.id);
        await vscode.env.clipboard.writeText(curlCommand(entry, url));
        this.post({ type: 'notice', text: `Copied request #${msg.id} as a curl command${entry.redacted.length ? ' (credentials as $VARIABLES to set first)' : ''}`, tone: 'info' });
        return;
      }
      case 'copy-url': {
        const text = msg.id === undefined ? url : requestUrl(url, (await client.getRequest(this.sandboxId, this.port, msg.id)).path);
        await vscode.env.clipboard.writeText(text);
        this.post({ type: 'notice', text: `Copied ${text}`, tone: 'info' });
        return;
      }
      case 'clear':
        await client.clearRequests(this.sandboxId, this.port);
        this.feed.cleared();
        this.post({ type: 'notice', text: `Cleared the requests of port ${this.port}`, tone: 'info' });
        return;
      case 'retry':
        this.retry();
        return;
    }
  }

  /** Replays `id`; when credentials were redacted, asks whether to send them (and which). */
  private async replay(id: number): Promise<void> {
    const client = this.ctx.client;
    const original = await client.getRequest(this.sandboxId, this.port, id);
    const credentials = await this.askCredentials(original);
    if (!credentials) return;
    const entry = await client.replayRequest(this.sandboxId, this.port, id, credentials);
    this.post({ type: 'notice', text: `Replayed #${id}: the service answered ${entry.status} (request #${entry.id})`, tone: 'info' });
    this.post({ type: 'select', id: entry.id });
  }

  private async askCredentials(e: TrafficEntry): Promise<{ authorization?: string; cookie?: string } | undefined> {
    const missing = e.requestHeaders.filter(([n, v]) => v === REDACTED && (n === 'authorization' || n === 'cookie')).map(([n]) => n as 'authorization' | 'cookie');
    if (missing.length === 0) return {};
    const items = [
      { label: 'Send it without them', value: 'none' },
      { label: `Enter ${missing.join(' and ')}…`, value: 'enter' },
    ];
    const pick = await vscode.window.showQuickPick(items, { title: `Replay #${e.id}`, placeHolder: `The inspector did not keep its ${missing.join(' and ')}` });
    if (!pick) return undefined;
    if (pick.value === 'none') return {};
    const out: { authorization?: string; cookie?: string } = {};
    for (const name of missing) {
      const value = await vscode.window.showInputBox({ title: `Replay #${e.id}: ${name}`, prompt: `The ${name} header to send (empty: leave it out)`, password: true });
      if (value === undefined) return undefined;
      if (value.trim()) out[name] = value.trim();
    }
    return out;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.pending) clearTimeout(this.pending);
    void this.feed.stop();
    this.panel.dispose();
    this.onGone();
  }
}

function nonce(): string {
  const bytes = new Uint8Array(18);
  crypto.getRandomValues(bytes);
  return Buffer.from(bytes).toString('base64');
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
