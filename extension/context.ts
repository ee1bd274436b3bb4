/**
 * The one object that owns everything the extension creates: the diagnostics log, the view,
 * the status bar, the log channels, the local server and the current connection. Every
 * registration's disposable goes into `disposables`, disposed on deactivate.
 */
import * as vscode from 'vscode';
import { ApiClient, WorkerUnreachable } from './core/api-client';
import { Connection } from './core/connection';
import { connecting, DISCONNECTED, hostOf, isStale, linkOnStream, withOutageError, type LinkState } from './core/link-state';
import { decidePortDetected, ignoreKey } from './core/port-detected';
import { EMPTY_WORLD, type WorldState } from './core/state-reducer';
import { containmentWarnings } from './core/health-warnings';
import { clockTime, plural } from './core/format';
import { AttributesSource } from './attributes-source';
import { ErrorReporter } from './errors';
import { httpFetch } from './http-fetch';
import { LinkView } from './link-view';
import { LocalServer } from './local-server';
import { ProcessLogs } from './logs';
import { SandboxTree, VIEW_ID } from './sandbox-tree';
import { Credentials } from './secrets';
import { onSettingsChanged, readSettings, type Settings } from './settings';
import { PreviewStatusBar } from './status-bar';
import { TrafficPanels } from './traffic-panel';
import type { TreeNode } from './core/tree-model';
import type { ControlEvent } from '../worker/protocol/index';

/** Age descriptions (`pid 123 · 4m`) go stale; refresh them this often while the view is visible. */
const AGE_REFRESH_MS = 30_000;

export class Ctx implements vscode.Disposable {
  readonly extension: vscode.ExtensionContext;
  readonly log: vscode.LogOutputChannel;
  readonly errors: ErrorReporter;
  readonly credentials: Credentials;
  readonly tree: SandboxTree;
  readonly view: vscode.TreeView<TreeNode>;
  readonly statusBar: PreviewStatusBar;
  readonly linkView: LinkView;
  readonly logs: ProcessLogs;
  readonly localServer: LocalServer;
  readonly attributes: AttributesSource;
  /** The open "Inspect Traffic" panels, one per exposure. */
  readonly traffic: TrafficPanels;
  settings: Settings;
  connection: Connection | null = null;
  /** The connection as the person sees it (connected, reconnecting, …). */
  link: LinkState = DISCONNECTED;
  /** Commands that failed because the Worker was unreachable, shown with the outage and cleared after it. */
  outageErrors: string[] = [];
  /** Reconnections so far and what the last one said (for tests: it is said once per outage). */
  reconnects = { count: 0, lastNotice: '' };
  /** Ports the user answered "Ignore" for, this session. */
  readonly ignoredPorts = new Set<string>();
  /** Ended processes the user cleared from the tree (`sandboxId/processId`). */
  readonly clearedProcesses = new Set<string>();
  private readonly disposables: vscode.Disposable[] = [];
  private connectionSubs: { dispose(): void }[] = [];
  private ageTimer: ReturnType<typeof setInterval> | undefined;
  /** Running processes when the stream was lost, to say what ended while disconnected. */
  private runningAtLoss: Set<string> | null = null;

  constructor(extension: vscode.ExtensionContext, log: vscode.LogOutputChannel) {
    this.extension = extension;
    this.log = log;
    this.errors = new ErrorReporter(log);
    this.credentials = new Credentials(extension);
    this.settings = readSettings();
    this.attributes = this.own(new AttributesSource(log));
    this.tree = this.own(
      new SandboxTree(() => ({
        world: this.world,
        options: {
          now: Date.now(),
          rules: this.attributes.rules,
          cleared: this.clearedProcesses,
          ...(isStale(this.link) ? { asOf: this.link.lostAt! } : {}),
        },
      })),
    );
    this.view = this.own(vscode.window.createTreeView(VIEW_ID, { treeDataProvider: this.tree, showCollapseAll: true }));
    this.tree.attach(this.view);
    this.statusBar = this.own(new PreviewStatusBar(() => this.world));
    this.linkView = this.own(new LinkView(this.view as vscode.TreeView<unknown>));
    this.logs = this.own(new ProcessLogs(log, (sandboxId, processId) => this.world[sandboxId]?.processes.find((p) => p.id === processId)?.command));
    this.localServer = this.own(new LocalServer(log));
    this.traffic = this.own(new TrafficPanels(this));
    this.own(onSettingsChanged(() => (this.settings = readSettings())));
    this.own(this.attributes.onDidChange(() => this.tree.scheduleRefresh()));
    this.own(this.view.onDidChangeVisibility((e) => this.onVisibility(e.visible)));
    this.setLink(DISCONNECTED);
    void this.setContext('connected', false);
  }

  own<T extends vscode.Disposable>(disposable: T): T {
    this.disposables.push(disposable);
    return disposable;
  }

  get world(): WorldState {
    return this.connection?.store.world ?? EMPTY_WORLD;
  }

  get client(): ApiClient {
    if (!this.connection) throw new Error('Not connected to a Worker. Run "Sandbox Ports: Connect to Worker…" or "Start Local Server" first.');
    return this.connection.client;
  }

  /** True while connected but the live stream is lost (commands may fail for that reason alone). */
  get linkDown(): boolean {
    return this.link.kind === 'reconnecting' || this.link.kind === 'refused';
  }

  /** A command failed: while the Worker is unreachable the outage line says so (no toast to pile up). */
  reportFailure(title: string, err: unknown): void {
    if (err instanceof WorkerUnreachable && this.connection && this.linkDown) {
      this.log.warn(`${title}: ${err.message} (while reconnecting)`);
      this.outageErrors = withOutageError(this.outageErrors, title);
      this.setLink(this.link);
      return;
    }
    this.errors.show(title, err);
  }

  /** Connects (replacing any connection): checks the token, saves it, starts the event stream. */
  async connect(url: string, token: string): Promise<void> {
    const client = new ApiClient({ url, token, fetch: httpFetch });
    await client.listSandboxes(); // fails fast on a wrong URL or token
    await this.disconnect(false);
    const connection = new Connection({
      client,
      pollIntervalMs: this.settings.pollIntervalSeconds * 1000,
      log: (level, message) => this.log[level](message),
    });
    this.connection = connection;
    this.traffic.connectionChanged();
    this.setLink(connecting(client.url));
    this.logs.setClient(client);
    this.connectionSubs = [
      connection.store.onDidChange(() => this.onWorldChanged()),
      connection.onSynced(() => this.tree.refreshNow()),
      connection.onEvent((event) => this.onEvent(event)),
      connection.onStatus((change) => {
        const wasStale = isStale(this.link);
        const step = linkOnStream(this.link, change, Date.now());
        if (step.next.kind === 'reconnecting' && !wasStale) this.runningAtLoss = this.runningKeys();
        this.setLink(step.next);
        if (isStale(this.link) !== wasStale) this.tree.refreshNow();
        if (change.status === 'connected') {
          this.logs.resumeAll();
          this.traffic.reconnected();
        }
        if (step.reconnected) void this.onReconnected(connection);
        if (change.status === 'failed') this.errors.show('The Worker refused the token', change.error);
      }),
    ];
    connection.setViewVisible(this.view.visible);
    await this.credentials.save(client.url, token);
    await this.setContext('connected', true);
    await this.setContext('canReconnect', false);
    this.log.info(`connected to ${client.url}`);
    connection.start();
    await connection.initialSync();
    void this.warnIfNotIsolated(client);
  }

  /** Back after an outage: fetch everything, say so once (with what ended meanwhile), clear the outage's errors. */
  private async onReconnected(connection: Connection): Promise<void> {
    await connection.refresh().catch((err: unknown) => this.log.warn(`refetch after reconnecting: ${(err as Error).message}`));
    if (connection !== this.connection) return;
    const before = this.runningAtLoss ?? new Set<string>();
    const now = this.runningKeys();
    const ended = [...before].filter((k) => !now.has(k)).length;
    this.runningAtLoss = null;
    this.outageErrors = [];
    const host = hostOf(connection.client.url);
    const notice = `Reconnected to ${host} at ${clockTime(Date.now())}${ended > 0 ? `; ${plural(ended, 'process', 'processes')} ended while disconnected` : ''}.`;
    this.reconnects = { count: this.reconnects.count + 1, lastNotice: notice };
    this.log.info(notice);
    this.setLink(this.link);
    this.view.message = notice;
    setTimeout(() => {
      if (this.view.message === notice) this.view.message = undefined;
    }, 10_000);
    void vscode.window.setStatusBarMessage(`$(check) ${notice}`, 6000);
    this.tree.refreshNow();
  }

  private runningKeys(): Set<string> {
    const out = new Set<string>();
    for (const s of Object.values(this.world)) for (const p of s.processes) if (p.status === 'running') out.add(`${s.id}/${p.id}`);
    return out;
  }

  private setLink(state: LinkState): void {
    this.link = state;
    if (!this.linkDown) this.outageErrors = [];
    this.linkView.show(state, this.outageErrors);
  }

  /** Worker URLs already warned about in this window: the warning is said once, not on every reconnect. */
  private readonly warnedNotIsolated = new Set<string>();

  /**
   * A local Worker whose sandboxes run as plain processes, or without limits, says so, once, in
   * plain words.
   */
  private async warnIfNotIsolated(client: ApiClient): Promise<void> {
    const health = await client.health().catch(() => null);
    if (!health || this.warnedNotIsolated.has(client.url)) return;
    const warnings = containmentWarnings(health);
    if (warnings.length === 0) return;
    this.warnedNotIsolated.add(client.url);
    for (const w of warnings) {
      this.log.warn(`sandboxes on ${client.url}: ${w}`);
      void vscode.window.showWarningMessage(`Sandboxes on ${client.url} ${w}`);
    }
  }

  async disconnect(forget = true): Promise<void> {
    const connection = this.connection;
    if (!connection) return;
    this.connection = null;
    for (const sub of this.connectionSubs) sub.dispose();
    this.connectionSubs = [];
    this.logs.setClient(null);
    this.traffic.connectionChanged();
    await connection.dispose();
    if (forget) await this.credentials.forgetLast();
    this.setLink(DISCONNECTED);
    await this.setContext('connected', false);
    await this.setContext('hasSandboxes', false);
    await this.setContext('canReconnect', !forget);
    this.tree.refreshNow();
    this.statusBar.update();
    this.log.info(`disconnected from ${connection.client.url}`);
  }

  /** The token this window knows for `url`: the stored one, else a local server's (from its local.json). */
  async knownToken(url: string): Promise<string | undefined> {
    return (await this.credentials.token(url)) ?? LocalServer.tokenFor(url, this.settings.localServerFolder);
  }

  /**
   * On start-up (and from the welcome view's Reconnect): the last Worker, with its stored token,
   * or, for a local server, the token its local.json holds. When neither is there, the welcome
   * view offers one click to reconnect and the log says why it did not happen by itself.
   */
  async autoConnect(): Promise<void> {
    const url = this.credentials.lastUrl;
    if (!this.settings.autoConnect || !url) return;
    await this.setContext('canReconnect', true);
    const token = await this.knownToken(url);
    if (!token) {
      this.log.info(`not reconnecting to ${url}: this window has no token for it (a web workbench may not keep secrets across reloads); use "Reconnect" in the Sandboxes view`);
      return;
    }
    try {
      await this.connect(url, token);
    } catch (err) {
      this.log.warn(`could not reconnect to ${url}: ${(err as Error).message}; use "Reconnect" in the Sandboxes view`);
    }
  }

  /** Progress on the view (a bar over the tree) for work started there. */
  withProgress<T>(title: string, task: (token: vscode.CancellationToken) => Promise<T>): Thenable<T> {
    return vscode.window.withProgress({ location: { viewId: VIEW_ID }, title }, (_progress, token) => task(token));
  }

  /** After a command changed something: the event stream brings it; without one, fetch that sandbox. */
  async afterChange(sandboxId: string): Promise<void> {
    const connection = this.connection;
    if (!connection || connection.connected) return;
    await connection.store.refetchOne(connection.client, sandboxId).catch(() => {});
    this.tree.refreshNow();
  }

  setContext(key: string, value: unknown): Thenable<unknown> {
    return vscode.commands.executeCommand('setContext', `sandboxPorts.${key}`, value);
  }

  private onWorldChanged(): void {
    this.tree.scheduleRefresh();
    this.statusBar.update();
    void this.setContext('hasSandboxes', Object.keys(this.world).length > 0);
  }

  private onEvent(event: ControlEvent): void {
    if (event.type === 'sandbox-destroyed') this.logs.forgetSandbox(event.sandboxId);
    const decision = decidePortDetected(event, this.world, this.settings.onPortDetected, this.ignoredPorts, this.attributes.rules);
    if (!decision || decision.action === 'none') return;
    const ref = { sandboxId: decision.sandboxId, port: decision.port, ...(decision.processId ? { processId: decision.processId } : {}) };
    if (decision.action === 'expose' || decision.action === 'exposeAndOpen') {
      void vscode.commands.executeCommand('sandboxPorts.exposePort', ref, { open: decision.action === 'exposeAndOpen' });
      return;
    }
    const what = decision.label ? `${decision.label} (port ${decision.port})` : `port ${decision.port}`;
    void vscode.window
      .showInformationMessage(`A process in sandbox ${decision.sandboxId} is listening on ${what}.`, 'Expose', 'Expose & Open', 'Ignore', 'Always Ignore')
      .then((choice) => {
        if (choice === 'Expose') void vscode.commands.executeCommand('sandboxPorts.exposePort', ref, { open: false });
        else if (choice === 'Expose & Open') void vscode.commands.executeCommand('sandboxPorts.exposePort', ref, { open: true });
        else if (choice === 'Ignore') this.ignoredPorts.add(ignoreKey(decision.sandboxId, decision.port));
        else if (choice === 'Always Ignore')
          void this.attributes.ignoreForever(decision.port).then(() => this.log.info(`port ${decision.port} is ignored from now on (sandboxPorts.portsAttributes)`));
      });
  }

  private onVisibility(visible: boolean): void {
    this.connection?.setViewVisible(visible);
    if (this.ageTimer) clearInterval(this.ageTimer);
    this.ageTimer = visible ? setInterval(() => this.tree.scheduleRefresh(), AGE_REFRESH_MS) : undefined;
  }

  dispose(): void {
    if (this.ageTimer) clearInterval(this.ageTimer);
    void this.disconnect(false);
    for (const d of this.disposables.splice(0).reverse()) d.dispose();
  }
}
