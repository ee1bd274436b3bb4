import assert from 'node:assert/strict';
import { hasDefaultRoute, pastaCommand } from '../../container/host/isolation';

describe('isolation command lines', () => {
  describe('pastaCommand', () => {
    const cpu = (flags: string) => `processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: ${flags}\n\nprocessor\t: 1\nflags\t\t: ${flags}\n`;

    it('runs the AVX2 build directly where it is installed and the CPU has AVX2', () => {
      assert.equal(pastaCommand('/usr/bin/pasta.avx2', cpu('fpu sse2 avx avx2 bmi2')), '/usr/bin/pasta.avx2');
    });

    it('runs plain pasta without the build, or on a CPU without AVX2 (avx512f alone is not avx2)', () => {
      assert.equal(pastaCommand(null, cpu('fpu sse2 avx avx2')), 'pasta');
      assert.equal(pastaCommand('/usr/bin/pasta.avx2', cpu('fpu sse2 avx avx512f')), 'pasta');
      assert.equal(pastaCommand('/usr/bin/pasta.avx2', ''), 'pasta');
      // arm64 lists `Features`, never `flags`
      assert.equal(pastaCommand('/usr/bin/passt.avx2', 'processor\t: 0\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32\n'), 'pasta');
    });
  });

  describe('hasDefaultRoute', () => {
    const header = 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n';
    it('is true once the table has a 0.0.0.0 destination, not before', () => {
      assert.equal(hasDefaultRoute(header), false);
      assert.equal(hasDefaultRoute(`${header}eth0\t0002000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n`), false);
      assert.equal(hasDefaultRoute(`${header}eth0\t00000000\t0102000A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n`), true);
    });
  });
});
