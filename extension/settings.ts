/** The extension's settings (contributes.configuration), read in one place with their defaults. */
import * as vscode from 'vscode';
import { portDetectedAction, type PortDetectedAction } from './core/port-detected';

const SECTION = 'sandboxPorts';

export interface Settings {
  /** Folder where "Start Local Server" runs `npm start`; empty = the open workspace when it is this project. */
  localServerFolder: string;
  /** The npm package spec Start Local Server runs; empty = sandbox-ports-local at the extension's version. */
  localServerPackage: string;
  onPortDetected: PortDetectedAction;
  /** Open the preview in the Simple Browser once an exposed port answers. */
  openOnExpose: boolean;
  /** Seconds to wait for an exposed port to answer before giving up on opening it. */
  readyTimeoutSeconds: number;
  /** Seconds between fallback polls (only while the event stream is down and the view is visible). */
  pollIntervalSeconds: number;
  /** Reconnect on start-up to the Worker used last. */
  autoConnect: boolean;
}

export function readSettings(): Settings {
  const c = vscode.workspace.getConfiguration(SECTION);
  return {
    localServerFolder: c.get<string>('localServer.folder', '').trim(),
    localServerPackage: c.get<string>('localServer.package', '').trim(),
    onPortDetected: portDetectedAction(c.get('onPortDetected', 'notify')),
    openOnExpose: c.get<boolean>('openOnExpose', true),
    readyTimeoutSeconds: Math.max(1, c.get<number>('readyTimeout', 30)),
    pollIntervalSeconds: Math.max(1, c.get<number>('pollInterval', 10)),
    autoConnect: c.get<boolean>('autoConnect', true),
  };
}

export function onSettingsChanged(listener: () => void): vscode.Disposable {
  return vscode.workspace.onDidChangeConfiguration((e) => {
    if (e.affectsConfiguration(SECTION)) listener();
  });
}
