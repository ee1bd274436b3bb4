import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AgentEvent } from '../../worker/protocol/index';
import { EventLog } from '../../container/event-log';
import { MemoryWatch } from '../../container/resources/memory-watch';
import type { ResourceReader } from '../../container/resources/usage';
import { groupFile, hostsFile, passwdFile } from '../../container/host/sandbox-etc';
import { SANDBOX_UID_BASE, SandboxUsers } from '../../container/host/sandbox-users';
import { parseRunAs } from '../../container/run-as';

/** A reader whose figures the test sets. */
function fakeReader(state: { kills: number; used: number; limit: number }): ResourceReader {
  return {
    limited: true,
    oomKills: () => state.kills,
    memoryLimit: () => state.limit,
    cached: () => ({
      memory: { used: state.used, limit: state.limit },
      processes: { count: 1, limit: 100 },
      cpu: { seconds: 0 },
      disk: { used: 0 },
      oomKills: state.kills,
      at: new Date().toISOString(),
    }),
  } as unknown as ResourceReader;
}

describe('containment parts', () => {
  describe('MemoryWatch', () => {
    it('gives each kernel kill to one SIGKILLed process, and pushes an event for it', () => {
      const state = { kills: 0, used: 10, limit: 100 };
      const events = new EventLog<AgentEvent>(100);
      const watch = new MemoryWatch(fakeReader(state), events, 60_000);
      assert.equal(watch.claimKill(), false, 'a SIGKILL with no kill counted is not the kernel’s');
      state.kills = 1;
      assert.equal(watch.claimKill(), true);
      assert.equal(watch.claimKill(), false, 'one kill, one process');
      const pushed = events.since(undefined).events.map((e) => e.event);
      assert.equal(pushed.length, 1);
      assert.equal(pushed[0]!.type, 'resources');
    });

    it('does not give a later exit a kill that no exit claimed within a check (a command’s child was killed)', () => {
      const state = { kills: 0, used: 10, limit: 100 };
      const watch = new MemoryWatch(fakeReader(state), new EventLog<AgentEvent>(100), 60_000);
      state.kills = 1;
      watch.check();
      watch.check();
      assert.equal(watch.claimKill(), false);
    });

    it('pushes an event when use crosses 90% of the limit either way, or moves by a quarter of it; not while it stays', () => {
      const state = { kills: 0, used: 10, limit: 100 };
      const events = new EventLog<AgentEvent>(100);
      const watch = new MemoryWatch(fakeReader(state), events, 60_000);
      watch.start(); // reports the figures as the sandbox starts
      watch.stop();
      watch.check();
      state.used = 20; // +20 since the last report (0): not yet a quarter
      watch.check();
      state.used = 40; // +40
      watch.check();
      state.used = 91; // near
      watch.check();
      watch.check();
      state.used = 89; // no longer near
      watch.check();
      const used = events.since(undefined).events.map((e) => (e.event.type === 'resources' ? e.event.usage.memory.used : -1));
      assert.deepEqual(used, [10, 40, 91, 89]);
    });
  });

  describe("a sandbox's /etc files", () => {
    it('name the sandbox in hosts', () => {
      assert.match(hostsFile('my-box'), /^127\.0\.1\.1\tmy-box$/m);
      assert.match(hostsFile('my-box'), /^127\.0\.0\.1\tlocalhost$/m);
    });

    it('give the sandbox user an entry in place of any of the same name or id', () => {
      const host = 'root:x:0:0:root:/root:/bin/bash\nsandbox:x:5:5::/:/bin/false\nold:x:1862270977:1::/:/bin/sh\n';
      const user = { uid: 1862270977, gid: 1862270977 };
      assert.equal(passwdFile(host, user, '/root'), 'root:x:0:0:root:/root:/bin/bash\nsandbox:x:1862270977:1862270977:sandbox:/root:/bin/bash\n');
      assert.equal(groupFile('root:x:0:\n', user), 'root:x:0:\nsandbox:x:1862270977:\n');
    });
  });

  describe('SandboxUsers', () => {
    it('gives each sandbox its own id, keeps it across restarts, and frees it on destroy', () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'users-'));
      try {
        const users = new SandboxUsers(dir);
        const a = users.userFor('a');
        const b = users.userFor('b');
        assert.equal(a.uid, SANDBOX_UID_BASE + 1);
        assert.equal(b.uid, SANDBOX_UID_BASE + 2);
        assert.equal(a.gid, a.uid);
        assert.deepEqual(new SandboxUsers(dir).userFor('b'), b, 'read back from the state folder');
        users.release('a');
        assert.equal(new SandboxUsers(dir).userFor('c').uid, SANDBOX_UID_BASE + 1);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('parseRunAs', () => {
    it('takes uid:gid of a user other than root', () => {
      assert.deepEqual(parseRunAs('1862270977:1862270977'), { uid: 1862270977, gid: 1862270977 });
      assert.equal(parseRunAs(undefined), null);
      assert.throws(() => parseRunAs('0:0'), /other than root/);
      assert.throws(() => parseRunAs('me'), /uid:gid/);
    });
  });
});
