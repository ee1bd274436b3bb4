/**
 * Start / stop the local stack. By default it runs the local-runtime npm package at the
 * extension's own version (`npm exec sandbox-ports-local@<version>`), so nothing but the .vsix and
 * npm is needed; people developing this project can point the folder setting at their checkout,
 * where `npm start` runs instead. Either way it waits for a fresh local.json and the health route,
 * and answers the URL and token to connect with.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as vscode from 'vscode';
import { ApiClient } from './core/api-client';
import { httpFetch } from './http-fetch';
import { isSandboxPortsProject, LOCAL_CONFIG_PATH, parseLocalConfig, type LocalConfig } from './core/local-config';

// The first start downloads the package (and workerd) from the registry.
const START_TIMEOUT_MS = 300_000;
export const LOCAL_PACKAGE = 'sandbox-ports-local';

/** How to start the stack: where, which command, and where it will write local.json. */
export interface Launch {
  cwd: string;
  args: string[];
  env: Record<string, string>;
  configFile: string;
  /** For the output channel and the log: what runs, in words. */
  describe: string;
}

/** `npm start` in a checkout of this project. */
export function folderLaunch(folder: string): Launch {
  const home = process.env.SANDBOX_PORTS_HOME;
  const configFile = home ? path.join(path.resolve(home), LOCAL_CONFIG_PATH[1]) : path.join(folder, ...LOCAL_CONFIG_PATH);
  return { cwd: folder, args: ['start'], env: {}, configFile, describe: `npm start   (in ${folder})` };
}

/**
 * The local-runtime tarball this extension carries (`npm run package` puts it in dist/local/), or
 * null in a build without it. Never a bare registry name by default: `npm exec --yes` would run
 * whatever a stranger published under it.
 */
export function bundledPackage(extensionPath: string): string | null {
  const dir = path.join(extensionPath, 'dist', 'local');
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return null;
  }
  const tarball = names.find((n) => n.startsWith(`${LOCAL_PACKAGE}-`) && n.endsWith('.tgz'));
  return tarball ? path.join(dir, tarball) : null;
}

/** The local-runtime package through `npm exec`; its state in SANDBOX_PORTS_HOME or ~/.sandbox-ports. */
export function packageLaunch(spec: string): Launch {
  const home = path.resolve(process.env.SANDBOX_PORTS_HOME ?? path.join(os.homedir(), '.sandbox-ports'));
  return {
    cwd: os.homedir(),
    args: ['exec', '--yes', `--package=${spec}`, '--', LOCAL_PACKAGE],
    env: { SANDBOX_PORTS_HOME: home },
    configFile: path.join(home, LOCAL_CONFIG_PATH[1]),
    describe: `npm exec ${spec}`,
  };
}

export class LocalServer implements vscode.Disposable {
  private child: ChildProcess | null = null;
  private output: vscode.OutputChannel | null = null;
  private readonly log: vscode.LogOutputChannel;

  constructor(log: vscode.LogOutputChannel) {
    this.log = log;
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The project folder: the setting, or the first workspace folder whose package.json is this project. */
  static findFolder(setting: string): string | undefined {
    if (setting) return setting;
    for (const folder of vscode.workspace.workspaceFolders ?? []) {
      if (folder.uri.scheme === 'file' && LocalServer.isProjectFolder(folder.uri.fsPath)) return folder.uri.fsPath;
    }
    return undefined;
  }

  static isProjectFolder(folder: string): boolean {
    try {
      return isSandboxPortsProject(fs.readFileSync(path.join(folder, 'package.json'), 'utf8'));
    } catch {
      return false;
    }
  }

  /**
   * The token of a local server at `url`, from the local.json it wrote (the package's state folder,
   * the configured project folder, or a workspace folder): after a window reload that lost the
   * secret, a local server can still be reconnected with one click.
   */
  static tokenFor(url: string, setting: string): string | undefined {
    const folders = [setting, ...(vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file').map((f) => f.uri.fsPath)].filter(Boolean);
    const files = [packageLaunch(LOCAL_PACKAGE).configFile, ...folders.map((f) => folderLaunch(f).configFile)];
    for (const file of files) {
      const config = readConfig(file);
      if (config && config.url === url) return config.token;
    }
    return undefined;
  }

  /** A server already answering with the token in local.json (started in a terminal, say). */
  static async alreadyRunning(launch: Launch): Promise<LocalConfig | null> {
    const config = readConfig(launch.configFile);
    if (!config) return null;
    try {
      await new ApiClient({ ...config, fetch: httpFetch }).listSandboxes();
      return config;
    } catch {
      return null;
    }
  }

  async start(launch: Launch, token: vscode.CancellationToken): Promise<LocalConfig> {
    if (this.running) throw new Error('The local server is already running (Stop Local Server first).');
    const before = mtime(launch.configFile);
    this.output ??= vscode.window.createOutputChannel('Sandbox Ports: Local Server');
    const output = this.output;
    output.appendLine(`$ ${launch.describe}`);
    this.log.info(`starting the local server: ${launch.describe}`);
    // Its own process group, so stopping it reaches workerd, the container host and every agent.
    const child = spawn(process.platform === 'win32' ? 'npm.cmd' : 'npm', launch.args, {
      cwd: launch.cwd,
      detached: process.platform !== 'win32',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...launch.env, NO_COLOR: '1', FORCE_COLOR: '0', npm_config_update_notifier: 'false' },
    });
    this.child = child;
    let tail = '';
    const onData = (buf: Buffer) => {
      const text = buf.toString();
      tail = (tail + text).slice(-4000);
      output.append(text);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('exit', (code, signal) => {
      output.appendLine(`[${launch.describe} exited: ${signal ?? code}]`);
      this.log.info(`local server exited (${signal ?? code})`);
      if (this.child === child) this.child = null;
    });
    const spawnError = new Promise<never>((_, reject) => child.once('error', reject));
    spawnError.catch(() => {});

    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (token.isCancellationRequested) {
        await this.stop();
        throw new vscode.CancellationError();
      }
      if (!this.running) {
        await Promise.race([spawnError, Promise.resolve()]);
        throw new Error(`${launch.describe} exited before the server was ready. Its last output:\n${tail.slice(-600)}`);
      }
      const written = mtime(launch.configFile);
      if (written !== null && (before === null || written > before)) {
        const config = readConfig(launch.configFile);
        if (config && (await healthy(config.url))) return config;
      }
      if (Date.now() > deadline) {
        await this.stop();
        throw new Error(`The local server did not become ready within ${START_TIMEOUT_MS / 1000} seconds. See the "Sandbox Ports: Local Server" output.`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** SIGTERM to the group (the start script shuts everything down), SIGKILL after 10 s. */
  async stop(): Promise<boolean> {
    const child = this.child;
    if (!child || !this.running) return false;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    signalGroup(child, 'SIGTERM');
    const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
    this.child = null;
    return true;
  }

  dispose(): void {
    if (this.child && this.running) signalGroup(this.child, 'SIGTERM');
    this.output?.dispose();
  }
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid && process.platform !== 'win32') process.kill(-child.pid, signal);
    else child.kill(signal);
  } catch {
    /* already gone */
  }
}

function mtime(file: string): number | null {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return null;
  }
}

function readConfig(file: string): LocalConfig | null {
  try {
    return parseLocalConfig(fs.readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}

async function healthy(url: string): Promise<boolean> {
  try {
    await new ApiClient({ url, token: '', fetch: httpFetch }).health();
    return true;
  } catch {
    return false;
  }
}
