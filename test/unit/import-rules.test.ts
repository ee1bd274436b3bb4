import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

/** The runtime boundaries of ARCHITECTURE.md, checked on every source file. */
function sources(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => path.join(dir, f));
}

function imports(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  return [...text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/gm), ...text.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1]!);
}

function resolved(file: string, spec: string): string {
  return spec.startsWith('.') ? path.relative('.', path.resolve(path.dirname(file), spec)) : spec;
}

describe('import rules', () => {
  it('worker/protocol imports nothing outside itself', () => {
    for (const file of sources('worker/protocol')) {
      for (const spec of imports(file)) {
        assert.ok(spec.startsWith('./'), `${file} imports ${spec}`);
      }
    }
  });

  it('container/ and extension/ import nothing of worker/ but worker/protocol', () => {
    for (const file of [...sources('container'), ...sources('extension')]) {
      for (const spec of imports(file)) {
        const target = resolved(file, spec);
        if (target.startsWith('worker')) assert.ok(target.startsWith(path.join('worker', 'protocol')), `${file} imports ${spec}`);
      }
    }
  });

  it('worker/ never imports extension/ or container/', () => {
    for (const file of sources('worker')) {
      for (const spec of imports(file)) {
        const target = resolved(file, spec);
        assert.ok(!target.startsWith('extension') && !target.startsWith('container'), `${file} imports ${spec}`);
      }
    }
  });

  it('logic modules stay free of vscode, cloudflare:* and child_process', () => {
    const pure = [...sources('worker/protocol'), ...sources('extension/core')];
    for (const file of pure) {
      for (const spec of imports(file)) {
        assert.ok(!/^(vscode|cloudflare:|node:child_process|child_process)/.test(spec), `${file} imports ${spec}`);
      }
    }
  });
});
