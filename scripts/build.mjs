// Bundles the programs that run as plain files: the agent and the local container host (Node).
// The Worker is bundled by wrangler itself. The VS Code extension is one CommonJS file with `vscode`
// left to the extension host, and its inspector page one browser script.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const common = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', sourcemap: true, logLevel: 'warning' };

await Promise.all([
  build({ ...common, entryPoints: [path.join(root, 'container/main.ts')], outfile: path.join(root, 'dist/agent.js') }),
  build({ ...common, entryPoints: [path.join(root, 'container/host/main.ts')], outfile: path.join(root, 'dist/container-host.js') }),
  build({ ...common, entryPoints: [path.join(root, 'extension/extension.ts')], outfile: path.join(root, 'dist/extension.js'), external: ['vscode'] }),
  // The traffic inspector's page runs in a webview: a browser script, no Node, no vscode.
  build({
    bundle: true,
    platform: 'browser',
    target: 'es2022',
    format: 'iife',
    sourcemap: true,
    logLevel: 'warning',
    entryPoints: [path.join(root, 'extension/webview/traffic-page.ts')],
    outfile: path.join(root, 'dist/webview/traffic.js'),
  }),
]);
