import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The manifest matches the code: declared commands = the table in commands.ts, menus name real commands. */
const pkg = JSON.parse(fs.readFileSync('package.json', 'utf8'));
const declared: string[] = pkg.contributes.commands.map((c: { command: string }) => c.command);

/** The keys of the one command table (the status-bar command is named by a constant). */
function registered(): string[] {
  const source = fs.readFileSync('extension/commands.ts', 'utf8');
  const table = source.slice(source.indexOf('export const commands'), source.indexOf('/** Registers the table'));
  const ids = [...table.matchAll(/^ {2}'(sandboxPorts\.[A-Za-z]+)':/gm)].map((m) => m[1]!);
  const constants = [...table.matchAll(/^ {2}\[([A-Z_]+)\]:/gm)].map((m) => m[1]!);
  for (const name of constants) {
    const files = ['extension/status-bar.ts', 'extension/commands.ts'].map((f) => fs.readFileSync(f, 'utf8')).join('\n');
    const m = new RegExp(`export const ${name} = '([^']+)'`).exec(files);
    assert.ok(m, `constant ${name} not found`);
    ids.push(m[1]!);
  }
  return ids;
}

/** Lists a zip's entries from its central directory (a .vsix is a zip). */
function zipEntries(file: string): string[] {
  const buf = fs.readFileSync(file);
  const eocd = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  assert.ok(eocd >= 0, 'not a zip');
  const count = buf.readUInt16LE(eocd + 10);
  let at = buf.readUInt32LE(eocd + 16);
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    assert.equal(buf.readUInt32LE(at), 0x02014b50);
    const nameLen = buf.readUInt16LE(at + 28);
    const extraLen = buf.readUInt16LE(at + 30);
    const commentLen = buf.readUInt16LE(at + 32);
    names.push(buf.toString('utf8', at + 46, at + 46 + nameLen));
    at += 46 + nameLen + extraLen + commentLen;
  }
  return names;
}

describe('extension manifest', () => {
  describe('commands', () => {
    it('declares every registered command and registers every declared one', () => {
      assert.deepEqual([...registered()].sort(), [...declared].sort());
    });

    it('prefixes every command and gives each the Sandbox Ports category', () => {
      for (const c of pkg.contributes.commands) {
        assert.match(c.command, /^sandboxPorts\./);
        assert.equal(c.category, 'Sandbox Ports', c.command);
      }
    });

    it('names only declared commands in menus and welcome views', () => {
      for (const [menu, items] of Object.entries(pkg.contributes.menus as Record<string, { command: string }[]>)) {
        for (const item of items) assert.ok(declared.includes(item.command), `${menu} names ${item.command}`);
      }
      for (const w of pkg.contributes.viewsWelcome) {
        for (const m of w.contents.matchAll(/\(command:([\w.]+)\)/g)) assert.ok(declared.includes(m[1]), `welcome view names ${m[1]}`);
      }
    });

    it('shows item menus only on the Sandboxes view, matched by contextValue', () => {
      for (const item of pkg.contributes.menus['view/item/context']) {
        assert.match(item.when, /^view == sandboxPorts\.sandboxes && viewItem =~ \/.+\/$/, item.command);
      }
    });
  });

  describe('daily use', () => {
    it('binds F2 (label), Delete (remove) and Ctrl/Cmd+C (copy URL) in the Sandboxes view, acting on the selected row', () => {
      const keys = Object.fromEntries((pkg.contributes.keybindings as { key: string; command: string; when: string; args?: unknown }[]).map((k) => [k.key, k]));
      assert.equal(keys.f2?.command, 'sandboxPorts.setLabel');
      assert.equal(keys.delete?.command, 'sandboxPorts.deleteItem');
      assert.equal(keys['ctrl+c']?.command, 'sandboxPorts.copyUrl');
      for (const k of Object.values(keys)) {
        assert.equal(k.when, 'focusedView == sandboxPorts.sandboxes');
        assert.deepEqual(k.args, { fromSelection: true });
      }
    });

    it('writes welcome views in plain words (no literal Markdown backticks)', () => {
      for (const w of pkg.contributes.viewsWelcome) assert.doesNotMatch(w.contents, /`/);
    });

    it('has one Copy URL command (ports, tunnels and the status bar), and titles in plain words', () => {
      const titles = pkg.contributes.commands.map((c: { title: string }) => c.title);
      assert.equal(titles.filter((t: string) => /copy/i.test(t)).length, 1);
      assert.ok(titles.includes('Show Output'), 'the process output command says what it shows');
    });
  });

  describe('engines', () => {
    it('pins @types/vscode to the engine floor and no newer than the VS Code the tests run', () => {
      const engine = pkg.engines.vscode.replace(/^\^/, '');
      assert.equal(pkg.devDependencies['@types/vscode'], engine);
      const script = fs.readFileSync('scripts/install-vscode.sh', 'utf8');
      const codeServer = /VERSION="\$\{CODE_SERVER_VERSION:-4\.(\d+)\.\d+\}"/.exec(script);
      assert.ok(codeServer, 'install-vscode.sh names the code-server version');
      assert.ok(Number(engine.split('.')[1]) <= Number(codeServer[1]), `engine ${engine} is newer than VS Code 1.${codeServer[1]}`);
    });

    it('declares every setting with a scope', () => {
      for (const [key, value] of Object.entries(pkg.contributes.configuration.properties as Record<string, { scope?: string }>)) {
        assert.ok(value.scope, `${key} has no scope`);
      }
    });
  });

  describe('npm run package', () => {
    it('makes a .vsix holding only the bundles (the extension, its inspector page), the local-runtime tarball, the manifest, the README, the LICENSE and media', function () {
      this.timeout(60000);
      assert.ok(fs.existsSync('dist/extension.js'), 'build first (npm test does)');
      const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'vsix-')), 'x.vsix');
      execFileSync(path.resolve('node_modules/.bin/vsce'), ['package', '--no-dependencies', '-o', out], { stdio: 'pipe' });
      const files = zipEntries(out).filter((f) => f.startsWith('extension/'));
      fs.rmSync(path.dirname(out), { recursive: true, force: true });
      const allowed =
        /^extension\/(dist\/extension\.js|dist\/webview\/traffic\.js|dist\/local\/sandbox-ports-local-[\d.]+-[0-9a-f]{10}\.tgz|package\.json|readme\.md|LICENSE\.txt|media\/[\w.-]+)$/i;
      for (const f of files) assert.match(f, allowed);
      for (const must of [
        'extension/dist/extension.js',
        'extension/dist/webview/traffic.js',
        'extension/media/traffic.css',
        'extension/package.json',
        'extension/media/sandboxes.svg',
      ])
        assert.ok(files.includes(must), `${must} missing`);
    });
  });
});
