// The one place that turns a wrangler configuration plus a bundle into a config for plain
// `workerd serve`: `npm start` (scripts/stack.mjs) and the benchmarks' references use it. Pure:
// it answers text; the caller writes the file and starts workerd.
import path from 'node:path';

/** JSON with comments and trailing commas (wrangler.jsonc) → a value. Strings are left intact. */
export function parseJsonc(text) {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      const start = i++;
      while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      out += text.slice(start, ++i);
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? text.length : end + 2;
    } else {
      out += c;
      i++;
    }
  }
  // A comma followed only by whitespace and a closing bracket is a trailing comma.
  return JSON.parse(out.replace(/,(\s*[}\]])/g, '$1'));
}

/**
 * The Worker a wrangler config describes (its top level, as `wrangler dev` and `wrangler deploy`
 * without --env read it): compatibility, vars, Durable Object namespaces. Durable Objects keep
 * wrangler's unique keys (`{name}-{class}`), so their ids, and a state folder, are the same under
 * `wrangler dev` and plain workerd.
 */
export function workerFromWrangler(wrangler) {
  const sqlite = new Set((wrangler.migrations ?? []).flatMap((m) => m.new_sqlite_classes ?? []));
  const objects = wrangler.durable_objects?.bindings ?? [];
  for (const o of objects) {
    if (o.script_name) throw new Error(`Durable Object binding ${o.name} names another script (${o.script_name}); plain workerd runs one Worker`);
  }
  return {
    name: wrangler.name,
    compatibilityDate: wrangler.compatibility_date,
    compatibilityFlags: wrangler.compatibility_flags ?? [],
    bindings: [
      ...Object.entries(wrangler.vars ?? {}).map(([name, value]) => (typeof value === 'string' ? { name, text: value } : { name, json: JSON.stringify(value) })),
      ...objects.map((o) => ({ name: o.name, durableObjectNamespace: o.class_name })),
    ],
    durableObjects: [...new Set(objects.map((o) => o.class_name))].map((className) => ({
      className,
      uniqueKey: `${wrangler.name}-${className}`,
      sql: sqlite.has(className),
    })),
  };
}

/** Adds or replaces bindings by name (later wins), as `--var` does over `vars`. */
export function withBindings(worker, extra) {
  const names = new Set(extra.map((b) => b.name));
  return { ...worker, bindings: [...worker.bindings.filter((b) => !names.has(b.name)), ...extra] };
}

const str = (s) => JSON.stringify(String(s));
const ident = (s) => {
  if (!/^[A-Za-z][A-Za-z0-9]*$/.test(s)) throw new Error(`not usable as a workerd name: ${s}`);
  return s;
};

function binding(b) {
  if ('text' in b) return `(name = ${str(b.name)}, text = ${str(b.text)})`;
  if ('json' in b) return `(name = ${str(b.name)}, json = ${str(b.json)})`;
  // A secret comes from workerd's environment, so it is never written into the config file.
  if ('fromEnvironment' in b) return `(name = ${str(b.name)}, fromEnvironment = ${str(b.fromEnvironment)})`;
  if ('durableObjectNamespace' in b) return `(name = ${str(b.name)}, durableObjectNamespace = ${str(b.durableObjectNamespace)})`;
  throw new Error(`unknown binding shape for ${b.name}`);
}

/**
 * V8's young generation grows to tens of MB per isolate under load and what it promotes stays
 * resident. Measured here on the minimal proxy (a one-off comparison, 15 s at 32 connections then
 * 5 s at 200): ~170 MB RSS with 1 MB semi-spaces instead of ~250 MB, requests/s within noise.
 * test/bench/preview.mjs reports the RSS of npm start's Worker under load with this setting.
 */
export const LOCAL_V8_FLAGS = ['--max-semi-space-size=1'];

/**
 * A workerd config serving `workers`, each { key, worker (from workerFromWrangler), modulePath,
 * address, storageDir }. `configDir` is where the file will be written: capnp resolves `embed`
 * paths against the config file's folder, so module paths are made relative to it.
 */
export function workerdConfig({ configDir, workers, v8Flags = LOCAL_V8_FLAGS }) {
  const services = [];
  const sockets = [];
  const consts = [];
  for (const w of workers) {
    const key = ident(w.key);
    services.push(`(name = ${str(key)}, worker = .${key})`);
    services.push(`(name = ${str(`${key}-storage`)}, disk = (path = ${str(w.storageDir)}, writable = true))`);
    sockets.push(`(name = ${str(key)}, address = ${str(w.address)}, http = (), service = ${str(key)})`);
    const flags = w.worker.compatibilityFlags.map(str).join(', ');
    consts.push(`const ${key} :Workerd.Worker = (
  modules = [(name = "index.js", esModule = embed ${str(path.relative(configDir, w.modulePath))})],
  compatibilityDate = ${str(w.worker.compatibilityDate)},
  compatibilityFlags = [${flags}],
  bindings = [
    ${w.worker.bindings.map(binding).join(',\n    ')}
  ],
  durableObjectNamespaces = [
    ${w.worker.durableObjects.map((d) => `(className = ${str(d.className)}, uniqueKey = ${str(d.uniqueKey)}, enableSql = ${d.sql})`).join(',\n    ')}
  ],
  durableObjectStorage = (localDisk = ${str(`${key}-storage`)}),
  globalOutbound = "network",
);`);
  }
  // Outbound fetches may reach loopback (the local container host) as well as the internet,
  // as under wrangler dev.
  services.push('(name = "network", network = (allow = ["public", "private", "local"]))');
  return `# Generated by scripts/workerd-config.mjs; rewritten at every start.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    ${services.join(',\n    ')}
  ],
  sockets = [
    ${sockets.join(',\n    ')}
  ],
  v8Flags = [${v8Flags.map(str).join(', ')}],
);

${consts.join('\n\n')}
`;
}
