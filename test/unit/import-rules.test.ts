import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * The runtime boundaries of ARCHITECTURE.md live in .dependency-cruiser.cjs and run in
 * `npm run lint`. Here: the tree keeps them, and each rule refuses the import it is there for
 * (so a rule that stopped matching would fail this test, not pass silently).
 */
const root = process.cwd();
const depcruise = path.join(root, 'node_modules', '.bin', 'depcruise');

function cruise(cwd: string, dirs: string[]): { status: number | null; out: string } {
  const r = spawnSync(depcruise, [...dirs, '--config', path.join(root, '.dependency-cruiser.cjs'), '--output-type', 'err'], { cwd, encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('import rules (dependency-cruiser)', function () {
  this.timeout(120_000);

  it('the tree keeps every boundary', () => {
    const r = cruise(root, ['worker', 'extension', 'container', 'scripts', 'test']);
    assert.equal(r.status, 0, r.out);
  });

  it('each rule refuses the import it exists for', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'import-rules-'));
    const write = (file: string, text: string) => {
      fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
      fs.writeFileSync(path.join(dir, file), text);
    };
    try {
      fs.copyFileSync(path.join(root, 'tsconfig.json'), path.join(dir, 'tsconfig.json'));
      fs.copyFileSync(path.join(root, 'tsconfig.base.json'), path.join(dir, 'tsconfig.base.json'));
      write('worker/sandbox/sandbox.ts', 'export const Sandbox = 1;\n');
      write('worker/protocol/index.ts', "import { Sandbox } from '../sandbox/sandbox';\nexport const x = Sandbox;\n");
      write('worker/pure.ts', "import { DurableObject } from 'cloudflare:workers';\nexport const y = DurableObject;\n");
      write('worker/a.ts', "import { b } from './b';\nexport const a = () => b;\n");
      write('worker/b.ts', "import { a } from './a';\nexport const b = () => a;\n");
      write('worker/uses-extension.ts', "import { e } from '../extension/core/logic';\nexport const w = e;\n");
      write('extension/core/logic.ts', "import { spawn } from 'node:child_process';\nexport const e = spawn;\n");
      write('container/agent.ts', "import { Sandbox } from '../worker/sandbox/sandbox';\nexport const c = Sandbox;\n");
      write('container/uses-extension.ts', "import { e } from '../extension/core/logic';\nexport const u = e;\n");
      const r = cruise(dir, ['worker', 'extension', 'container']);
      assert.notEqual(r.status, 0, 'violations fail the check');
      for (const rule of [
        'protocol-is-a-leaf',
        'only-protocol-crosses-runtimes',
        'extension-and-container-apart',
        'worker-stays-in-workerd',
        'pure-logic-has-no-runtime',
        'worker-pure-modules-no-cloudflare',
        'no-circular',
      ]) {
        assert.match(r.out, new RegExp(`error ${rule}:`), `${rule} did not fire:\n${r.out}`);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
