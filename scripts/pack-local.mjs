// Makes the local runtime an npm package of its own, `sandbox-ports-local`, at this project's
// version: the prebuilt Worker bundle, the container host, the agent and the start script, with
// workerd (the same version wrangler brings) as its one dependency. `npm run package` puts the
// tarball in the .vsix (`--for-vsix`: dist/local/), and the extension's Start Local Server runs
// that file with `npm exec`, so a person who installed only the .vsix needs nothing but npm (which
// fetches workerd). Prints the path of the tarball `npm pack` made (its name carries a hash of its
// contents, so npm exec never reuses an older install of a file with the same name).
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { root, workerBundle } from './stack.mjs';

const require = createRequire(import.meta.url);
const project = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const out = path.join(root, 'dist', 'local-package');
const NAME = 'sandbox-ports-local';

/** Where `npm run package` puts the tarball for the .vsix to carry (.vscodeignore lets it in). */
export const VSIX_LOCAL_DIR = path.join(root, 'dist', 'local');

let cached = null;

/** Packs once per process (tests ask more than once); the path of the tarball. */
export function packLocal() {
  return (cached ??= pack());
}

/** Packs and puts the tarball where the extension looks for the one it carries (dist/local/). */
export function packForVsix() {
  const tarball = packLocal();
  fs.rmSync(VSIX_LOCAL_DIR, { recursive: true, force: true });
  fs.mkdirSync(VSIX_LOCAL_DIR, { recursive: true });
  const carried = path.join(VSIX_LOCAL_DIR, path.basename(tarball));
  fs.copyFileSync(tarball, carried);
  return carried;
}

function pack() {
  for (const built of ['dist/agent.js', 'dist/container-host.js']) {
    if (!fs.existsSync(path.join(root, built))) throw new Error(`${built} is missing: run node scripts/build.mjs first`);
  }
  const bundle = workerBundle();
  fs.rmSync(out, { recursive: true, force: true });
  const copy = (from, to = from) => {
    fs.mkdirSync(path.dirname(path.join(out, to)), { recursive: true });
    fs.copyFileSync(path.join(root, from), path.join(out, to));
  };
  for (const f of ['start.mjs', 'stack.mjs', 'workerd-config.mjs', 'worker-bundle.mjs', 'node-runtime.mjs']) copy(`scripts/${f}`);
  copy('worker/wrangler.jsonc');
  copy('dist/agent.js');
  copy('dist/container-host.js');
  copy(path.relative(root, bundle), 'dist/worker/index.js');
  fs.writeFileSync(path.join(out, 'dist', 'worker', 'PREBUILT'), 'The Worker bundle `wrangler deploy --dry-run` made; used as it is.\n');
  fs.writeFileSync(path.join(out, 'bin.mjs'), "#!/usr/bin/env node\nimport './scripts/start.mjs';\n", { mode: 0o755 });
  const workerd = require('workerd/package.json').version;
  const manifest = {
    name: NAME,
    version: project.version,
    description: 'The Sandbox Ports local runtime: the Worker on workerd, the container host and the sandbox agent, as the VS Code extension starts them.',
    license: project.license,
    bin: { [NAME]: 'bin.mjs' },
    engines: { node: '>=20' },
    os: ['linux', 'darwin'],
    dependencies: { workerd },
  };
  fs.writeFileSync(path.join(out, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  fs.writeFileSync(
    path.join(out, 'README.md'),
    [
      `# ${NAME}`,
      '',
      "The local runtime of Sandbox Ports, started by the VS Code extension's **Start Local Server**.",
      `By hand: \`npx ${NAME}\` runs the stack on http://127.0.0.1:8787 and writes its URL and token to`,
      '`~/.sandbox-ports/local.json` (set `SANDBOX_PORTS_HOME` and `SANDBOX_PORTS_PORT` to change them).',
      'On Linux, install `bubblewrap` and `passt` so every sandbox gets namespaces of its own.',
      '',
    ].join('\n'),
  );
  const packed = execFileSync('npm', ['pack', '--silent', '--pack-destination', path.join(root, 'dist')], { cwd: out, encoding: 'utf8' })
    .trim()
    .split('\n')
    .pop();
  const file = path.join(root, 'dist', packed);
  const hash = createHash('sha256').update(fs.readFileSync(file)).digest('hex').slice(0, 10);
  const named = path.join(root, 'dist', `${NAME}-${project.version}-${hash}.tgz`);
  fs.renameSync(file, named);
  return named;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  console.log(process.argv.includes('--for-vsix') ? packForVsix() : packLocal());
}
