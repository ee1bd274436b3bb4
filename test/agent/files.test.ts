import assert from 'node:assert/strict';
import { LOCAL_SECRET_HEADER } from '../../worker/protocol/agent';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir, useAgent } from '../helpers/agent-process';

describe('agent › files and checkout (real agent process)', function () {
  this.timeout(30000);
  const agent = useAgent();
  const api = () => agent().client;

  describe('PUT /files', () => {
    it('writes a file under /workspace, creating parent folders', async () => {
      const r = await api().call('PUT', '/files?path=/workspace/src/app/index.js', 'console.log("hi")\n');
      assert.equal(r.status, 201);
      assert.deepEqual(r.body, { path: '/workspace/src/app/index.js', size: 18 });
      assert.equal(fs.readFileSync(path.join(agent().workspace, 'src/app/index.js'), 'utf8'), 'console.log("hi")\n');
    });

    it('decodes base64 bodies, byte for byte', async () => {
      const bytes = Buffer.from([0, 1, 2, 254, 255]);
      await api().ok('PUT', '/files?path=bin/data.bin&encoding=base64', bytes.toString('base64'));
      const back = await fetch(`${api().base}/files?path=/workspace/bin/data.bin`, { headers: { [LOCAL_SECRET_HEADER]: agent().secret } });
      assert.equal(back.headers.get('content-type'), 'application/octet-stream');
      assert.deepEqual(Buffer.from(await back.arrayBuffer()), bytes);
      const bad = await api().call('PUT', '/files?path=x.bin&encoding=base64', '***');
      assert.equal(bad.status, 400);
      const unknown = await api().call('PUT', '/files?path=x.bin&encoding=latin9', 'x');
      assert.equal(unknown.status, 400);
      assert.match(unknown.body.error, /Unknown encoding "latin9"/);
    });

    it('refuses a body over the limit with 413', async () => {
      const r = await api().call('PUT', '/files?path=big.bin', Buffer.alloc(32 * 1024 * 1024 + 1));
      assert.equal(r.status, 413);
      assert.equal(r.body.code, 'BODY_TOO_LARGE');
      assert.ok(!fs.existsSync(path.join(agent().workspace, 'big.bin')));
    });

    it('refuses to write over a directory', async () => {
      fs.mkdirSync(path.join(agent().workspace, 'adir'), { recursive: true });
      const r = await api().call('PUT', '/files?path=adir', 'x');
      assert.equal(r.status, 409);
      assert.equal(r.body.code, 'IS_A_DIRECTORY');
    });
  });

  describe('GET /files', () => {
    it('answers 404 for a missing file and 409 for a directory', async () => {
      const missing = await api().call('GET', '/files?path=/workspace/nope.txt');
      assert.equal(missing.status, 404);
      assert.deepEqual(missing.body, { error: 'File not found: /workspace/nope.txt', code: 'FILE_NOT_FOUND' });
      const dir = await api().call('GET', '/files?path=/workspace');
      assert.equal(dir.status, 409);
      assert.equal(dir.body.code, 'IS_A_DIRECTORY');
    });
  });

  describe('GET /files while the file changes', () => {
    it('answers every read in full while a process rewrites the file, and the connection stays usable', async () => {
      const writer = await api().ok('POST', '/processes', {
        command: `while true; do printf '%s' "${'x'.repeat(4000)}" > churn.txt; : > churn.txt; printf 'short' > churn.txt; done`,
      });
      try {
        // One kept-alive connection (fetch reuses it): a body that ended short of its declared
        // length would stall the next answer on it until the test's time ran out.
        for (let i = 0; i < 300; i++) {
          const r = await api().call('GET', '/files?path=churn.txt');
          assert.ok(r.status === 200 || r.status === 404, `read ${i}: ${r.status}`);
        }
      } finally {
        await api().ok('DELETE', `/processes/${writer.id}?signal=SIGKILL`);
      }
    });
  });

  describe('path confinement', () => {
    before(() => {
      fs.symlinkSync('/etc', path.join(agent().workspace, 'etc-link'));
      fs.symlinkSync('/nonexistent/target', path.join(agent().workspace, 'dangling'));
      fs.mkdirSync(path.join(agent().workspace, 'inner'), { recursive: true });
      fs.writeFileSync(path.join(agent().workspace, 'inner', 'real.txt'), 'inside');
      fs.symlinkSync('inner/real.txt', path.join(agent().workspace, 'ok-link'));
    });

    for (const [p, code] of [
      ['../../etc/passwd', 'PATH_OUTSIDE_WORKSPACE'],
      ['/etc/passwd', 'PATH_OUTSIDE_WORKSPACE'],
      ['/workspace/../etc/passwd', 'PATH_OUTSIDE_WORKSPACE'],
      ['etc-link/passwd', 'PATH_OUTSIDE_WORKSPACE'],
      ['etc-link', 'PATH_OUTSIDE_WORKSPACE'],
      ['dangling', 'PATH_OUTSIDE_WORKSPACE'],
      ['a\0b', 'INVALID_PATH'],
      ['', 'INVALID_PATH'],
    ]) {
      it(`refuses ${JSON.stringify(p)} for reading and writing with ${code}`, async () => {
        const q = encodeURIComponent(p!);
        for (const [method, body] of [
          ['GET', undefined],
          ['PUT', 'x'],
        ] as const) {
          const r = await api().call(method, `/files?path=${q}`, body);
          assert.ok(r.status >= 400 && r.status < 500, `${method} ${p} → ${r.status}`);
          assert.equal(r.body.code, code);
          assert.match(r.body.error, /\/workspace/, 'the message says where paths must stay');
        }
      });
    }

    it('says which path was refused', async () => {
      const r = await api().call('GET', '/files?path=etc-link/passwd');
      assert.match(r.body.error, /'etc-link\/passwd'.*symbolic link.*must stay inside \/workspace/);
    });

    it('did not write through the symlink', () => {
      assert.notEqual(fs.readFileSync('/etc/passwd', 'utf8'), 'x');
    });

    it('follows a symlink that stays inside the workspace', async () => {
      const r = await api().call('GET', '/files?path=ok-link');
      assert.equal(r.status, 200);
      assert.equal(r.body, 'inside');
    });
  });

  describe('POST /mkdir', () => {
    it('creates folders, recursively only when asked', async () => {
      const flat = await api().call('POST', '/mkdir', { path: '/workspace/a/b/c' });
      assert.equal(flat.status, 404);
      assert.match(flat.body.error, /recursive: true/);
      assert.deepEqual(await api().ok('POST', '/mkdir', { path: '/workspace/a/b/c', recursive: true }), { path: '/workspace/a/b/c' });
      assert.ok(fs.statSync(path.join(agent().workspace, 'a/b/c')).isDirectory());
      assert.deepEqual(await api().ok('POST', '/mkdir', { path: 'a/b/c' }), { path: '/workspace/a/b/c' }, 'an existing folder is fine');
      const outside = await api().call('POST', '/mkdir', { path: '/tmp/x' });
      assert.equal(outside.status, 403);
    });
  });

  describe('POST /checkout', () => {
    let gitDir: string;
    let origin: string;

    before(() => {
      gitDir = tempDir('git');
      origin = path.join(gitDir, 'origin');
      const git = (...args: string[]) => execFileSync('git', args, { cwd: origin, stdio: 'pipe' });
      fs.mkdirSync(origin);
      git('init', '-q', '-b', 'main');
      fs.writeFileSync(path.join(origin, 'README.md'), '# hello\n');
      git('add', '.');
      git('-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-q', '-m', 'first');
      git('branch', 'feature');
    });
    after(() => fs.rmSync(gitDir, { recursive: true, force: true }));

    it('clones into /workspace/<repo name> by default, and into targetDir when given', async () => {
      const r = await api().ok('POST', '/checkout', { repoUrl: `file://${origin}` });
      assert.deepEqual(r, { path: '/workspace/origin' });
      assert.equal(fs.readFileSync(path.join(agent().workspace, 'origin/README.md'), 'utf8'), '# hello\n');
      const b = await api().ok('POST', '/checkout', { repoUrl: `file://${origin}`, branch: 'feature', targetDir: 'clones/feature' });
      assert.deepEqual(b, { path: '/workspace/clones/feature' });
      assert.ok(fs.existsSync(path.join(agent().workspace, 'clones/feature/README.md')));
    });

    it("answers 422 COMMAND_FAILED with git's own message", async () => {
      const r = await api().call('POST', '/checkout', { repoUrl: `file://${origin}-missing` });
      assert.equal(r.status, 422);
      assert.equal(r.body.code, 'COMMAND_FAILED');
      assert.match(r.body.error, /fatal:/);
      const again = await api().call('POST', '/checkout', { repoUrl: `file://${origin}` });
      assert.equal(again.status, 422, 'the folder exists already');
      assert.match(again.body.error, /\/workspace\/origin/);
      assert.ok(!again.body.error.includes(agent().workspace), 'host paths do not leak into messages');
    });

    it('refuses option-like URLs and targets outside the workspace', async () => {
      const dash = await api().call('POST', '/checkout', { repoUrl: '--upload-pack=touch /tmp/pwned' });
      assert.equal(dash.status, 400);
      const outside = await api().call('POST', '/checkout', { repoUrl: `file://${origin}`, targetDir: '/etc/x' });
      assert.equal(outside.status, 403);
    });
  });
});
