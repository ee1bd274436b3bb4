import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Api } from '../helpers/api';
import { sharedStack, type Stack } from '../helpers/stack';

describe('control API › files (real Worker, real agent)', function () {
  this.timeout(60000);
  let api: Api;
  let stack: Stack;
  const box = `files-${Date.now().toString(36)}`;
  const base = `/sandboxes/${box}`;

  before(async function () {
    this.timeout(120000);
    stack = await sharedStack();
    api = new Api(stack.url, stack.token);
    await api.ok('POST', '/sandboxes', { id: box });
  });

  it('writes and reads a file under /workspace, and a process sees it in its working directory', async () => {
    const put = await api.call('PUT', `${base}/files?path=/workspace/dir/hello.txt`, 'hello sandbox');
    assert.equal(put.status, 201, JSON.stringify(put.body));
    const got = await api.call('GET', `${base}/files?path=dir/hello.txt`);
    assert.equal(got.status, 200);
    assert.equal(got.body, 'hello sandbox');
    const cat = await api.ok('POST', `${base}/exec`, { command: 'cat dir/hello.txt' });
    assert.equal(cat.stdout, 'hello sandbox');
  });

  it('keeps each sandbox in its own folder on the host', () => {
    const file = path.join(stack.stateDir, 'workspaces', box, 'dir', 'hello.txt');
    assert.equal(fs.readFileSync(file, 'utf8'), 'hello sandbox');
  });

  it('writes base64 content as bytes', async () => {
    const bytes = Buffer.from([0, 1, 2, 250, 255]);
    await api.ok('PUT', `${base}/files?path=bin.dat&encoding=base64`, bytes.toString('base64'));
    const r = await fetch(`${stack.url}/api/v1${base}/files?path=bin.dat`, { headers: { authorization: `Bearer ${stack.token}` } });
    assert.deepEqual(Buffer.from(await r.arrayBuffer()), bytes);
  });

  it('makes folders with mkdir', async () => {
    await api.ok('POST', `${base}/mkdir`, { path: '/workspace/a/b/c', recursive: true });
    const ls = await api.ok('POST', `${base}/exec`, { command: 'test -d a/b/c && echo yes' });
    assert.equal(ls.stdout.trim(), 'yes');
  });

  for (const bad of ['../../etc/passwd', '/etc/passwd', '/workspace/../../etc/passwd', 'a/../../../etc/hostname']) {
    it(`refuses to read ${bad} outside the sandbox with a 4xx`, async () => {
      const r = await api.call('GET', `${base}/files?path=${encodeURIComponent(bad)}`);
      assert.ok(r.status >= 400 && r.status < 500, `status ${r.status}`);
      assert.equal(r.body.code, 'PATH_OUTSIDE_WORKSPACE');
      assert.match(r.body.error, /workspace/i);
      const w = await api.call('PUT', `${base}/files?path=${encodeURIComponent(bad)}`, 'x');
      assert.ok(w.status >= 400 && w.status < 500, `write status ${w.status}`);
    });
  }

  it('refuses a symlink that points out of the sandbox', async () => {
    await api.ok('POST', `${base}/exec`, { command: 'ln -sfn /etc escape' });
    const r = await api.call('GET', `${base}/files?path=escape/passwd`);
    assert.equal(r.status, 403);
    assert.equal(r.body.code, 'PATH_OUTSIDE_WORKSPACE');
    const w = await api.call('PUT', `${base}/files?path=escape/owned`, 'x');
    assert.equal(w.status, 403);
    assert.ok(!fs.existsSync('/etc/owned'));
  });

  it('answers 404 for a missing file', async () => {
    const r = await api.call('GET', `${base}/files?path=nope.txt`);
    assert.equal(r.status, 404);
    assert.equal(r.body.code, 'FILE_NOT_FOUND');
  });
});
