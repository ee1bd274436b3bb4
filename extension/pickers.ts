/** Quick picks and input boxes that fill in what a command was not given. */
import * as vscode from 'vscode';
import { checkSandboxId, type ProcessInfo } from '../worker/protocol/index';
import type { NodeRef } from './core/tree-model';
import { validatePortInput } from './core/expose-input';
import type { Ctx } from './context';
import { Cancelled } from './errors';

/** The value, or a Cancelled error when the user pressed Escape. */
export function required<T>(value: T | undefined): T {
  if (value === undefined) throw new Cancelled();
  return value;
}

export async function pickSandbox(ctx: Ctx, ref?: Partial<NodeRef>): Promise<string> {
  if (ref?.sandboxId) return ref.sandboxId;
  const ids = Object.keys(ctx.world).sort();
  if (ids.length === 0) throw new Error('There are no sandboxes yet. Create one first ("Sandbox Ports: Create Sandbox").');
  if (ids.length === 1) return ids[0]!;
  const picked = await vscode.window.showQuickPick(
    ids.map((id) => ({ label: id, description: ctx.world[id]!.status })),
    { title: 'Sandbox', placeHolder: 'Which sandbox?' },
  );
  return required(picked).label;
}

export async function pickProcess(ctx: Ctx, ref: Partial<NodeRef> | undefined, filter: (p: ProcessInfo) => boolean, what: string): Promise<NodeRef & { processId: string }> {
  if (ref?.sandboxId && ref.processId) return { sandboxId: ref.sandboxId, processId: ref.processId };
  const sandboxId = await pickSandbox(ctx, ref);
  const processes = (ctx.world[sandboxId]?.processes ?? []).filter(filter);
  if (processes.length === 0) throw new Error(`Sandbox ${sandboxId} has no ${what}.`);
  const picked = await vscode.window.showQuickPick(
    processes.map((p) => ({ label: p.command, description: `${p.id} · ${p.status}${p.pid ? ` · pid ${p.pid}` : ''}`, id: p.id })),
    { title: `Process in ${sandboxId}`, placeHolder: `Which ${what}?` },
  );
  return { sandboxId, processId: required(picked).id };
}

/** A port: the ref's, one of the process's detected ports, or typed in. */
export async function pickPort(ctx: Ctx, sandboxId: string, ref: Partial<NodeRef> | undefined, candidates: number[], title: string): Promise<number> {
  if (ref?.port) return ref.port;
  if (candidates.length === 1) return candidates[0]!;
  if (candidates.length > 1) {
    const other = '$(edit) Another port…';
    const picked = required(await vscode.window.showQuickPick([...candidates.map((p) => ({ label: String(p) })), { label: other }], { title, placeHolder: 'Which port?' }));
    if (picked.label !== other) return Number(picked.label);
  }
  const typed = await vscode.window.showInputBox({ title, prompt: `Port in sandbox ${sandboxId} (1024–65535)`, placeHolder: '8080', validateInput: validatePortInput });
  return Number(required(typed).trim());
}

export async function askSandboxId(): Promise<string> {
  const value = await vscode.window.showInputBox({
    title: 'Create Sandbox',
    prompt: 'Sandbox id: lowercase letters, digits and -, up to 63 characters',
    placeHolder: 'my-box',
    validateInput: (v) => {
      try {
        checkSandboxId(v.trim());
        return /[A-Z]/.test(v) ? 'Use lowercase: preview URLs need lowercase sandbox ids.' : undefined;
      } catch (err) {
        return (err as Error).message;
      }
    },
  });
  return required(value).trim();
}
