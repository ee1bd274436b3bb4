/**
 * The one object that owns everything the extension creates: the diagnostics log, the view,
 * the status bar, the log channels, the local server and the current connection. Every
 * registration's disposable goes into `disposables`, disposed on deactivate.
 */
import * as vscode from 'vscode';
import { ApiClient } from './core/api-client';
import { Connection } from './core/connection';
import { decidePortDetected, ignoreKey } from './core/port-detected';
import { EMPTY_WORLD, type WorldState } from './core/state-reducer';
import { ErrorReporter } from './errors';
import { httpFetch } from './http-fetch';
import { LocalServer } from './local-server';
import { ProcessLogs } from './logs';
import { SandboxTree, VIEW_ID } from './sandbox-tree';
import { Credentials } from './secrets';
import { onSettingsChanged, readSettings, type Settings } from './settings';
import { PreviewStatusBar } from './status-bar';
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
  readonly logs: ProcessLogs;
  readonly localServer: LocalServer;
  settings: Settings;
  connection: Connection | null = null;
  /** Ports the user answered "Ignore" for, this session. */
  readonly ignoredPorts = new Set<string>();
  private readonly disposables: vscode.Disposable[] = [];
  private connectionSubs: { dispose(): void }[] = [];
  private ageTimer: ReturnType<typeof setInterval> | undefined;

  constructor(extension: vscode.ExtensionContext, log: vscode.LogOutputChannel) {
    this.extension = extension;
    this.log = log;
    this.errors = new ErrorReporter(log);
    this.credentials = new Credentials(extension);
    this.settings = readSettings();
    this.tree = this.own(new SandboxTree(() => this.world));
    this.view = this.own(vscode.window.createTreeView(VIEW_ID, { treeDataProvider: this.tree, showCollapseAll: true }));
    this.statusBar = this.own(new PreviewStatusBar(() => this.world));
    this.logs = this.own(new ProcessLogs(log));
    this.localServer = this.own(new LocalServer(log));
    this.own(onSettingsChanged(() => (this.settings = readSettings())));
    this.own(this.view.onDidChangeVisibility((e) => this.onVisibility(e.visible)));
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
    this.logs.setClient(client);
    this.connectionSubs = [
      connection.store.onDidChange(() => this.onWorldChanged()),
      connection.onSynced(() => this.tree.refreshNow()),
      connection.onEvent((event) => this.onEvent(event)),
      connection.onStatus((change) => {
        if (change.status === 'connected') this.logs.resumeAll();
        if (change.status === 'failed') this.errors.show('Lost the connection to the Worker', change.error);
      }),
    ];
    connection.setViewVisible(this.view.visible);
    await this.credentials.save(client.url, token);
    await this.setContext('connected', true);
    this.log.info(`connected to ${client.url}`);
    connection.start();
    await connection.refresh();
    void this.warnIfNotIsolated(client);
  }

  /** Worker URLs already warned about in this window: the warning is said once, not on every reconnect. */
  private readonly warnedNotIsolated = new Set<string>();

  /** A local Worker whose sandboxes run as plain processes says so, once, in plain words. */
  private async warnIfNotIsolated(client: ApiClient): Promise<void> {
    const health = await client.health().catch(() => null);
    if (health?.isolation !== 'none' || this.warnedNotIsolated.has(client.url)) return;
    this.warnedNotIsolated.add(client.url);
    const why = health.isolationReason ? ` (${health.isolationReason})` : '';
    this.log.warn(`sandboxes on ${client.url} are not isolated${why}`);
    void vscode.window.showWarningMessage(
      `Sandboxes on ${client.url} are not isolated${why}: their commands run as plain processes with your rights and share this machine's network.`,
    );
  }

  async disconnect(forget = true): Promise<void> {
    const connection = this.connection;
    if (!connection) return;
    this.connection = null;
    for (const sub of this.connectionSubs) sub.dispose();
    this.connectionSubs = [];
    this.logs.setClient(null);
    await connection.dispose();
    if (forget) await this.credentials.forgetLast();
    await this.setContext('connected', false);
    await this.setContext('hasSandboxes', false);
    this.tree.refreshNow();
    this.statusBar.update();
    this.log.info(`disconnected from ${connection.client.url}`);
  }

  /** On start-up: reconnect to the last Worker if its token is still stored. */
  async autoConnect(): Promise<void> {
    const url = this.credentials.lastUrl;
    if (!this.settings.autoConnect || !url) return;
    const token = await this.credentials.token(url);
    if (!token) return;
    try {
      await this.connect(url, token);
    } catch (err) {
      this.log.warn(`could not reconnect to ${url}: ${(err as Error).message}`);
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
    const decision = decidePortDetected(event, this.world, this.settings.onPortDetected, this.ignoredPorts);
    if (!decision || decision.action === 'none') return;
    const ref = { sandboxId: decision.sandboxId, port: decision.port, ...(decision.processId ? { processId: decision.processId } : {}) };
    if (decision.action === 'expose' || decision.action === 'exposeAndOpen') {
      void vscode.commands.executeCommand('sandboxPorts.exposePort', ref, { open: decision.action === 'exposeAndOpen' });
      return;
    }
    void vscode.window
      .showInformationMessage(`A process in sandbox ${decision.sandboxId} is listening on port ${decision.port}.`, 'Expose', 'Expose & Open', 'Ignore')
      .then((choice) => {
        if (choice === 'Expose') void vscode.commands.executeCommand('sandboxPorts.exposePort', ref, { open: false });
        else if (choice === 'Expose & Open') void vscode.commands.executeCommand('sandboxPorts.exposePort', ref, { open: true });
        else if (choice === 'Ignore') this.ignoredPorts.add(ignoreKey(decision.sandboxId, decision.port));
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
