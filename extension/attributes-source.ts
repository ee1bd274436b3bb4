/**
 * Where per-port attributes come from: the setting `sandboxPorts.portsAttributes` first, then
 * `.sandbox-ports.json` in each workspace folder (watched). Problems go to the log once per
 * reading; the rules themselves are parsed and matched in core/port-attributes.
 */
import * as vscode from 'vscode';
import { ATTRIBUTES_FILE, parseAttributesFile, parsePortsAttributes, type AttributeRule } from './core/port-attributes';

export class AttributesSource implements vscode.Disposable {
  private current: AttributeRule[] = [];
  private readonly disposables: vscode.Disposable[] = [];
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;
  private readonly log: vscode.LogOutputChannel;

  private watchers: vscode.Disposable[] = [];
  private readonly firstLoad: ReturnType<typeof setTimeout>;

  constructor(log: vscode.LogOutputChannel) {
    this.log = log;
    const reload = () => void this.reload();
    this.disposables.push(
      vscode.workspace.onDidChangeConfiguration((e) => e.affectsConfiguration('sandboxPorts.portsAttributes') && reload()),
      vscode.workspace.onDidChangeWorkspaceFolders(() => {
        this.watch();
        reload();
      }),
      this.changed,
    );
    // After activation: reading files and setting up watchers need not delay it.
    this.firstLoad = setTimeout(() => {
      this.watch();
      reload();
    }, 0);
  }

  /** One watcher per workspace folder, for the file at its root only (no recursive glob). */
  private watch(): void {
    for (const w of this.watchers.splice(0)) w.dispose();
    const reload = () => void this.reload();
    for (const folder of vscode.workspace.workspaceFolders ?? []) {
      const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(folder, ATTRIBUTES_FILE));
      this.watchers.push(watcher, watcher.onDidCreate(reload), watcher.onDidChange(reload), watcher.onDidDelete(reload));
    }
  }

  get rules(): readonly AttributeRule[] {
    return this.current;
  }

  async reload(): Promise<void> {
    const parsed = [parsePortsAttributes(vscode.workspace.getConfiguration('sandboxPorts').get('portsAttributes'), 'settings')];
    for (const folder of vscode.workspace.workspaceFolders ?? []) {
      const uri = vscode.Uri.joinPath(folder.uri, ATTRIBUTES_FILE);
      try {
        parsed.push(parseAttributesFile(new TextDecoder().decode(await vscode.workspace.fs.readFile(uri))));
      } catch {
        /* no file in this folder */
      }
    }
    for (const problem of parsed.flatMap((p) => p.problems)) this.log.warn(`port attributes: ${problem}`);
    this.current = parsed.flatMap((p) => p.rules);
    this.changed.fire();
  }

  /** "Always ignore": writes `{ onDetect: 'ignore' }` for the port to the workspace settings (user settings without a workspace). */
  async ignoreForever(port: number): Promise<void> {
    const config = vscode.workspace.getConfiguration('sandboxPorts');
    const target = vscode.workspace.workspaceFolders?.length ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
    const inspected = config.inspect<Record<string, unknown>>('portsAttributes');
    const existing = (target === vscode.ConfigurationTarget.Workspace ? inspected?.workspaceValue : inspected?.globalValue) ?? {};
    const entry = (existing[String(port)] as Record<string, unknown> | undefined) ?? {};
    await config.update('portsAttributes', { ...existing, [String(port)]: { ...entry, onDetect: 'ignore' } }, target);
    await this.reload();
  }

  dispose(): void {
    // Disposed before the first load ran (a quick deactivate): no watcher may be made after this.
    clearTimeout(this.firstLoad);
    for (const d of [...this.watchers.splice(0), ...this.disposables.splice(0)]) d.dispose();
  }
}
