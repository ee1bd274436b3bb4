/**
 * `git clone --depth 1` of a repository into the workspace. The command runner is passed in, so
 * the decisions here (target folder, arguments, errors) need no child process to test.
 */
import { ErrorCode, SandboxError } from '../../worker/protocol/errors';
import { WORKSPACE_ROOT, type CheckoutRequest } from '../../worker/protocol/agent';
import type { Files } from './files';

export const CHECKOUT_TIMEOUT_MS = 10 * 60_000;

export interface GitResult {
  exitCode: number | null;
  stderr: string;
  timedOut: boolean;
  spawnError?: string;
}

export type GitRunner = (args: string[], cwd: string) => Promise<GitResult>;

/** The folder name git itself would choose: the last path segment without `.git`. */
export function repoNameFromUrl(repoUrl: string): string {
  const trimmed = repoUrl.replace(/[?#].*$/, '').replace(/[/\\]+$/, '');
  const last = trimmed.split(/[/:\\]/).pop() ?? '';
  const name = last.replace(/\.git$/i, '');
  return name && name !== '.' && name !== '..' ? name : 'repo';
}

export function cloneArgs(req: CheckoutRequest, hostDir: string): string[] {
  const args = ['clone', '--depth', '1'];
  if (req.branch) args.push('--branch', req.branch);
  args.push('--', req.repoUrl, hostDir);
  return args;
}

export async function checkout(req: CheckoutRequest, files: Files, git: GitRunner): Promise<{ path: string }> {
  const target = await files.resolve(req.targetDir ?? `${WORKSPACE_ROOT}/${repoNameFromUrl(req.repoUrl)}`, 'targetDir');
  const result = await git(cloneArgs(req, target.hostPath), files.hostRoot);
  if (result.spawnError) {
    throw new SandboxError(ErrorCode.COMMAND_FAILED, `git clone could not run (is git installed?): ${result.spawnError}`);
  }
  if (result.timedOut) {
    throw new SandboxError(ErrorCode.COMMAND_FAILED, `git clone of ${req.repoUrl} did not finish within ${CHECKOUT_TIMEOUT_MS}ms`);
  }
  if (result.exitCode !== 0) {
    // git names the folder by its real location; the client knows it as /workspace/...
    const detail = result.stderr.trim().split(files.hostRoot).join(WORKSPACE_ROOT) || `exit code ${result.exitCode}`;
    throw new SandboxError(ErrorCode.COMMAND_FAILED, `git clone of ${req.repoUrl} failed: ${detail}`);
  }
  return { path: target.sandboxPath };
}
