/**
 * The test entry VS Code's extension host loads (extensionTestsPath): runs the suites with mocha
 * inside the real host, so they use the real `vscode` API. Bundled by test/vscode/run.ts.
 */
import Mocha from 'mocha';

export function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'bdd', timeout: 60_000, color: false, reporter: 'spec' });
  // Define describe/it before the suite modules run (they are bundled, so required here).
  mocha.suite.emit('pre-require', globalThis, 'extension.test.ts', mocha);
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- after pre-require, on purpose
  require('./extension.test');
  return new Promise((resolve, reject) => {
    mocha.run((failures) => (failures > 0 ? reject(new Error(`${failures} test(s) failed`)) : resolve()));
  });
}
