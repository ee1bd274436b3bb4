/**
 * Maps a sandbox path (`/workspace/...` or relative to it) onto the folder that backs the
 * workspace, refusing anything that would leave it. Textual rules only; files.ts adds the
 * symlink checks that need the disk. Pure: no I/O.
 */
import path from 'node:path';
import { ErrorCode, SandboxError } from '../../worker/protocol/errors';
import { WORKSPACE_ROOT } from '../../worker/protocol/agent';

export interface WorkspacePath {
  /** The path as the sandbox sees it, normalised: `/workspace/app/x.txt`. */
  sandboxPath: string;
  /** Relative to the workspace root ('' for the root itself). */
  relative: string;
  /** The real location on this machine. */
  hostPath: string;
}

export function outsideWorkspace(input: string, why = 'is outside the workspace'): SandboxError {
  return new SandboxError(ErrorCode.PATH_OUTSIDE_WORKSPACE, `Path '${input}' ${why}: paths must stay inside ${WORKSPACE_ROOT}`);
}

export function resolveWorkspacePath(input: unknown, hostRoot: string, what = 'Path'): WorkspacePath {
  if (typeof input !== 'string' || input.length === 0) {
    throw new SandboxError(ErrorCode.INVALID_PATH, `${what} must be a non-empty string inside ${WORKSPACE_ROOT}`);
  }
  if (input.includes('\0')) {
    throw new SandboxError(ErrorCode.INVALID_PATH, `${what} '${input.replace(/\0/g, '\\0')}' contains a NUL byte: give a plain path inside ${WORKSPACE_ROOT}`);
  }
  let rel: string;
  if (input.startsWith('/')) {
    if (input !== WORKSPACE_ROOT && !input.startsWith(WORKSPACE_ROOT + '/')) throw outsideWorkspace(input);
    rel = input.slice(WORKSPACE_ROOT.length);
  } else {
    rel = input;
  }
  const parts: string[] = [];
  for (const segment of rel.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (parts.length === 0) throw outsideWorkspace(input, 'escapes the workspace with ..');
      parts.pop();
    } else parts.push(segment);
  }
  const relative = parts.join('/');
  return {
    sandboxPath: relative ? `${WORKSPACE_ROOT}/${relative}` : WORKSPACE_ROOT,
    relative,
    hostPath: relative ? path.join(hostRoot, ...parts) : hostRoot,
  };
}

/**
 * A path in a sandbox whose every visible path is its own (namespaces, or a container): any
 * absolute path is taken as it is, normalised; a relative one is relative to /workspace, which is
 * `workspace` here.
 */
export function resolveOwnPath(input: unknown, workspace: string, what = 'Path'): WorkspacePath {
  if (typeof input !== 'string' || input.length === 0) throw new SandboxError(ErrorCode.INVALID_PATH, `${what} must be a non-empty string`);
  if (input.includes('\0')) throw new SandboxError(ErrorCode.INVALID_PATH, `${what} '${input.replace(/\0/g, '\\0')}' contains a NUL byte`);
  const absolute = path.posix.resolve(workspace, input);
  return { sandboxPath: absolute, relative: absolute.slice(1), hostPath: absolute };
}

/** True when `candidate` is `root` or inside it (both absolute, already resolved). */
export function isInside(root: string, candidate: string): boolean {
  if (candidate === root) return true;
  const prefix = root.endsWith(path.sep) ? root : root + path.sep;
  return candidate.startsWith(prefix);
}
