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

  it('reaches any path of its own view, such as /tmp, as in a container', async () => {
    assert.equal((await api.call('PUT', `${base}/files?path=/tmp/scratch/x.txt`, 'in tmp')).status, 201);
    assert.equal((await api.call('GET', `${base}/files?path=/tmp/scratch/x.txt`)).body, 'in tmp');
    assert.equal((await api.ok('POST', `${base}/exec`, { command: 'cat x.txt', cwd: '/tmp/scratch' })).stdout, 'in tmp');
    // '..' from /workspace is the sandbox's own root; its /etc is read-only.
    const etc = await api.call('GET', `${base}/files?path=${encodeURIComponent('../../etc/hostname')}`);
    assert.equal(etc.status, 200);
    const w = await api.call('PUT', `${base}/files?path=/etc/owned`, 'x');
    assert.equal(w.status, 400);
    assert.match(w.body.error, /read-only/);
    assert.ok(!fs.existsSync('/etc/owned'));
    // mkdir says why, also when asked to make the missing parents (not "does not exist"): the
    // folder is read-only, or (where a sandbox runs as a user of its own) not the sandbox's.
    for (const p of ['/usr/sp-owned', '/etc/sp-owned/a/b']) {
      const m = await api.call('POST', `${base}/mkdir`, { path: p, recursive: true });
      assert.equal(m.status, 400, p);
      assert.match(m.body.error, new RegExp(`^(${p} is on a read-only file system|Permission denied: ${p})`));
    }
  });

  it('sees nothing of the host: not the project folder, not the state folder, not other sandboxes', async () => {
    const other = `files-other-${Date.now().toString(36)}`;
    await api.ok('POST', '/sandboxes', { id: other });
    await api.ok('PUT', `/sandboxes/${other}/files?path=planted.txt`, 'secret of another sandbox');
    const planted = path.join(stack.stateDir, 'workspaces', other, 'planted.txt');
    assert.ok(fs.existsSync(planted));
    for (const hostPath of [path.resolve('package.json'), planted, path.join(stack.stateDir, 'worker-secrets.env')]) {
      const r = await api.call('GET', `${base}/files?path=${encodeURIComponent(hostPath)}`);
      assert.equal(r.status, 404, `${hostPath}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.code, 'FILE_NOT_FOUND');
      const ls = await api.ok('POST', `${base}/exec`, { command: `cat ${JSON.stringify(hostPath)}` });
      assert.notEqual(ls.exitCode, 0, `${hostPath} is not readable from a command either`);
    }
    await api.ok('DELETE', `/sandboxes/${other}`);
  });

  it('a symlink to a host path leads nowhere: the host is not in the view', async () => {
    const project = path.resolve('.');
    await api.ok('POST', `${base}/exec`, { command: `ln -sfn ${JSON.stringify(project)} escape` });
    const r = await api.call('GET', `${base}/files?path=escape/package.json`);
    assert.equal(r.status, 404);
    const w = await api.call('PUT', `${base}/files?path=escape/owned`, 'x');
    assert.ok(w.status >= 400 && w.status < 500, `write status ${w.status}`);
    assert.ok(!fs.existsSync(path.join(project, 'owned')));
  });

  it('answers 404 for a missing file', async () => {
    const r = await api.call('GET', `${base}/files?path=nope.txt`);
    assert.equal(r.status, 404);
    assert.equal(r.body.code, 'FILE_NOT_FOUND');
  });
});
