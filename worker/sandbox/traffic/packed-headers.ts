/**
 * Headers as the inspector keeps them: one string, `name\nvalue\nname\nvalue…` in the runtime's
 * order, each credential's value replaced. A kept entry then holds one string per header list,
 * where pairs held an array, a pair and two strings per header: an exposure keeps 200 entries,
 * which the garbage collector walks on each pass. Neither a name nor a value can hold a line break
 * (the runtime refuses one), so the packing is unambiguous.
 */
import { REDACTED, isCredentialHeader } from '../../protocol/index';

/** Told each credential header that was found (its value is not kept). */
export interface Redactions {
  redact(name: string): void;
}

export function packHeaders(headers: Headers, found: Redactions): string {
  const parts: string[] = [];
  // Set-Cookie is the one header that may come more than once; each is its own pair.
  for (const pair of headers) {
    const name = pair[0];
    if (isCredentialHeader(name)) {
      parts.push(name, REDACTED);
      found.redact(name);
    } else parts.push(name, pair[1]);
  }
  return parts.join('\n');
}

/** The pairs again, as the API answers them. */
export function unpackHeaders(packed: string): [string, string][] {
  if (packed === '') return [];
  const parts = packed.split('\n');
  const pairs: [string, string][] = [];
  for (let i = 0; i + 1 < parts.length; i += 2) pairs.push([parts[i]!, parts[i + 1]!]);
  return pairs;
}

/** A header's value among pairs (the first), or null. */
export function headerValue(pairs: [string, string][], name: string): string | null {
  for (let i = 0; i < pairs.length; i++) if (pairs[i]![0] === name) return pairs[i]![1];
  return null;
}
