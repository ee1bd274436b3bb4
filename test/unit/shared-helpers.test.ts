/** The helpers each kind of code shares instead of keeping its own copy (issue 12 point 4). */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { signalGroup, groupAlive } from '../../container/processes/process-groups';
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

  it('signalGroup: signals a whole group (members too, not only the leader), and refuses 0 and 1 (own group, every process)', async () => {
    assert.equal(signalGroup(0, 'SIGTERM'), false);
    assert.equal(signalGroup(1, 'SIGTERM'), false);
    const child = spawn('sh', ['-c', 'sleep 30 & echo $!; wait'], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
    const member = Number(await new Promise<string>((resolve) => child.stdout!.once('data', (b: Buffer) => resolve(b.toString().trim()))));
    const pgid = child.pid!;
    assert.ok(groupAlive(pgid));
    const exited = new Promise((r) => child.once('exit', r));
    assert.equal(signalGroup(pgid, 'SIGKILL'), true);
    await exited;
    // The member dies too; it may stay a zombie until whoever adopted it reaps it.
    const dead = () => {
      try {
        return /^State:\s+Z/m.test(fs.readFileSync(`/proc/${member}/status`, 'utf8'));
      } catch {
        return true;
      }
    };
    for (let i = 0; i < 100 && !dead(); i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(dead(), `the group's other member (pid ${member}) was killed too`);
  });
});
