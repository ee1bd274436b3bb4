/**
 * The runtime boundaries of ARCHITECTURE.md, checked on every import by dependency-cruiser
 * (`npm run lint`). Each rule says why it exists; a violation names the file and the import.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'protocol-is-a-leaf',
      comment: 'worker/protocol is the one contract every runtime shares: it imports nothing outside itself.',
      severity: 'error',
      from: { path: '^worker/protocol/' },
      to: { pathNot: '^worker/protocol/' },
    },
    {
      name: 'only-protocol-crosses-runtimes',
      comment: 'The agent, the container host and the extension share only worker/protocol with the Worker.',
      severity: 'error',
      from: { path: '^(container|extension)/' },
      to: { path: '^worker/', pathNot: '^worker/protocol/' },
    },
    {
      name: 'extension-and-container-apart',
      comment: 'The extension runs in VS Code, the agent and the container host beside the Worker: neither imports the other.',
      severity: 'error',
      from: { path: '^(extension|container)/' },
      to: { path: '^(extension|container)/', pathNot: '^$1/' },
    },
    {
      name: 'worker-stays-in-workerd',
      comment: 'The Worker runs in workerd: it never imports the extension or the Node programs.',
      severity: 'error',
      from: { path: '^worker/' },
      to: { path: '^(extension|container)/' },
    },
    {
      name: 'pure-logic-has-no-runtime',
      comment: 'Logic modules are tested in plain Node: no vscode, no cloudflare:*, no child_process.',
      severity: 'error',
      from: { path: '^(worker/protocol|extension/core)/' },
      to: { path: '^(vscode|cloudflare:.*|child_process)$', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'worker-pure-modules-no-cloudflare',
      comment:
        'Only the Worker modules that are its runtime seams (the Durable Objects, the local container seam, the entry) may import cloudflare:* or the containers package; the rest are pure and unit-tested in Node.',
      severity: 'error',
      from: { path: '^worker/', pathNot: '^worker/(index\\.ts|sandbox/(sandbox|local-container|local-seam)\\.ts|registry/registry\\.ts)$' },
      to: { path: '^(cloudflare:.*|node_modules/@cloudflare/containers/.*)$', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'webview-page-is-a-browser-script',
      comment: "The inspector's page runs in a webview: it may use only the pure modules (extension/core, worker/protocol) and its own, never vscode or Node.",
      severity: 'error',
      from: { path: '^extension/webview/' },
      to: { pathNot: '^(extension/webview|extension/core|worker/protocol)/' },
    },
    {
      name: 'no-circular',
      comment:
        "Import cycles make modules that cannot be read or tested alone. The Sandbox Durable Object's helpers depend on the narrow interfaces in worker/sandbox/context.ts, not on the class. (Type-only imports do not count: they vanish at run time.)",
      severity: 'error',
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|test-output|\\.tools|\\.tsbuild)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
    builtInModules: { add: ['vscode', 'cloudflare:workers', 'cloudflare:sockets'] },
  },
};
