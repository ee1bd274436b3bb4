/**
 * What readFile answers for a file's bytes (SDK parity): UTF-8 text when the bytes are text,
 * base64 when they are not (or when asked), with the kind of file and its size. Pure.
 */

export interface FileContent {
  path: string;
  content: string;
  encoding: 'utf-8' | 'base64';
  isBinary: boolean;
  mimeType: string;
  /** Bytes. */
  size: number;
}

/** Types a file's first bytes give away, whatever its name says. */
const MAGIC: Array<[number[], string]> = [
  [[0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'image/png'],
  [[0xff, 0xd8, 0xff], 'image/jpeg'],
  [[0x47, 0x49, 0x46, 0x38], 'image/gif'],
  [[0x25, 0x50, 0x44, 0x46, 0x2d], 'application/pdf'],
  [[0x50, 0x4b, 0x03, 0x04], 'application/zip'],
  [[0x1f, 0x8b], 'application/gzip'],
  [[0x00, 0x61, 0x73, 0x6d], 'application/wasm'],
  [[0x7f, 0x45, 0x4c, 0x46], 'application/x-executable'],
];

const BY_EXTENSION: Record<string, string> = {
  txt: 'text/plain',
  md: 'text/markdown',
  html: 'text/html',
  htm: 'text/html',
  css: 'text/css',
  csv: 'text/csv',
  js: 'text/javascript',
  mjs: 'text/javascript',
  cjs: 'text/javascript',
  ts: 'text/typescript',
  json: 'application/json',
  xml: 'application/xml',
  svg: 'image/svg+xml',
  yaml: 'application/yaml',
  yml: 'application/yaml',
  py: 'text/x-python',
  sh: 'application/x-sh',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  ico: 'image/x-icon',
  pdf: 'application/pdf',
  zip: 'application/zip',
  gz: 'application/gzip',
  wasm: 'application/wasm',
};

function startsWith(bytes: Uint8Array, magic: number[]): boolean {
  return bytes.length >= magic.length && magic.every((b, i) => bytes[i] === b);
}

/** The file's type: from its first bytes when they say, else from its name, else by content. */
export function mimeTypeOf(path: string, bytes: Uint8Array, isBinary: boolean): string {
  for (const [magic, type] of MAGIC) if (startsWith(bytes, magic)) return type;
  const ext = /\.([A-Za-z0-9]+)$/.exec(path)?.[1]?.toLowerCase();
  if (ext && BY_EXTENSION[ext]) return BY_EXTENSION[ext]!;
  return isBinary ? 'application/octet-stream' : 'text/plain';
}

/** Text is valid UTF-8 with no NUL byte; anything else is binary. */
export function decodeText(bytes: Uint8Array): string | null {
  if (bytes.includes(0)) return null;
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    return null;
  }
}

export function toBase64(bytes: Uint8Array): string {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

/** readFile's answer; `encoding` forces base64 (or utf-8, which decodes whatever the bytes are). */
export function fileContent(path: string, bytes: Uint8Array, encoding?: 'utf-8' | 'base64'): FileContent {
  const text = decodeText(bytes);
  const isBinary = text === null;
  const base = { path, isBinary, mimeType: mimeTypeOf(path, bytes, isBinary), size: bytes.length };
  if (encoding === 'base64' || (encoding === undefined && isBinary)) return { ...base, content: toBase64(bytes), encoding: 'base64' };
  return { ...base, content: text ?? new TextDecoder().decode(bytes), encoding: 'utf-8' };
}
