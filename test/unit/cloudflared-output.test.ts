import assert from 'node:assert/strict';
import { CloudflaredOutput, formatLine, metricsAddress, parseLogLine, quickTunnelUrl } from '../../container/tunnels/cloudflared-output';

const box = [
  '+--------------------------------------------------------------------------------------------+',
  '|  Your quick Tunnel has been created! Visit it at (it may take some time to be reachable):  |',
  '|  https://seasonal-deck-organisms-sf.trycloudflare.com                                      |',
  '+--------------------------------------------------------------------------------------------+',
];
const jsonLine = (message: string, extra: Record<string, unknown> = {}, key = 'message') =>
  JSON.stringify({ level: 'info', ...extra, time: '2025-01-01T00:00:00Z', [key]: message });

describe('cloudflared output', () => {
  describe('parseLogLine', () => {
    it('reads a JSON line: level, message and the other fields', () => {
      assert.deepEqual(parseLogLine(jsonLine('Registered tunnel connection', { connIndex: 0, location: 'lax01' })), {
        level: 'info',
        message: 'Registered tunnel connection',
        fields: { connIndex: 0, location: 'lax01' },
      });
    });

    it('takes the message from `msg` when there is no `message`', () => {
      assert.equal(parseLogLine(jsonLine('hello', {}, 'msg'))!.message, 'hello');
    });

    it('reads a text line with a zerolog level, and any other line as it is', () => {
      assert.deepEqual(parseLogLine('2025-01-01T00:00:00Z ERR failed to request quick Tunnel\r'), {
        level: 'error',
        message: 'failed to request quick Tunnel',
        fields: {},
      });
      assert.deepEqual(parseLogLine('panic: something'), { level: null, message: 'panic: something', fields: {} });
      assert.deepEqual(parseLogLine('{not json'), { level: null, message: '{not json', fields: {} });
      assert.equal(parseLogLine('   '), null);
    });
  });

  describe('quickTunnelUrl', () => {
    it('finds the URL inside the ASCII box', () => {
      assert.deepEqual(quickTunnelUrl(box[2]!), {
        url: 'https://seasonal-deck-organisms-sf.trycloudflare.com',
        hostname: 'seasonal-deck-organisms-sf.trycloudflare.com',
      });
    });

    it('ignores the lines around it, the API host in errors, and other domains', () => {
      for (const m of [
        box[0]!,
        box[1]!,
        'Requesting new quick Tunnel on trycloudflare.com...',
        'failed to request quick Tunnel: Post "https://api.trycloudflare.com/tunnel": dial tcp: i/o timeout',
        'Visit https://www.cloudflare.com/website-terms/',
        'https://evil.trycloudflare.com.example.com',
        'http://plain.trycloudflare.com',
        'https://a.b.trycloudflare.com',
      ]) {
        assert.equal(quickTunnelUrl(m), null, m);
      }
    });

    it('takes a URL at the end of a sentence', () => {
      assert.equal(quickTunnelUrl('Visit it at https://end-of-line.trycloudflare.com.')!.url, 'https://end-of-line.trycloudflare.com');
    });

    it('lowercases the host', () => {
      assert.equal(quickTunnelUrl('| https://Some-Words.TryCloudflare.com |')!.hostname, 'some-words.trycloudflare.com');
    });
  });

  it('metricsAddress reads the metrics server line', () => {
    assert.equal(metricsAddress('Starting metrics server on 127.0.0.1:41234/metrics'), '127.0.0.1:41234');
    assert.equal(metricsAddress('Starting metrics server on [::1]:5000/metrics'), '[::1]:5000');
    assert.equal(metricsAddress('Registered tunnel connection'), null);
  });

  it('formatLine shows the level, message and error fields', () => {
    assert.equal(
      formatLine({ level: 'error', message: 'failed to request quick Tunnel', fields: { error: 'no such host', connIndex: 0 } }),
      'ERROR failed to request quick Tunnel error="no such host"',
    );
    assert.equal(formatLine({ level: null, message: 'plain', fields: {} }), 'plain');
  });

  describe('CloudflaredOutput', () => {
    it('assembles lines split across chunks, per stream, and picks up the URL and metrics address', () => {
      const out = new CloudflaredOutput();
      const text = [jsonLine('Requesting new quick Tunnel on trycloudflare.com...'), ...box.map((l) => jsonLine(l)), jsonLine('Starting metrics server on 127.0.0.1:5555/metrics')]
        .map((l) => `${l}\n`)
        .join('');
      const cut = text.indexOf('seasonal') + 4;
      assert.equal(out.feed('stderr', text.slice(0, cut)).length, 3);
      assert.equal(out.url, null);
      assert.equal(out.feed('stdout', 'unrelated stdout without newline').length, 0);
      assert.equal(out.feed('stderr', text.slice(cut)).length, 3);
      assert.equal(out.url!.url, 'https://seasonal-deck-organisms-sf.trycloudflare.com');
      assert.equal(out.metrics, '127.0.0.1:5555');
      assert.deepEqual(
        out.end().map((l) => l.message),
        ['unrelated stdout without newline'],
      );
    });

    it('keeps only the last lines, formatted, for error messages', () => {
      const out = new CloudflaredOutput(3);
      assert.equal(out.describeTail(), 'cloudflared printed nothing.');
      out.feed('stderr', ['a', 'b', 'c', 'd'].map((m) => jsonLine(m)).join('\n') + '\n');
      assert.deepEqual(out.tail(), ['INFO b', 'INFO c', 'INFO d']);
      assert.equal(out.describeTail(), 'Last cloudflared log lines:\nINFO b\nINFO c\nINFO d');
    });

    it('keeps the first URL it saw', () => {
      const out = new CloudflaredOutput();
      out.feed('stderr', `${jsonLine('|  https://first-one.trycloudflare.com  |')}\n${jsonLine('|  https://second-one.trycloudflare.com  |')}\n`);
      assert.equal(out.url!.hostname, 'first-one.trycloudflare.com');
    });
  });
});
