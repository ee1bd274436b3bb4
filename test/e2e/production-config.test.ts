import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
// @ts-expect-error plain ESM module without types
import { nodeBinary } from '../../scripts/node-runtime.mjs';

/**
 * The production path, proven with what runs here (no Docker, no account): wrangler bundles the
 * Worker with the production configuration exactly as `wrangler deploy` would, skipping only the
 * container image build, and the result is checked.
 */
describe('production deployment (wrangler deploy --dry-run --env production)', function () {
  this.timeout(120000);
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'sandbox-ports-dry-'));
  let log = '';
  let exports: string[] = [];
  let config: any;
  let localConfig: any;

  before(async () => {
    const wrangler = path.resolve('node_modules/wrangler/bin/wrangler.js');
    log = execFileSync(
      nodeBinary(),
      [
        wrangler,
        'deploy',
        '-c',
        'worker/wrangler.jsonc',
        '--env',
        'production',
        '--dry-run',
        '--outdir',
        out,
        '--metafile',
        path.join(out, 'meta.json'),
        '--containers-rollout',
        'none',
      ],
      { env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false', NO_COLOR: '1' }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const meta = JSON.parse(fs.readFileSync(path.join(out, 'meta.json'), 'utf8'));
    const entry = Object.entries(meta.outputs as Record<string, { entryPoint?: string; exports: string[] }>).find(([, o]) => o.entryPoint);
    exports = entry![1].exports;
    const wranglerApi = await import('wrangler');
    config = (wranglerApi as any).unstable_readConfig({ config: 'worker/wrangler.jsonc', env: 'production' });
    localConfig = (wranglerApi as any).unstable_readConfig({ config: 'worker/wrangler.jsonc' });
  });

  after(() => fs.rmSync(out, { recursive: true, force: true }));

  it('bundles a Worker that exports the Sandbox and Registry classes and a default handler', () => {
    for (const name of ['Sandbox', 'Registry', 'default']) assert.ok(exports.includes(name), `exports: ${exports.join(', ')}`);
    assert.ok(fs.statSync(path.join(out, 'index.js')).size > 10_000);
  });

  it('has a containers entry for the Sandbox class built from container/Dockerfile', () => {
    const c = config.containers.find((x: any) => x.class_name === 'Sandbox');
    assert.ok(c, JSON.stringify(config.containers));
    assert.ok(
      path.resolve(path.dirname(path.resolve('worker/wrangler.jsonc')), c.image).endsWith(path.join('container', 'Dockerfile')) || c.image.endsWith('container/Dockerfile'),
      c.image,
    );
    assert.ok(fs.existsSync('container/Dockerfile'));
    assert.match(log, /following containers are available[\s\S]*container\/Dockerfile/);
  });

  it('turns observability on in production only, so local state does not grow with every request', () => {
    assert.equal(config.observability?.enabled, true);
    assert.notEqual(localConfig.observability?.enabled, true);
  });

  it('declares the Durable Objects with SQLite migrations', () => {
    const bindings = config.durable_objects.bindings.map((b: any) => b.class_name).sort();
    assert.deepEqual(bindings, ['Registry', 'Sandbox']);
    const sqlite = config.migrations.flatMap((m: any) => m.new_sqlite_classes ?? []);
    assert.ok(sqlite.includes('Sandbox') && sqlite.includes('Registry'));
  });

  it('routes a wildcard for the preview domain and sets PREVIEW_HOSTNAME to match', () => {
    const host = config.vars.PREVIEW_HOSTNAME as string;
    const patterns = config.routes.map((r: any) => (typeof r === 'string' ? r : r.pattern));
    assert.ok(patterns.includes(`*.${host}/*`), `routes ${patterns.join(', ')} for ${host}`);
    assert.ok(patterns.includes(`${host}/*`), 'the control API on the bare host');
  });

  it('runs the agent from the Dockerfile on port 3000', () => {
    const dockerfile = fs.readFileSync('container/Dockerfile', 'utf8');
    assert.match(dockerfile, /EXPOSE 3000/);
    assert.match(dockerfile, /COPY dist\/agent\.js/);
    assert.match(dockerfile, /CLOUDFLARED_VERSION=\d/);
    assert.match(dockerfile, /git/);
    assert.match(dockerfile, /python3/);
  });
});
