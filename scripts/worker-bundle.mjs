// The Worker bundle plain workerd runs: exactly what `wrangler deploy` would upload, made with
// `wrangler deploy --dry-run --outdir`. Rebuilt only when an input is newer than the bundle, since
// wrangler takes a few seconds.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { nodeBinary } from './node-runtime.mjs';

const require = createRequire(import.meta.url);

export function wranglerBin() {
  return path.join(path.dirname(require.resolve('wrangler/package.json')), 'bin', 'wrangler.js');
}

/** The environment wrangler runs with here: no telemetry, no fetches at start, plain output. */
export function wranglerEnv(extra = {}) {
  return { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_LOG_SANITIZE: 'true', NO_COLOR: '1', ...extra };
}

function newestMtime(entry) {
  const st = fs.statSync(entry, { throwIfNoEntry: false });
  if (!st) return 0;
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const name of fs.readdirSync(entry)) {
    if (name === 'node_modules') continue;
    newest = Math.max(newest, newestMtime(path.join(entry, name)));
  }
  return newest;
}

/**
 * Bundles the Worker of `config` (a wrangler.jsonc) into `outdir` unless the bundle there is newer
 * than every file in `inputs` (folders are walked). Answers the bundle's main module.
 */
export function bundleWorker({ config, outdir, inputs = [path.dirname(config)] }) {
  const main = path.join(outdir, 'index.js');
  const built = fs.statSync(main, { throwIfNoEntry: false })?.mtimeMs ?? 0;
  if (built > Math.max(...inputs.map(newestMtime))) return main;
  // An empty --env selects the top level, without wrangler's warning about environments.
  const r = spawnSync(nodeBinary(), [wranglerBin(), 'deploy', '--dry-run', '--env', '', '--outdir', outdir, '-c', config], {
    env: wranglerEnv(),
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`bundling the Worker (wrangler deploy --dry-run -c ${config}) failed:\n${r.stdout}\n${r.stderr}`);
  return main;
}
