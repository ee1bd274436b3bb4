/** The helpers each kind of code shares instead of keeping its own copy (issue 12 point 4). */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { signalGroup, groupAlive } from '../../container/process-groups';
import { ErrorCode, bearerMatches, bearerToken, errorFromResponse } from '../../worker/protocol/index';

describe('shared helpers', () => {
  it('bearerToken / bearerMatches: one parse and one constant-time comparison for the API and private previews', () => {
    assert.equal(bearerToken('Bearer abc'), 'abc');
    assert.equal(bearerToken('  bearer   abc  '), 'abc');
    assert.equal(bearerToken('Basic abc'), null);
    assert.equal(bearerToken(null), null);
    assert.equal(bearerMatches('Bearer secret-1', 'secret-1'), true);
    // Same length, last character different: refused.
    assert.equal(bearerMatches('Bearer secret-2', 'secret-1'), false);
    assert.equal(bearerMatches('Bearer secret-1', undefined), false);
    assert.equal(bearerMatches('Bearer secret-1', ''), false);
  });

  it('errorFromResponse: the JSON error body with its code, or what answered and how', async () => {
    const coded = await errorFromResponse(new Response(JSON.stringify({ error: 'gone', code: 'SANDBOX_NOT_FOUND' }), { status: 404 }), 'GET /x');
    assert.equal(coded.code, ErrorCode.SANDBOX_NOT_FOUND);
    assert.equal(coded.message, 'gone');
    const plain = await errorFromResponse(new Response('<html>bad gateway</html>', { status: 502 }), 'The sandbox agent');
    assert.equal(plain.code, ErrorCode.INTERNAL_ERROR);
    assert.equal(plain.message, 'The sandbox agent answered 502: <html>bad gateway</html>');
  });

  it('signalGroup: signals a whole group, refuses 0 and 1 (own group, every process), and says when the group is gone', async () => {
    assert.equal(signalGroup(0, 'SIGTERM'), false);
    assert.equal(signalGroup(1, 'SIGTERM'), false);
    const child = spawn('sh', ['-c', 'sleep 30 & sleep 30; wait'], { detached: true, stdio: 'ignore' });
    await new Promise((r) => child.once('spawn', r));
    const pgid = child.pid!;
    assert.ok(groupAlive(pgid));
    const exited = new Promise((r) => child.once('exit', r));
    assert.equal(signalGroup(pgid, 'SIGKILL'), true);
    await exited;
    for (let i = 0; i < 50 && groupAlive(pgid); i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(groupAlive(pgid), false, 'every member is gone, not only the leader');
    assert.equal(signalGroup(pgid, 'SIGKILL'), false);
  });
});
