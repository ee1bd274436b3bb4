import assert from 'node:assert/strict';
import { decodeText, fileContent, mimeTypeOf } from '../../worker/protocol/file-content';

const PNG = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0xff, 0xfe]);

describe('file content (worker/protocol/file-content.ts)', () => {
  it('answers a PNG as base64, binary, image/png, with its size', () => {
    const r = fileContent('/workspace/logo.png', PNG);
    assert.equal(r.encoding, 'base64');
    assert.equal(r.isBinary, true);
    assert.equal(r.mimeType, 'image/png');
    assert.equal(r.size, PNG.length);
    assert.deepEqual(Buffer.from(r.content, 'base64'), Buffer.from(PNG));
  });

  it('answers text as UTF-8 (any script), not binary, typed by its name', () => {
    const bytes = new TextEncoder().encode('héllo — 世界\n');
    const r = fileContent('/workspace/a.md', bytes);
    assert.deepEqual(r, { path: '/workspace/a.md', content: 'héllo — 世界\n', encoding: 'utf-8', isBinary: false, mimeType: 'text/markdown', size: bytes.length });
    assert.equal(fileContent('notes', bytes).mimeType, 'text/plain');
  });

  it('takes invalid UTF-8 or a NUL byte as binary; an encoding asked for wins', () => {
    assert.equal(decodeText(Uint8Array.from([0xc3, 0x28])), null);
    assert.equal(decodeText(Uint8Array.from([0x61, 0, 0x62])), null);
    assert.equal(fileContent('x.bin', Uint8Array.from([1, 2, 0xff])).mimeType, 'application/octet-stream');
    assert.equal(fileContent('a.txt', new TextEncoder().encode('hi'), 'base64').content, 'aGk=');
    assert.equal(fileContent('a.txt', new TextEncoder().encode('hi'), 'base64').isBinary, false);
  });

  it('knows a type by its first bytes, whatever the name says', () => {
    assert.equal(mimeTypeOf('picture.txt', PNG, true), 'image/png');
    assert.equal(mimeTypeOf('doc', new TextEncoder().encode('%PDF-1.7'), false), 'application/pdf');
  });

  it('encodes large files without overflowing the stack', () => {
    const big = new Uint8Array(3 * 1024 * 1024).fill(0xff);
    assert.equal(Buffer.from(fileContent('big.bin', big).content, 'base64').length, big.length);
  });
});
