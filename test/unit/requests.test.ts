import assert from 'node:assert/strict';
import { parseWaitForPort, parseStartRequest, parseCheckout, parseExecRequest, parseKill, parseEncoding, parseMkdir } from '../../worker/protocol/requests';
import { MAX_TIMEOUT_MS } from '../../worker/protocol/validate';
import { cloneArgs, repoNameFromUrl } from '../../container/files/checkout';
import { describeTarget } from '../../container/processes/process-waits';

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err: any) {
    return err.code;
  }
  return 'accepted';
}

describe('request parsers (the Durable Object and the agent)', () => {
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

  describe('one rule on both sides', () => {
    it('takes timeouts as whole milliseconds up to an hour, and says so', () => {
      assert.equal(parseExecRequest({ command: 'x' }).timeout, 600_000);
      assert.equal(parseExecRequest({ command: 'x', timeout: MAX_TIMEOUT_MS }).timeout, 3_600_000);
      for (const timeout of [0, -5, 1.5, MAX_TIMEOUT_MS + 1, '100']) {
        assert.throws(() => parseExecRequest({ command: 'x', timeout }), /^SandboxError: Field 'timeout' must be a whole number of milliseconds from 1 to 3600000/);
      }
    });

    it('checks env with one rule: variable names, string values, no NUL', () => {
      assert.deepEqual(parseStartRequest({ command: 'x', env: { A_1: 'v' } }).env, { A_1: 'v' });
      for (const env of [{ 'A=B': 'x' }, { '1A': 'x' }, { A: 1 }, { A: 'a\0b' }]) {
        assert.throws(() => parseStartRequest({ command: 'x', env }), /Field 'env\./);
      }
    });

    it('refuses blank commands, paths and repository URLs', () => {
      for (const parse of [
        () => parseExecRequest({ command: '  ' }),
        () => parseStartRequest({ command: '\t' }),
        () => parseMkdir({ path: ' ' }),
        () => parseCheckout({ repoUrl: ' ' }),
      ]) {
        assert.throws(parse, /must not be blank/);
      }
    });

    it('bounds commands and paths', () => {
      assert.equal(
        code(() => parseExecRequest({ command: 'x'.repeat(64 * 1024 + 1) })),
        'INVALID_REQUEST',
      );
      assert.equal(
        code(() => parseMkdir({ path: '/' + 'a'.repeat(4096) })),
        'INVALID_REQUEST',
      );
      assert.deepEqual(parseMkdir({ path: '/tmp/a' }), { path: '/tmp/a', recursive: false });
    });

    it('parses a kill: the signal by name, the grace period in ms', () => {
      assert.deepEqual(parseKill(undefined, undefined), { signal: 'SIGTERM', graceMs: 5000 });
      assert.deepEqual(parseKill(null, '250'), { signal: 'SIGTERM', graceMs: 250 });
      assert.deepEqual(parseKill('SIGKILL', 0), { signal: 'SIGKILL', graceMs: 0 });
      assert.equal(
        code(() => parseKill('SIGFOO', undefined)),
        'INVALID_SIGNAL',
      );
      assert.equal(
        code(() => parseKill('SIGTERM', -1)),
        'INVALID_REQUEST',
      );
    });

    it('knows two file encodings', () => {
      assert.deepEqual([parseEncoding(undefined), parseEncoding('utf8'), parseEncoding('utf-8'), parseEncoding('base64')], [undefined, 'utf-8', 'utf-8', 'base64']);
      assert.throws(() => parseEncoding('latin9'), /Unknown encoding "latin9": use utf-8 or base64/);
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
