/**
 * Start / stop the local stack: runs this project's `npm start` in the folder the setting names
 * (by default the open workspace folder when it is this project), waits for the fresh
 * .sandbox-ports/local.json and the health route, and answers the URL and token to connect with.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as vscode from 'vscode';
import { ApiClient } from './core/api-client';
import { httpFetch } from './http-fetch';
import { isSandboxPortsProject, LOCAL_CONFIG_PATH, parseLocalConfig, type LocalConfig } from './core/local-config';

const START_TIMEOUT_MS = 120_000;

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
   * The token of a local server at `url`, from the local.json `npm start` wrote (its state folder,
   * the configured project folder, or a workspace folder): after a window reload that lost the
   * secret, a local server can still be reconnected with one click.
   */
  static tokenFor(url: string, setting: string): string | undefined {
    const folders = [setting, ...(vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file').map((f) => f.uri.fsPath)].filter(Boolean);
    for (const folder of folders) {
      const config = readConfig(folder);
      if (config && config.url === url) return config.token;
    }
    return undefined;
  }

  /** A server already answering with the token in local.json (started in a terminal, say). */
  static async alreadyRunning(folder: string): Promise<LocalConfig | null> {
    const config = readConfig(folder);
    if (!config) return null;
    try {
      await new ApiClient({ ...config, fetch: httpFetch }).listSandboxes();
      return config;
    } catch {
      return null;
    }
  }

  async start(folder: string, token: vscode.CancellationToken): Promise<LocalConfig> {
    if (this.running) throw new Error('The local server is already running (Stop Local Server first).');
    const configFile = configPath(folder);
    const before = mtime(configFile);
    this.output ??= vscode.window.createOutputChannel('Sandbox Ports: Local Server');
    const output = this.output;
    output.appendLine(`$ npm start   (in ${folder})`);
    this.log.info(`starting the local server in ${folder}`);
    // Its own process group, so stopping it reaches wrangler, the container host and every agent.
    const child = spawn(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['start'], {
      cwd: folder,
      detached: process.platform !== 'win32',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
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
      output.appendLine(`[npm start exited: ${signal ?? code}]`);
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
        throw new Error(`npm start exited before the server was ready. Its last output:\n${tail.slice(-600)}`);
      }
      const written = mtime(configFile);
      if (written !== null && (before === null || written > before)) {
        const config = readConfig(folder);
        if (config && (await healthy(config.url))) return config;
      }
      if (Date.now() > deadline) {
        await this.stop();
        throw new Error(`The local server did not become ready within ${START_TIMEOUT_MS / 1000} s. See the "Sandbox Ports: Local Server" output.`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** SIGTERM to the group (npm start shuts everything down), SIGKILL after 10 s. */
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

/** Where `npm start` writes { url, token }: SANDBOX_PORTS_HOME when set (as npm start reads it), else the project's .sandbox-ports/. */
function configPath(folder: string): string {
  const home = process.env.SANDBOX_PORTS_HOME;
  return home ? path.join(path.resolve(home), LOCAL_CONFIG_PATH[1]) : path.join(folder, ...LOCAL_CONFIG_PATH);
}

function mtime(file: string): number | null {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return null;
  }
}

function readConfig(folder: string): LocalConfig | null {
  try {
    return parseLocalConfig(fs.readFileSync(configPath(folder), 'utf8'));
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
