/**
 * One output channel per process, reused: streams the process's log live and resumes from the
 * last event id after the connection drops, so nothing is printed twice or lost.
 */
import * as vscode from 'vscode';
import type { ApiClient } from './core/api-client';
import { shorten } from './core/format';
import { LogCursors, LogFollower } from './core/log-follower';

/** The last characters appended to each channel; OutputChannel cannot be read back, tests need to. */
const MIRROR_CHARS = 64 * 1024;

interface ProcessLog {
  channel: vscode.OutputChannel;
  follower: LogFollower | null;
  mirror: string;
}

export interface LogAppend {
  sandboxId: string;
  processId: string;
  text: string;
  /** Date.now() when the text reached the channel. */
  at: number;
}

export class ProcessLogs implements vscode.Disposable {
  private readonly logs = new Map<string, ProcessLog>();
  private readonly appended = new vscode.EventEmitter<LogAppend>();
  /** Fires for every piece of text written to a channel (for the latency measurement). */
  readonly onDidAppend = this.appended.event;
  private cursors = new LogCursors();
  private client: ApiClient | null = null;
  private readonly diagnostics: vscode.LogOutputChannel;
  private readonly commandOf: (sandboxId: string, processId: string) => string | undefined;

  constructor(diagnostics: vscode.LogOutputChannel, commandOf: (sandboxId: string, processId: string) => string | undefined) {
    this.diagnostics = diagnostics;
    this.commandOf = commandOf;
  }

  /** The channel's name: the command a person typed (short), then the sandbox; the id only when the command is unknown. */
  channelName(sandboxId: string, processId: string): string {
    const command = this.commandOf(sandboxId, processId);
    return `${command ? shorten(command, 48) : processId} (${sandboxId})`;
  }

  /**
   * The connection changed. Back to the same Worker, channels resume where they were; another
   * Worker's processes are not these, so their channels close (instead of following ids the new
   * Worker does not know).
   */
  setClient(client: ApiClient | null): void {
    for (const log of this.logs.values()) {
      void log.follower?.stop();
      log.follower = null;
    }
    if (client && client.url !== this.channelsUrl) {
      this.cursors = new LogCursors();
      for (const log of this.logs.values()) log.channel.dispose();
      this.logs.clear();
      this.channelsUrl = client.url;
    }
    this.client = client;
  }

  /** The Worker the open channels belong to. */
  private channelsUrl: string | undefined;

  /** Shows (creating if needed) the process's channel and makes sure it is streaming. */
  show(sandboxId: string, processId: string, preserveFocus = true): void {
    this.follow(sandboxId, processId).channel.show(preserveFocus);
  }

  follow(sandboxId: string, processId: string): ProcessLog {
    const key = LogCursors.key(sandboxId, processId);
    let log = this.logs.get(key);
    if (!log) {
      log = { channel: vscode.window.createOutputChannel(this.channelName(sandboxId, processId)), follower: null, mirror: '' };
      this.logs.set(key, log);
    }
    if (this.client && !log.follower?.active && !this.cursors.hasEnded(key)) {
      const client = this.client;
      const target = log;
      const write = (text: string) => {
        target.channel.append(text);
        target.mirror = (target.mirror + text).slice(-MIRROR_CHARS);
        this.appended.fire({ sandboxId, processId, text, at: Date.now() });
      };
      target.follower = new LogFollower({
        sandboxId,
        processId,
        path: client.logStreamPath(sandboxId, processId),
        openStream: (path, last, signal) => client.openStream(path, last, signal),
        cursors: this.cursors,
        sink: { append: write, note: (text) => write(`${text}\n`) },
        onError: (err) => this.diagnostics.warn(`log stream ${key}: ${(err as Error).message}`),
      });
      target.follower.start();
    }
    return log;
  }

  /** After the event stream came back: resume every channel that was still streaming. */
  resumeAll(): void {
    for (const key of this.logs.keys()) {
      const [sandboxId, ...rest] = key.split('/');
      this.follow(sandboxId!, rest.join('/'));
    }
  }

  /** What the channel has shown (its last 64 KiB). */
  text(sandboxId: string, processId: string): string {
    return this.logs.get(LogCursors.key(sandboxId, processId))?.mirror ?? '';
  }

  /** A cleared process's channel goes away. */
  forget(sandboxId: string, processId: string): void {
    const key = LogCursors.key(sandboxId, processId);
    const log = this.logs.get(key);
    if (!log) return;
    void log.follower?.stop();
    log.channel.dispose();
    this.logs.delete(key);
  }

  /** A destroyed sandbox's channels go away. */
  forgetSandbox(sandboxId: string): void {
    for (const [key, log] of this.logs) {
      if (!key.startsWith(`${sandboxId}/`)) continue;
      void log.follower?.stop();
      log.channel.dispose();
      this.logs.delete(key);
    }
    this.cursors.forgetSandbox(sandboxId);
  }

  dispose(): void {
    this.appended.dispose();
    for (const log of this.logs.values()) {
      void log.follower?.stop();
      log.channel.dispose();
    }
    this.logs.clear();
  }
}
