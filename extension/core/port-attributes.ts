/**
 * Per-port attributes, as VS Code's `remote.portsAttributes` has them: a key that is a port
 * (`"8080"`) or a range (`"3000-3999"`) maps to a label, what to do when a process starts listening
 * there, and the visibility an expose uses. They come from the setting `sandboxPorts.portsAttributes`
 * and from an optional `.sandbox-ports.json` in the workspace (`{ "portsAttributes": { … } }`).
 * Pure: parsing reports problems instead of throwing, so one bad entry does not hide the others.
 */
import type { Visibility } from '../../worker/protocol/index';

/** What the sandboxPorts.onPortDetected setting may say. */
export const PORT_DETECTED_ACTIONS = ['notify', 'expose', 'exposeAndOpen', 'silent'] as const;
/** A port's own attribute may also say 'ignore' (the port leaves the tree). */
export const ON_DETECT_ACTIONS = [...PORT_DETECTED_ACTIONS, 'ignore'] as const;
export type OnDetect = (typeof ON_DETECT_ACTIONS)[number];

export interface PortAttributes {
  label?: string;
  onDetect?: OnDetect;
  visibility?: Visibility;
}

export interface AttributeRule {
  from: number;
  to: number;
  attributes: PortAttributes;
  /** Where it came from, for messages: `settings` or `.sandbox-ports.json`. */
  source: string;
}

export interface ParsedAttributes {
  rules: AttributeRule[];
  problems: string[];
}

export const ATTRIBUTES_FILE = '.sandbox-ports.json';

/** Parses one `portsAttributes` object. */
export function parsePortsAttributes(value: unknown, source: string): ParsedAttributes {
  const rules: AttributeRule[] = [];
  const problems: string[] = [];
  if (value === undefined || value === null) return { rules, problems };
  if (typeof value !== 'object' || Array.isArray(value)) {
    return { rules, problems: [`${source}: portsAttributes must be an object whose keys are ports or ranges`] };
  }
  for (const [key, raw] of Object.entries(value as Record<string, unknown>)) {
    const range = parseKey(key);
    if (!range) {
      problems.push(`${source}: "${key}" is not a port (1–65535) or a range such as "3000-3999"`);
      continue;
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      problems.push(`${source}: the value for "${key}" must be an object such as { "label": "web" }`);
      continue;
    }
    const o = raw as Record<string, unknown>;
    const attributes: PortAttributes = {};
    if (o.label !== undefined) {
      if (typeof o.label === 'string' && o.label.trim() && o.label.length <= 100) attributes.label = o.label.trim();
      else problems.push(`${source}: "${key}".label must be text of 1–100 characters`);
    }
    if (o.onDetect !== undefined) {
      if ((ON_DETECT_ACTIONS as readonly unknown[]).includes(o.onDetect)) attributes.onDetect = o.onDetect as OnDetect;
      else problems.push(`${source}: "${key}".onDetect must be one of ${ON_DETECT_ACTIONS.join(', ')}`);
    }
    if (o.visibility !== undefined) {
      if (o.visibility === 'public' || o.visibility === 'private') attributes.visibility = o.visibility;
      else problems.push(`${source}: "${key}".visibility must be "public" or "private"`);
    }
    rules.push({ ...range, attributes, source });
  }
  return { rules, problems };
}

/** `.sandbox-ports.json`'s text → its rules (a broken file is one problem, not an exception). */
export function parseAttributesFile(text: string): ParsedAttributes {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { rules: [], problems: [`${ATTRIBUTES_FILE}: not valid JSON (${(err as Error).message})`] };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { rules: [], problems: [`${ATTRIBUTES_FILE}: expected an object with "portsAttributes"`] };
  }
  return parsePortsAttributes((value as Record<string, unknown>).portsAttributes, ATTRIBUTES_FILE);
}

function parseKey(key: string): { from: number; to: number } | null {
  const m = /^\s*(\d{1,5})\s*(?:-\s*(\d{1,5})\s*)?$/.exec(key);
  if (!m) return null;
  const from = Number(m[1]);
  const to = m[2] === undefined ? from : Number(m[2]);
  if (from < 1 || to > 65535 || from > to) return null;
  return { from, to };
}

/**
 * The attributes for one port. Each field comes from the most specific rule that sets it (a port
 * before a narrow range before a wide one); at equal width, earlier rules win, and the caller puts
 * the setting's rules before the file's.
 */
export function attributesFor(rules: readonly AttributeRule[], port: number): PortAttributes {
  if (rules.length === 0) return {};
  const matching = rules
    .map((rule, index) => ({ rule, index }))
    .filter(({ rule }) => rule.from <= port && port <= rule.to)
    .sort((a, b) => a.rule.to - a.rule.from - (b.rule.to - b.rule.from) || a.index - b.index);
  const out: PortAttributes = {};
  for (const { rule } of matching) {
    const a = rule.attributes;
    if (out.label === undefined && a.label !== undefined) out.label = a.label;
    if (out.onDetect === undefined && a.onDetect !== undefined) out.onDetect = a.onDetect;
    if (out.visibility === undefined && a.visibility !== undefined) out.visibility = a.visibility;
  }
  return out;
}
