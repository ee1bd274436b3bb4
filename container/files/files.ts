/**
 * File operations confined to the workspace: the textual rules of workspace-path.ts, plus a check
 * on disk that no symbolic link along the way leads outside (the real path of the deepest part
 * that exists must stay inside the real workspace). With `ownView` (the agent runs in namespaces
 * of its own, where everything it can see is the sandbox's) any path is the sandbox's and none is
 * confined: the mount namespace is the boundary, symbolic links and races included.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ErrorCode, SandboxError } from '../../worker/protocol/errors';
import { isInside, outsideWorkspace, resolveOwnPath, resolveWorkspacePath, type WorkspacePath } from './workspace-path';

export class Files {
  readonly hostRoot: string;
  private readonly realRoot: string;

  private readonly ownView: boolean;

  /** The workspace folder must exist (main creates it). */
  constructor(hostRoot: string, { ownView = false }: { ownView?: boolean } = {}) {
    this.hostRoot = path.resolve(hostRoot);
    this.realRoot = fs.realpathSync(this.hostRoot);
    this.ownView = ownView;
  }

  /** Maps and checks a sandbox path; `what` names it in messages ("Path", "cwd", …). */
  async resolve(input: unknown, what = 'Path'): Promise<WorkspacePath> {
    if (this.ownView) return resolveOwnPath(input, this.hostRoot, what);
    const wp = resolveWorkspacePath(input, this.hostRoot, what);
    let existing = wp.hostPath;
    for (;;) {
      try {
        await fs.promises.lstat(existing);
        break;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if ((code !== 'ENOENT' && code !== 'ENOTDIR') || existing === this.hostRoot) throw fsError(err, wp.sandboxPath);
        existing = path.dirname(existing);
      }
    }
    let real: string;
    try {
      real = await fs.promises.realpath(existing);
    } catch {
      throw outsideWorkspace(String(input), 'goes through a symbolic link that cannot be resolved');
    }
    if (!isInside(this.realRoot, real)) throw outsideWorkspace(String(input), 'leads outside the workspace through a symbolic link');
    return wp;
  }

  async write(input: unknown, data: Buffer): Promise<{ path: string; size: number }> {
    const wp = await this.resolve(input);
    if (wp.relative === '' || wp.hostPath === this.hostRoot) throw isDirectory(wp.sandboxPath);
    try {
      await fs.promises.mkdir(path.dirname(wp.hostPath), { recursive: true });
      await fs.promises.writeFile(wp.hostPath, data);
    } catch (err) {
      throw fsError(err, wp.sandboxPath);
    }
    return { path: wp.sandboxPath, size: data.length };
  }

  /** Opens a file for reading; the caller streams it. */
  async open(input: unknown): Promise<{ path: string; size: number; stream: fs.ReadStream }> {
    const wp = await this.resolve(input);
    let handle: fs.promises.FileHandle;
    try {
      handle = await fs.promises.open(wp.hostPath, 'r');
    } catch (err) {
      throw fsError(err, wp.sandboxPath);
    }
    // The checks above looked at paths, which a process in the sandbox may swap (a symlink flipped)
    // before the open; what is read is the opened file, so that is what must be inside.
    if (!this.ownView && !(await this.opensInside(handle))) {
      await handle.close();
      throw outsideWorkspace(String(input), 'led outside the workspace through a symbolic link changed while it was opened');
    }
    const stat = await handle.stat();
    if (stat.isDirectory()) {
      await handle.close();
      throw isDirectory(wp.sandboxPath);
    }
    return { path: wp.sandboxPath, size: stat.size, stream: handle.createReadStream() };
  }

  /** Whether an opened file is inside the real workspace (by its descriptor, on Linux). */
  private async opensInside(handle: fs.promises.FileHandle): Promise<boolean> {
    if (process.platform !== 'linux') return true;
    try {
      return isInside(this.realRoot, await fs.promises.readlink(`/proc/self/fd/${handle.fd}`));
    } catch {
      return false;
    }
  }

  async mkdir(input: unknown, recursive: boolean): Promise<{ path: string }> {
    const wp = await this.resolve(input);
    try {
      await fs.promises.mkdir(wp.hostPath, { recursive });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // An existing directory is what was asked for.
      if (code === 'EEXIST' && (await isDir(wp.hostPath))) return { path: wp.sandboxPath };
      if (code === 'ENOENT') {
        // Node's recursive mkdir says ENOENT for a read-only or forbidden ancestor as well: name it.
        const blocked = recursive ? await ancestorProblem(wp.hostPath) : null;
        if (blocked) throw fsError(blocked, wp.sandboxPath);
        if (!recursive) throw new SandboxError(ErrorCode.FILE_NOT_FOUND, `The parent of ${wp.sandboxPath} does not exist (pass recursive: true to create it)`);
      }
      throw fsError(err, wp.sandboxPath);
    }
    return { path: wp.sandboxPath };
  }
}

/** Why the nearest existing ancestor of `p` cannot take a new folder (read-only, no permission), or null. */
async function ancestorProblem(p: string): Promise<NodeJS.ErrnoException | null> {
  for (let dir = path.dirname(p); ; dir = path.dirname(dir)) {
    try {
      await fs.promises.access(dir, fs.constants.W_OK);
      return null;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return err as NodeJS.ErrnoException;
    }
    if (path.dirname(dir) === dir) return null;
  }
}

async function isDir(p: string): Promise<boolean> {
  try {
    return (await fs.promises.stat(p)).isDirectory();
  } catch {
    return false;
  }
}

function isDirectory(sandboxPath: string): SandboxError {
  return new SandboxError(ErrorCode.IS_A_DIRECTORY, `${sandboxPath} is a directory`);
}

/** Turns a file-system error into the error a client can act on. */
export function fsError(err: unknown, sandboxPath: string): unknown {
  switch ((err as NodeJS.ErrnoException).code) {
    case 'ENOENT':
      return new SandboxError(ErrorCode.FILE_NOT_FOUND, `File not found: ${sandboxPath}`);
    case 'EISDIR':
      return isDirectory(sandboxPath);
    case 'ENOTDIR':
      return new SandboxError(ErrorCode.INVALID_PATH, `A parent of ${sandboxPath} is a file, not a directory`);
    case 'EEXIST':
      return new SandboxError(ErrorCode.INVALID_PATH, `${sandboxPath} already exists and is not a directory`);
    case 'EACCES':
    case 'EPERM':
      return new SandboxError(ErrorCode.INVALID_PATH, `Permission denied: ${sandboxPath}`);
    case 'EROFS':
      return new SandboxError(ErrorCode.INVALID_PATH, `${sandboxPath} is on a read-only file system (the system folders are; write under /workspace or /tmp)`);
    case 'ENAMETOOLONG':
      return new SandboxError(ErrorCode.INVALID_PATH, `Path is too long: ${sandboxPath}`);
    default:
      return err;
  }
}
