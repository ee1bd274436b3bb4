/** A small file's text, or `fallback` when it cannot be read (gone, not there, not ours). */
import fs from 'node:fs';

export function readTextOr(file: string | null, fallback = ''): string {
  if (!file) return fallback;
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}
