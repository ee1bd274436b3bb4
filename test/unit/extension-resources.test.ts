import assert from 'node:assert/strict';
import { buildTree, walk } from '../../extension/core/tree-model';
import { reduce, worldFrom } from '../../extension/core/state-reducer';
import { containmentWarnings } from '../../extension/core/health-warnings';
import { instanceResources, type ControlEvent, type ResourceUsage } from '../../worker/protocol/index';
import { box, proc } from './extension-fakes';

const NOW = Date.parse('2026-01-01T00:04:30.000Z');
const MiB = 1024 * 1024;

function usage(usedMiB: number, limitMiB: number, extra: Partial<ResourceUsage> = {}): ResourceUsage {
  return {
    memory: { used: usedMiB * MiB, limit: limitMiB * MiB },
    processes: { count: 14, limit: 2048 },
    cpu: { seconds: 1.25 },
    disk: { used: 40 * MiB },
    oomKills: 0,
    at: '2026-01-01T00:04:20.000Z',
    ...extra,
  };
}

describe('the extension and sandbox resources', () => {
  it("shows the instance type and memory in a sandbox's tooltip", () => {
    const [node] = buildTree(worldFrom([box('b', { instanceType: 'standard-1', limits: instanceResources('standard-1'), resources: usage(312, 4096) })]), { now: NOW });
    assert.equal(node!.description, 'running');
    assert.match(node!.tooltip, /Instance type \*\*standard-1\*\*: 1\/2 vCPU · 4 GiB memory · 8 GB disk/);
    assert.match(node!.tooltip, /Memory 312 MiB of 4 GiB \(8%\) · 14 of 2048 tasks · CPU 1\.3 s · disk 40 MiB \(measured 10 seconds ago\)/);
    const [custom] = buildTree(worldFrom([box('c', { instanceType: 'custom', limits: { ...instanceResources('lite'), memoryMiB: 128 } })]), { now: NOW });
    assert.match(custom!.tooltip, /Custom size: 1\/16 vCPU · 128 MiB memory/);
  });

  it('marks a sandbox near its memory limit: the description, a warning icon and the tooltip say so', () => {
    const [node] = buildTree(worldFrom([box('b', { limits: instanceResources('lite'), resources: usage(240, 256, { oomKills: 2 }) })]), { now: NOW });
    assert.equal(node!.description, 'running · memory 94%');
    assert.deepEqual(node!.icon, { id: 'warning', color: 'list.warningForeground' });
    assert.match(node!.tooltip, /Near its memory limit/);
    assert.match(node!.tooltip, /2 processes were killed for memory/);
    const [stopped] = buildTree(worldFrom([box('b', { status: 'stopped', resources: usage(240, 256) })]), { now: NOW });
    assert.equal(stopped!.description, 'stopped', 'a stopped sandbox uses nothing');
  });

  it('shows a process the kernel killed for memory as "killed: out of memory (256 MiB limit)"', () => {
    const killed = proc('hog', 'killed', { exitCode: 137, signal: 'SIGKILL', reason: 'out-of-memory', memoryLimit: 256 * MiB, endTime: '2026-01-01T00:00:02.000Z' });
    const roots = buildTree(worldFrom([box('b', { processes: [killed] })]), { now: NOW });
    const row = walk(roots).find((n) => n.kind === 'process')!;
    assert.match(row.description, /^killed: out of memory \(256 MiB limit\)/);
    assert.deepEqual(row.icon, { id: 'error', color: 'charts.red' });
    assert.match(row.tooltip, /killed: out of memory \(256 MiB limit\)/);
  });

  it('takes a new sandbox’s size from its created event, live usage from sandbox-resources events, and forgets usage when it stops', () => {
    const event = (body: object, id: number) => ({ ...body, id, time: '2026-01-01T00:04:00.000Z' }) as ControlEvent;
    let world = reduce(worldFrom([]), event({ type: 'sandbox-created', sandboxId: 'b', status: 'stopped', instanceType: 'lite', limits: instanceResources('lite') }, 0));
    assert.equal(world.b!.instanceType, 'lite');
    assert.equal(world.b!.limits!.memoryMiB, 256);
    world = reduce(world, event({ type: 'sandbox-resources', sandboxId: 'b', resources: usage(250, 256) }, 1));
    assert.equal(world.b!.resources!.memory.used, 250 * MiB);
    world = reduce(world, event({ type: 'sandbox-status', sandboxId: 'b', status: 'stopped' }, 2));
    assert.equal(world.b!.resources, undefined);
  });

  it('warns about a Worker whose sandboxes are not isolated, or not limited, saying why', () => {
    assert.deepEqual(containmentWarnings({ isolation: 'namespaces', limits: 'cgroup1' }), []);
    const [limits] = containmentWarnings({ isolation: 'namespaces', limits: 'none', limitsReason: 'SANDBOX_LIMITS=none' });
    assert.equal(limits, 'run without limits on memory, processes or CPU (SANDBOX_LIMITS=none): one runaway command can take this whole machine.');
    assert.equal(containmentWarnings({ isolation: 'none', limits: 'none' }).length, 2);
  });
});
