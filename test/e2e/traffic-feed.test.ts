/**
 * The inspector panel's feed (extension/core/traffic-feed) against the real Worker: it follows a
 * port's requests live, keeps every one across a dropped connection (nothing missed, nothing
 * twice, including a long request that finishes after later ones), starts over when the records
 * are cleared, and says plainly when inspection is off or the exposure ended.
 */
import assert from 'node:assert/strict';
import { ApiClient } from '../../extension/core/api-client';
import { Backoff } from '../../extension/core/backoff';
import { TrafficFeed, type FeedView } from '../../extension/core/traffic-feed';
import { Api } from '../helpers/api';
import { eventually } from '../helpers/net';
import { previewRequest, previewStream } from '../helpers/preview-client';
import { sandboxWithEcho } from '../helpers/services';

describe('traffic inspector feed (the panel against the real Worker)', function () {
  this.timeout(120000);
  let api: Api;
  let box: string;
  let port: number;
  let url: string;
  let client: ApiClient;
  const feeds: TrafficFeed[] = [];
  /** Stream requests the test can cut, as a dropped network would, and keep from coming back until released. */
  const cuts = new Set<AbortController>();
  let away: Promise<void> = Promise.resolve();
  /** Every view the feed gave, in order. */
  let views: FeedView[] = [];

  before(async function () {
    let stack;
    ({ stack, api, box, port } = await sandboxWithEcho('feed'));
    url = (await api.ok('POST', `/sandboxes/${box}/ports`, { port })).url;
    client = new ApiClient({
      url: stack.url,
      token: stack.token,
      fetch: async (input, init) => {
        if (!String(input).endsWith('/stream')) return fetch(input, init);
        await away;
        const cut = new AbortController();
        cuts.add(cut);
        init?.signal?.addEventListener('abort', () => cut.abort());
        return fetch(input, { ...init, signal: cut.signal });
      },
    });
  });

  after(async () => {
    await Promise.all(feeds.map((f) => f.stop()));
  });

  function follow(p: number): TrafficFeed {
    views = [];
    const feed = new TrafficFeed({
      list: () => client.listRequests(box, p),
      openStream: (last, signal) => client.openStream(`${client.requestsPath(box, p)}/stream`, last, signal),
      onChange: (view) => views.push(view),
      backoff: new Backoff({ baseMs: 50, maxMs: 200 }),
    });
    feeds.push(feed);
    feed.start();
    return feed;
  }

  const paths = (feed: TrafficFeed) => feed.view.entries.map((e) => e.path);

  it('follows new requests live, newest first, after the ones already kept', async () => {
    await previewRequest(`${url}before`);
    const feed = follow(port);
    await eventually(() => feed.view.state.kind === 'live', 10000, 'live');
    await previewRequest(`${url}after-1`);
    await previewRequest(`${url}after-2`);
    await eventually(() => paths(feed)[0] === '/after-2', 10000, 'the new requests');
    assert.deepEqual(paths(feed).slice(0, 3), ['/after-2', '/after-1', '/before']);
    await feed.stop();
  });

  it('keeps every request across a dropped connection: none missed, none twice, a long one that finished late included', async () => {
    const feed = follow(port);
    await eventually(() => feed.view.state.kind === 'live', 10000, 'live');
    const known = new Set(feed.view.entries.map((e) => e.id));
    // A long request (SSE, about a second) arrives first; a quick one after it is seen live.
    const long = previewStream(`${url}sse`, () => {});
    await new Promise((r) => setTimeout(r, 100));
    await previewRequest(`${url}quick`);
    await eventually(() => paths(feed).includes('/quick'), 10000, 'the quick one, live');
    // The connection drops and stays away while the long one finishes and more come.
    let release!: () => void;
    away = new Promise((r) => (release = r));
    for (const c of cuts) c.abort();
    cuts.clear();
    await eventually(() => feed.view.state.kind === 'reconnecting', 5000, 'dropped');
    await long;
    for (let i = 1; i <= 5; i++) await previewRequest(`${url}while-away-${i}`);
    assert.ok(!paths(feed).includes('/sse'), 'nothing came while away');
    release();
    await eventually(() => paths(feed).includes('/sse') && paths(feed).includes('/while-away-5'), 15000, 'all of them after the resume');
    assert.ok(
      views.some((v) => v.state.kind === 'reconnecting'),
      'the connection was really lost',
    );
    const fresh = feed.view.entries.filter((e) => !known.has(e.id)).map((e) => e.path);
    assert.deepEqual(fresh.sort(), ['/quick', '/sse', '/while-away-1', '/while-away-2', '/while-away-3', '/while-away-4', '/while-away-5']);
    assert.equal(new Set(feed.view.entries.map((e) => e.id)).size, feed.view.entries.length, 'no entry twice');
    const server = (await client.listRequests(box, port)).requests.map((e) => e.id);
    assert.deepEqual(
      feed.view.entries.map((e) => e.id),
      server,
      'the same list as the Worker keeps',
    );
    await feed.stop();
  });

  it('starts over when the records are cleared, and follows on from there', async () => {
    const feed = follow(port);
    await eventually(() => feed.view.state.kind === 'live' && feed.view.entries.length > 0, 10000, 'live with entries');
    await client.clearRequests(box, port);
    await eventually(() => feed.view.entries.length === 0, 10000, 'emptied');
    await previewRequest(`${url}after-clear`);
    await eventually(() => paths(feed).join() === '/after-clear', 10000, 'only the new one');
    await feed.stop();
  });

  it('says plainly when inspection is off for the port, and when the exposure ended', async () => {
    const quiet = port + 1 === 3000 ? port + 2 : port + 1;
    await api.ok('POST', `/sandboxes/${box}/ports`, { port: quiet, inspect: false });
    const off = follow(quiet);
    await eventually(() => off.view.state.kind === 'off', 10000, 'off');
    assert.match((off.view.state as { reason: string }).reason, /inspect: false/);
    await off.stop();
    await api.ok('DELETE', `/sandboxes/${box}/ports/${quiet}`);

    // Re-exposed with inspect: false while the panel is open: it starts over and says so.
    const watching = follow(port);
    await eventually(() => watching.view.state.kind === 'live', 10000, 'live');
    await api.ok('POST', `/sandboxes/${box}/ports`, { port, inspect: false });
    await eventually(() => watching.view.state.kind === 'off', 10000, 'off once re-exposed without inspection');
    assert.deepEqual(watching.view.entries, []);
    // Exposing again keeps what it does not name: inspection is turned on by saying so.
    await api.ok('POST', `/sandboxes/${box}/ports`, { port, inspect: true });

    const feed = follow(port);
    await eventually(() => feed.view.state.kind === 'live', 10000, 'live');
    // A request still on its way when the exposure ends is not kept for a later one.
    const inFlight = previewStream(`${url}sse`, () => {});
    await new Promise((r) => setTimeout(r, 150));
    await api.ok('DELETE', `/sandboxes/${box}/ports/${port}`);
    await eventually(() => feed.view.state.kind === 'ended', 10000, 'ended');
    // Opened after the end: the same plain words, not an error.
    const late = follow(port);
    await eventually(() => late.view.state.kind === 'ended', 10000, 'ended when opened late');
    assert.match((late.view.state as { reason: string }).reason, /not exposed/);
    await inFlight.catch(() => {});
    await api.ok('POST', `/sandboxes/${box}/ports`, { port });
    const again = follow(port);
    await eventually(() => again.view.state.kind === 'live', 10000, 'live on the new exposure');
    assert.deepEqual(again.view.entries, [], 'nothing of the old exposure');
    assert.equal((await api.ok('GET', `/sandboxes/${box}`)).ports.find((p: { port: number }) => p.port === port).traffic?.requests ?? 0, 0, 'no count carried over');
  });
});
