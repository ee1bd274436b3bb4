/**
 * Programs the tests run inside sandboxes. A sandbox sees none of this project's folders, so a
 * fixture goes in the way a user's code would: bundled into one file (with its npm dependencies)
 * and written into the sandbox through the control API.
 */
import { buildSync } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import type { Api } from './api';

const outDir = path.resolve('test-output', 'fixtures');
const built = new Map<string, Buffer>();

/** One file holding `entry` and what it requires (ws's optional native helpers left out). */
export function bundled(entry: string): Buffer {
  let bytes = built.get(entry);
  if (!bytes) {
    const outfile = path.join(outDir, `${path.basename(entry, path.extname(entry))}.js`);
    buildSync({
      entryPoints: [path.resolve(entry)],
      outfile,
      bundle: true,
      platform: 'node',
      target: 'node18',
      format: 'cjs',
      external: ['bufferutil', 'utf-8-validate'],
      logLevel: 'warning',
    });
    bytes = fs.readFileSync(outfile);
    built.set(entry, bytes);
  }
  return bytes;
}

/** Where fixtures live in a sandbox, relative to /workspace (commands start there). */
export const FIXTURE_DIR = '.fixtures';

/** Writes a bundled fixture into the sandbox; answers its path relative to /workspace. */
export async function installFixture(api: Api, box: string, entry: string): Promise<string> {
  const name = `${FIXTURE_DIR}/${path.basename(entry, path.extname(entry))}.js`;
  const res = await api.call('PUT', `/sandboxes/${box}/files?path=${encodeURIComponent(`/workspace/${name}`)}`, new Uint8Array(bundled(entry)));
  if (res.status !== 201 && res.status !== 200) throw new Error(`could not write ${name} into ${box}: ${res.status} ${JSON.stringify(res.body)}`);
  return name;
}

/** Makes `require('ws')` work in the sandbox's /workspace, as `npm install ws` would. */
export async function installWs(api: Api, box: string): Promise<void> {
  const res = await api.call('PUT', `/sandboxes/${box}/files?path=${encodeURIComponent('/workspace/node_modules/ws/index.js')}`, new Uint8Array(bundled(require.resolve('ws'))));
  if (res.status !== 201 && res.status !== 200) throw new Error(`could not write ws into ${box}: ${res.status}`);
}
