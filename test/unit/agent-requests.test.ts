import assert from 'node:assert/strict';
import { parseWaitForPort, parseStartRequest, parseCheckout, parseMs } from '../../worker/protocol/agent-requests';
import { MAX_TIMEOUT_MS } from '../../worker/protocol/validate';
import { cloneArgs, repoNameFromUrl } from '../../container/checkout';
import { describeTarget } from '../../container/process-waits';

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err: any) {
    return err.code;
  }
  return 'accepted';
}

describe('agent request parsers', () => {
  describe('parseWaitForPort', () => {
    it('fills the SPEC defaults', () => {
      assert.deepEqual(parseWaitForPort({ port: 8080 }), {
        port: 8080,
        mode: 'http',
        path: '/',
        status: { min: 200, max: 399 },
        timeout: 60000,
        interval: 500,
      });
    });

    it('accepts a single status and TCP mode', () => {
      const p = parseWaitForPort({ port: '9000', mode: 'tcp', status: 204, timeout: 1500 });
      assert.deepEqual([p.port, p.mode, p.status, p.timeout], [9000, 'tcp', { min: 204, max: 204 }, 1500]);
    });

    it('refuses bad ports, modes, paths, statuses and timings with a 4xx code', () => {
      assert.equal(
        code(() => parseWaitForPort({ port: 0 })),
        'INVALID_PORT',
      );
      assert.equal(
        code(() => parseWaitForPort({ port: 70000 })),
        'INVALID_PORT',
      );
      assert.equal(
        code(() => parseWaitForPort({ port: 'x' })),
        'INVALID_PORT',
      );
      assert.equal(
        code(() => parseWaitForPort({ port: 80, mode: 'udp' })),
        'INVALID_REQUEST',
      );
      assert.equal(
        code(() => parseWaitForPort({ port: 80, path: 'health' })),
        'INVALID_REQUEST',
      );
      assert.equal(
        code(() => parseWaitForPort({ port: 80, path: '/a b' })),
        'INVALID_REQUEST',
      );
      assert.equal(
        code(() => parseWaitForPort({ port: 80, status: { min: 500, max: 200 } })),
        'INVALID_REQUEST',
      );
      assert.equal(
        code(() => parseWaitForPort({ port: 80, timeout: -1 })),
        'INVALID_REQUEST',
      );
      assert.equal(
        code(() => parseWaitForPort({ port: 80, interval: 'fast' })),
        'INVALID_REQUEST',
      );
      assert.equal(
        code(() => parseWaitForPort([1, 2])),
        'INVALID_REQUEST',
      );
    });
  });

  describe('parseStartRequest', () => {
    it('requires a command and checks processId and env', () => {
      assert.equal(
        code(() => parseStartRequest({})),
        'INVALID_REQUEST',
      );
      assert.equal(
        code(() => parseStartRequest({ command: 'x', processId: '../x' })),
        'INVALID_PROCESS_ID',
      );
      assert.equal(
        code(() => parseStartRequest({ command: 'x', env: { A: 1 } })),
        'INVALID_REQUEST',
      );
      assert.deepEqual(parseStartRequest({ command: 'x', env: { A: '1' }, processId: 'web' }), { command: 'x', env: { A: '1' }, processId: 'web' });
    });
  });

  describe('parseMs', () => {
    it('caps at the longest timeout the Durable Object accepts too (one rule, one hour)', () => {
      assert.equal(parseMs(1e12, 'timeout', 1), MAX_TIMEOUT_MS);
      assert.equal(MAX_TIMEOUT_MS, 3_600_000);
    });

    it('checks env with the same rule as the Durable Object: variable names, string values, no NUL', () => {
      assert.deepEqual(parseStartRequest({ command: 'x', env: { A_1: 'v' } }).env, { A_1: 'v' });
      for (const env of [{ 'A=B': 'x' }, { '1A': 'x' }, { A: 1 }, { A: 'a\0b' }]) {
        assert.throws(() => parseStartRequest({ command: 'x', env }), /Field 'env\./);
      }
    });
  });

  describe('parseCheckout', () => {
    it('refuses option-like repository URLs and branches', () => {
      assert.equal(
        code(() => parseCheckout({ repoUrl: '--upload-pack=evil' })),
        'INVALID_REQUEST',
      );
      assert.equal(
        code(() => parseCheckout({ repoUrl: 'https://x/y.git', branch: '-b' })),
        'INVALID_REQUEST',
      );
      assert.equal(
        code(() => parseCheckout({ repoUrl: '' })),
        'INVALID_REQUEST',
      );
    });
  });
});

describe('checkout', () => {
  describe('repoNameFromUrl', () => {
    it('names the folder as git would', () => {
      assert.equal(repoNameFromUrl('https://github.com/cloudflare/sandbox-sdk.git'), 'sandbox-sdk');
      assert.equal(repoNameFromUrl('https://github.com/cloudflare/sandbox-sdk/'), 'sandbox-sdk');
      assert.equal(repoNameFromUrl('git@github.com:org/repo.git'), 'repo');
      assert.equal(repoNameFromUrl('file:///tmp/x/origin.git'), 'origin');
      assert.equal(repoNameFromUrl('https://example.com/..'), 'repo');
    });
  });

  describe('cloneArgs', () => {
    it('puts -- before the URL so it can never be read as an option', () => {
      assert.deepEqual(cloneArgs({ repoUrl: 'u', branch: 'main' }, '/d'), ['clone', '--depth', '1', '--branch', 'main', '--', 'u', '/d']);
    });
  });
});

describe('process waits', () => {
  describe('describeTarget', () => {
    it('names the port and the probe as the SPEC messages do', () => {
      assert.equal(describeTarget({ port: 8080, mode: 'http', path: '/health' }), 'port 8080 (HTTP /health)');
      assert.equal(describeTarget({ port: 5432, mode: 'tcp', path: '/' }), 'port 5432 (TCP)');
    });
  });
});
