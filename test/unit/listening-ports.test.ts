import assert from 'node:assert/strict';
import { attributePids, decodeProcAddress, parseProcNetTcp, parseProcStat, socketInode, widestPerPort, type ProcStat } from '../../container/ports/listening-ports';

const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1137 1 000000007b563a75 100 0 0 10 0
   1: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 22222 1 0000000000000000 100 0 0 10 0
   2: 0100007F:A1C2 0100007F:9469 06 00000000:00000000 03:0000038B 00000000     0        0 0 3 00000000200da8c0
   3: 0100007F:C350 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 33333 1 0000000000000000 20 4 30 10 -1
`;

const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:1F41 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 44444 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000001000000:2328 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 55555 1 0000000000000000 100 0 0 10 0
   2: 0000000000000000FFFF00000100007F:2329 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 66666 1 0000000000000000 100 0 0 10 0
`;

describe('listening-ports', () => {
  describe('parseProcNetTcp', () => {
    it('returns only LISTEN sockets of /proc/net/tcp, with port, IPv4 address and inode', () => {
      assert.deepEqual(parseProcNetTcp(TCP), [
        { port: 2024, address: '0.0.0.0', inode: 1137 },
        { port: 8080, address: '127.0.0.1', inode: 22222 },
      ]);
    });

    it('decodes IPv6 wildcard, loopback and v4-mapped addresses of /proc/net/tcp6', () => {
      assert.deepEqual(parseProcNetTcp(TCP6), [
        { port: 8001, address: '::', inode: 44444 },
        { port: 9000, address: '::1', inode: 55555 },
        { port: 9001, address: '::ffff:127.0.0.1', inode: 66666 },
      ]);
    });

    it('ignores headers, blank lines and garbage', () => {
      assert.deepEqual(parseProcNetTcp('nonsense\n\n  7: zz:zz 0 0A\n'), []);
    });
  });

  describe('decodeProcAddress', () => {
    it('reads little-endian words and compresses IPv6 zero runs', () => {
      assert.equal(decodeProcAddress('0100007F'), '127.0.0.1');
      assert.equal(decodeProcAddress('0A00A8C0'), '192.168.0.10');
      // fe80::1 as /proc prints it: words 0x000080FE, 0, 0, 0x01000000
      assert.equal(decodeProcAddress('000080FE000000000000000001000000'), 'fe80::1');
      assert.equal(decodeProcAddress('xyz'), null);
    });
  });

  describe('widestPerPort', () => {
    it('reports one socket per port, preferring a wildcard over a loopback bind', () => {
      const got = widestPerPort([
        { port: 8080, address: '127.0.0.1' },
        { port: 8080, address: '::' },
        { port: 3001, address: '::1' },
      ]);
      assert.deepEqual(got, [
        { port: 3001, address: '::1' },
        { port: 8080, address: '::' },
      ]);
    });
  });

  describe('parseProcStat', () => {
    it('reads pid, parent and process group, even with spaces and parentheses in the name', () => {
      assert.deepEqual(parseProcStat('4531 (cat) R 4527 4527 2134 0 -1'), { pid: 4531, ppid: 4527, pgrp: 4527 });
      assert.deepEqual(parseProcStat('77 (my (odd) name) S 12 70 70 0'), { pid: 77, ppid: 12, pgrp: 70 });
      assert.equal(parseProcStat('garbage'), null);
    });
  });

  describe('attributePids', () => {
    const stats = new Map<number, ProcStat>(
      [
        { pid: 1, ppid: 0, pgrp: 1 },
        { pid: 50, ppid: 1, pgrp: 50 }, // the agent
        { pid: 100, ppid: 50, pgrp: 100 }, // bash -c (started process "web")
        { pid: 101, ppid: 100, pgrp: 100 }, // its child
        { pid: 102, ppid: 101, pgrp: 102 }, // a grandchild that made its own group
        { pid: 200, ppid: 50, pgrp: 200 }, // an exec command
        { pid: 300, ppid: 1, pgrp: 300 }, // someone else on the machine
        { pid: 400, ppid: 1, pgrp: 100 }, // reparented to init, still in the group
      ].map((s) => [s.pid, s]),
    );
    const groups = new Map<number, string | null>([
      [100, 'web'],
      [200, null],
    ]);

    it('counts members of started groups and their descendants, and nobody else', () => {
      const owners = attributePids(stats, groups);
      assert.deepEqual(
        [...owners].sort((a, b) => a[0] - b[0]),
        [
          [100, 'web'],
          [101, 'web'],
          [102, 'web'],
          [200, null],
          [400, 'web'],
        ],
      );
    });
  });

  describe('socketInode', () => {
    it('reads the inode of a socket link and ignores other links', () => {
      assert.equal(socketInode('socket:[12345]'), 12345);
      assert.equal(socketInode('/dev/null'), null);
      assert.equal(socketInode('pipe:[99]'), null);
    });
  });
});
