/** The Sandbox Durable Object's live state (issue 12 point 1): agent events in, control events out. */
import assert from 'node:assert/strict';
import { LiveState, applyAgentEvent } from '../../worker/sandbox/live-state';
import type { DetectedPort, ProcessInfo, TunnelInfo } from '../../worker/protocol/index';

const proc = (id: string, status: ProcessInfo['status'] = 'running'): ProcessInfo =>
  ({ id, pid: 7, command: 'sleep 1', status, startTime: '2026-01-01T00:00:00.000Z' }) as ProcessInfo;
const port = (n: number): DetectedPort => ({ port: n, address: '0.0.0.0', pid: 7, processId: 'a' });
const tunnel = (n: number): TunnelInfo => ({ id: `quick-${n}`, port: n, url: `https://t${n}.trycloudflare.com`, hostname: `t${n}.trycloudflare.com`, createdAt: '' });

describe('live state', () => {
  it('applies every agent event and answers the control event clients get', () => {
    const s = new LiveState();
    assert.deepEqual(applyAgentEvent(s, 'box', { type: 'process-started', process: proc('a') }), { type: 'process-started', sandboxId: 'box', process: proc('a') });
    assert.deepEqual(applyAgentEvent(s, 'box', { type: 'port-detected', port: port(8080) }), { type: 'port-detected', sandboxId: 'box', port: port(8080) });
    assert.deepEqual(applyAgentEvent(s, 'box', { type: 'tunnel-up', tunnel: tunnel(8080) }), { type: 'tunnel-up', sandboxId: 'box', tunnel: tunnel(8080) });
    assert.deepEqual([...s.running.keys(), ...s.detected.keys(), ...s.tunnels.keys()], ['a', 8080, 8080]);
    assert.deepEqual(applyAgentEvent(s, 'box', { type: 'port-closed', port: 8080 }), { type: 'port-closed', sandboxId: 'box', port: 8080 });
    // The agent's reason for a tunnel going down is not part of the control event.
    assert.deepEqual(applyAgentEvent(s, 'box', { type: 'tunnel-down', port: 8080, reason: 'cloudflared exited' }), { type: 'tunnel-down', sandboxId: 'box', port: 8080 });
    assert.deepEqual(applyAgentEvent(s, 'box', { type: 'process-exited', process: proc('a', 'completed') }), {
      type: 'process-exited',
      sandboxId: 'box',
      process: proc('a', 'completed'),
    });
    assert.equal(s.running.size + s.detected.size + s.tunnels.size, 0);
  });

  it('publishes nothing for an event it does not know', () => {
    const s = new LiveState();
    assert.equal(applyAgentEvent(s, 'box', { type: 'something-new' } as never), null);
  });

  it('reset keeps running processes only; clear answers what ended with the container', () => {
    const s = new LiveState();
    s.reset([proc('a'), proc('b', 'completed')], [port(3001)], [tunnel(3001)]);
    assert.deepEqual([...s.running.keys()], ['a']);
    assert.deepEqual(s.clear(), { processIds: ['a'], tunnelPorts: [3001] });
    assert.equal(s.detected.size, 0);
  });
});
