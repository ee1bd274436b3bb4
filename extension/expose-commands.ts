/**
 * Exposing ports from the extension: one step by default (a fresh custom token, so the URL stays
 * the same across restarts), an "Options…" path, the 127.0.0.1 warning, opening the preview when
 * the port first answers, and the changes that keep the URL (label, visibility).
 */
import * as vscode from 'vscode';
import { generateToken, isLoopbackAddress, type ExposedPort, type Visibility } from '../worker/protocol/index';
import type { ExposeRequest } from './core/api-client';
import { exposeRequest, oneStepExpose, reexpose, validateTokenInput, validateTtlInput, type ExposeAnswers } from './core/expose-input';
import { attributesFor, type PortAttributes } from './core/port-attributes';
import { waitUntilReady } from './core/ready';
import type { NodeRef } from './core/tree-model';
import type { Ctx } from './context';
import { httpFetch } from './http-fetch';
import { pickPort, pickSandbox, required } from './pickers';

type Ref = Partial<NodeRef> | undefined;

/** Options a caller (a notification, a test) may pass to Expose Port to skip the questions. */
export interface ExposeCommandOptions extends Partial<Omit<ExposeAnswers, 'port'>> {
  /** Open the preview once the port answers (default: the openOnExpose setting). */
  open?: boolean;
  /** Ask for label, visibility, token and expiry (the "Options…" path). */
  ask?: boolean;
  /** Expose a port bound to loopback only without the warning. */
  anyway?: boolean;
}

export async function exposePort(ctx: Ctx, ref: Ref, options: ExposeCommandOptions): Promise<unknown> {
  const sandboxId = await pickSandbox(ctx, ref);
  const s = ctx.world[sandboxId];
  const exposedPorts = new Set((s?.ports ?? []).map((p) => p.port));
  const candidates = (s?.detectedPorts ?? []).filter((d) => !exposedPorts.has(d.port) && (!ref?.processId || d.processId === ref.processId)).map((d) => d.port);
  const port = await pickPort(ctx, sandboxId, ref, candidates, `Expose Port in ${sandboxId}`);
  const listener = s?.detectedPorts.find((d) => d.port === port);
  if (listener && isLoopbackAddress(listener.address) && options.anyway !== true) {
    const answer = await vscode.window.showWarningMessage(
      `Port ${port} in sandbox ${sandboxId} listens on ${listener.address} only, so a preview cannot reach it. Make the service listen on 0.0.0.0:${port} (for example --host 0.0.0.0 or --bind 0.0.0.0).`,
      'Expose Anyway',
      'Cancel',
    );
    if (answer !== 'Expose Anyway') return undefined;
  }
  const current = s?.ports.find((p) => p.port === port);
  const attributes = attributesFor(ctx.attributes.rules, port);
  const base = options.ask ? await askExposeOptions(port, attributes, current) : oneStepExpose(port, attributes, current);
  const request = { ...base, ...pick(options) };
  const result = await ctx.withProgress(`Exposing port ${port}…`, () => ctx.client.exposePort(sandboxId, request));
  ctx.log.info(`exposed ${sandboxId}:${port} at ${result.url}`);
  ctx.statusBar.touch(result.url);
  await ctx.afterChange(sandboxId);
  if (options.open ?? ctx.settings.openOnExpose) void openWhenReady(ctx, sandboxId, port, result.url);
  else void vscode.window.setStatusBarMessage(`$(globe) Port ${port} is exposed at ${result.url}`, 5000);
  return result;
}

/** What a caller (a notification, a test) passed that goes into the request as it is. */
function pick(options: ExposeCommandOptions): Partial<ExposeRequest> {
  const out: Partial<ExposeRequest> = {};
  if (options.name !== undefined) out.name = options.name;
  if (options.token !== undefined) out.token = options.token;
  if (options.visibility !== undefined) out.visibility = options.visibility;
  if (options.ttl !== undefined) out.ttl = options.ttl;
  return out;
}

/**
 * Opens the preview when the port first answers, in the background (the expose itself is done).
 * A port that does not answer within the ready timeout gets one plain message; the wait goes on
 * (until it answers, the port is unexposed, or the person stops it) for up to ten minutes.
 */
async function openWhenReady(ctx: Ctx, sandboxId: string, port: number, url: string): Promise<void> {
  const abort = new AbortController();
  const connection = ctx.connection;
  const sub = connection?.store.onDidChange(({ world }) => {
    if (!world[sandboxId]?.ports.some((p) => p.port === port && p.url === url)) abort.abort();
  });
  const token = connection ? await ctx.credentials.token(connection.client.url) : undefined;
  const wait = (timeoutMs: number, intervalMs: number) => waitUntilReady({ url, fetch: httpFetch, ...(token ? { token } : {}), timeoutMs, intervalMs, signal: abort.signal });
  try {
    await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: `Waiting for port ${port} to answer` }, async () => {
      try {
        await wait(ctx.settings.readyTimeoutSeconds * 1000, 500);
      } catch (err) {
        if (abort.signal.aborted) throw err;
        void vscode.window
          .showInformationMessage(
            `Port ${port} in sandbox ${sandboxId} is exposed, but nothing answers there yet. The preview opens as soon as a service listens on 0.0.0.0:${port}.`,
            'Stop Waiting',
          )
          .then((choice) => choice && abort.abort());
        await wait(10 * 60_000, 2000);
      }
    });
    if (abort.signal.aborted) return;
    await vscode.commands.executeCommand('sandboxPorts.openPreview', { sandboxId, port, url });
  } catch (err) {
    if (!abort.signal.aborted) ctx.log.info(`not opening the preview of ${sandboxId}:${port}: ${(err as Error).message}`);
  } finally {
    sub?.dispose();
  }
}

async function askExposeOptions(port: number, attributes: PortAttributes, current: ExposedPort | undefined): Promise<ExposeRequest> {
  const title = `Expose Port ${port}`;
  const name = required(
    await vscode.window.showInputBox({
      title: `${title}: label (1/4)`,
      prompt: 'Label (optional; shown as "label (port)")',
      value: current?.name ?? attributes.label ?? '',
      placeHolder: 'web',
    }),
  );
  const visibility = required(
    await vscode.window.showQuickPick(
      [
        { label: 'Public', description: 'anyone with the URL', value: 'public' as Visibility },
        { label: 'Private', description: 'needs the control-API token (opens in VS Code through a one-time link)', value: 'private' as Visibility },
      ].sort((a) => (a.value === (current?.visibility ?? attributes.visibility ?? 'public') ? -1 : 1)),
      { title: `${title}: visibility (2/4)`, placeHolder: 'Who may open the preview?' },
    ),
  ).value;
  const token = required(
    await vscode.window.showInputBox({
      title: `${title}: URL token (3/4)`,
      prompt: current
        ? 'URL token: Enter keeps the current URL; a new one replaces it (the old URL stops working).'
        : 'URL token: Enter keeps this random one; it stays the same across restarts.',
      value: current ? '' : generateToken(),
      validateInput: validateTokenInput,
    }),
  );
  const ttl = required(
    await vscode.window.showInputBox({ title: `${title}: expiry (4/4)`, prompt: "Expires after (optional; e.g. '30m', '2h'; Enter for never)", validateInput: validateTtlInput }),
  );
  return exposeRequest({ port, name, token, visibility, ttl });
}

/**
 * An exposed port a command works on: the ref's, else one picked; a clear error when none is
 * exposed. `current` is undefined when the ref names a port that is not exposed.
 */
export async function pickExposed(ctx: Ctx, ref: Ref, title: string): Promise<{ sandboxId: string; port: number; current: ExposedPort | undefined }> {
  const sandboxId = await pickSandbox(ctx, ref);
  const ports = ctx.world[sandboxId]?.ports ?? [];
  if (!ref?.port && ports.length === 0) throw new Error(`Sandbox ${sandboxId} has no exposed ports. Expose one first.`);
  const port = await pickPort(
    ctx,
    sandboxId,
    ref,
    ports.map((p) => p.port),
    title,
  );
  return { sandboxId, port, current: ports.find((p) => p.port === port) };
}

/** An exposed port to change (label, visibility). */
async function exposedPort(ctx: Ctx, ref: Ref, title: string): Promise<{ sandboxId: string; current: ExposedPort }> {
  const { sandboxId, port, current } = await pickExposed(ctx, ref, title);
  if (!current) throw new Error(`Port ${port} of sandbox ${sandboxId} is not exposed. Expose it first.`);
  return { sandboxId, current };
}

/** Set Label… (F2): a new name for an exposed port; empty removes it. The URL stays the same. */
export async function setLabel(ctx: Ctx, ref: Ref, label?: string): Promise<void> {
  const { sandboxId, current } = await exposedPort(ctx, ref, 'Set Label');
  const name =
    typeof label === 'string'
      ? label
      : required(
          await vscode.window.showInputBox({
            title: `Label for port ${current.port}`,
            prompt: 'Shown in the tree as "label (port)"; empty removes it. The URL stays the same.',
            value: current.name ?? '',
            validateInput: (v) => (v.length > 100 ? 'Up to 100 characters.' : undefined),
          }),
        );
  await ctx.withProgress(`Labelling port ${current.port}…`, () => ctx.client.exposePort(sandboxId, reexpose(current, { name: name.trim() || null })));
  await ctx.afterChange(sandboxId);
}

export async function setVisibility(ctx: Ctx, ref: Ref, visibility: Visibility): Promise<void> {
  const { sandboxId, current } = await exposedPort(ctx, ref, visibility === 'public' ? 'Make Public' : 'Make Private');
  if (current.visibility === visibility) return;
  const result = await ctx.withProgress(`Making port ${current.port} ${visibility}…`, () => ctx.client.exposePort(sandboxId, reexpose(current, { visibility })));
  await ctx.afterChange(sandboxId);
  void vscode.window.setStatusBarMessage(`$(${visibility === 'private' ? 'lock' : 'globe'}) Port ${current.port} is ${visibility}: ${result.url}`, 4000);
}

/** The preview URL of an exposed port, and the URL to open (a private preview opens through a fresh ticket). */
export async function previewUrl(ctx: Ctx, ref: Ref, title: string): Promise<{ url: string; open: string }> {
  const { sandboxId, port, current: exposed } = await pickExposed(ctx, ref, title);
  const url = exposed?.url ?? ref?.url;
  if (!url) throw new Error(`Port ${port} of sandbox ${sandboxId} is not exposed. Expose it first.`);
  if (exposed?.visibility !== 'private') return { url, open: url };
  return { url, open: await ctx.client.ticket(sandboxId, port) };
}
