import assert from 'node:assert/strict';
import { isInside, resolveWorkspacePath } from '../../container/files/workspace-path';

const root = '/srv/state/workspaces/box';

function refusal(input: unknown): { code: string; message: string } {
  try {
    resolveWorkspacePath(input, root);
  } catch (err: any) {
    return { code: err.code, message: err.message };
  }
  throw new Error(`${JSON.stringify(input)} was accepted`);
}

describe('workspace paths', () => {
  describe('resolveWorkspacePath', () => {
    it('maps /workspace and paths under it into the workspace folder', () => {
      assert.deepEqual(resolveWorkspacePath('/workspace', root), { sandboxPath: '/workspace', relative: '', hostPath: root });
      assert.deepEqual(resolveWorkspacePath('/workspace/app/x.txt', root), {
        sandboxPath: '/workspace/app/x.txt',
        relative: 'app/x.txt',
        hostPath: `${root}/app/x.txt`,
      });
    });

    it('resolves relative paths against the workspace root', () => {
      assert.equal(resolveWorkspacePath('app/./x.txt', root).hostPath, `${root}/app/x.txt`);
      assert.equal(resolveWorkspacePath('app/../y', root).sandboxPath, '/workspace/y');
      assert.equal(resolveWorkspacePath('.', root).sandboxPath, '/workspace');
    });

    it('refuses .. that escapes, naming the path and the rule', () => {
      for (const input of ['../../etc/passwd', '..', 'a/../../b', '/workspace/../etc/passwd']) {
        const r = refusal(input);
        assert.equal(r.code, 'PATH_OUTSIDE_WORKSPACE', input);
        assert.ok(r.message.includes(input), r.message);
        assert.match(r.message, /must stay inside \/workspace/);
      }
    });

    it('refuses absolute paths outside /workspace, including look-alike prefixes', () => {
      for (const input of ['/etc/passwd', '/workspace2/x', '/', '/tmp']) {
        assert.equal(refusal(input).code, 'PATH_OUTSIDE_WORKSPACE', input);
      }
    });

    it('refuses empty paths, non-strings and NUL bytes as INVALID_PATH', () => {
      assert.equal(refusal('').code, 'INVALID_PATH');
      assert.equal(refusal(undefined).code, 'INVALID_PATH');
      assert.equal(refusal(42).code, 'INVALID_PATH');
      const nul = refusal('a\0b');
      assert.equal(nul.code, 'INVALID_PATH');
      assert.match(nul.message, /NUL byte/);
    });
  });

  describe('isInside', () => {
    it('accepts the root and its children, not siblings that share a prefix', () => {
      assert.ok(isInside('/a/b', '/a/b'));
      assert.ok(isInside('/a/b', '/a/b/c'));
      assert.ok(!isInside('/a/b', '/a/bc'));
      assert.ok(!isInside('/a/b', '/a'));
    });
  });
});
