// `npm run lint`: worker/worker-configuration.d.ts must be what `wrangler types` makes from
// worker/wrangler.jsonc today (run with --write to regenerate it after changing the config).
import { spawnSync } from 'node:child_process';
import { nodeBinary } from './node-runtime.mjs';
import { wranglerBin, wranglerEnv } from './worker-bundle.mjs';

const write = process.argv.includes('--write');
const args = ['types', '-c', 'worker/wrangler.jsonc', '--include-runtime=false', '--strict-vars=false', '--env-interface', 'WranglerEnv', 'worker/worker-configuration.d.ts'];
const r = spawnSync(nodeBinary(), [wranglerBin(), ...args, ...(write ? [] : ['--check'])], { env: wranglerEnv(), encoding: 'utf8' });
if (r.status !== 0) {
  console.error(`${r.stdout}${r.stderr}`.trim());
  console.error(write ? 'wrangler types failed' : 'worker/worker-configuration.d.ts is out of date: run node scripts/check-env-types.mjs --write');
  process.exit(1);
}
console.log(write ? 'worker/worker-configuration.d.ts written' : 'worker/worker-configuration.d.ts matches worker/wrangler.jsonc');
