/**
 * waitForLog with a regular expression, matched where it can be stopped: a worker thread. A
 * pattern that backtracks without end (`^(a+)+$` against `aaaa…!`) then burns that thread until
 * the wait's deadline ends it, while the agent itself keeps answering every other request.
 * JavaScript's own RegExp semantics are kept for every pattern. Plain-text patterns stay on the
 * main thread (a substring search cannot run away).
 */
import { Worker, parentPort, workerData } from 'node:worker_threads';
import type { WaitForLogResult } from '../../worker/protocol/process';
import type { LogStreamName } from './log-buffer';
import { LineMatcher, makeLineTest } from './line-matcher';

interface MatcherData {
  pattern: string;
  flags?: string;
}

type ToWorker = { stream: LogStreamName; data: string } | { end: true };
type FromWorker = { found: WaitForLogResult } | { ended: true };

export const REGEX_WORKER_MARK = 'sandbox-ports-regex-matcher';

export interface RegexMatcher {
  feed(stream: LogStreamName, data: string): void;
  /** Calls `then` once every chunk fed so far was matched without a find (the output ended). */
  end(then: () => void): void;
  stop(): void;
}

/**
 * Starts a matcher thread for `pattern` (already checked to compile) running `script` (this
 * bundle); `onFound` gets the first matching line.
 */
export function startRegexMatcher(script: string, pattern: string, flags: string | undefined, onFound: (found: WaitForLogResult) => void): RegexMatcher {
  const worker = new Worker(script, { workerData: { mark: REGEX_WORKER_MARK, pattern, flags } });
  worker.unref();
  let ended: (() => void) | null = null;
  worker.on('message', (m: FromWorker) => {
    if ('found' in m) onFound(m.found);
    else ended?.();
  });
  worker.on('error', () => {}); // ended by stop(), or the pattern threw: the wait's deadline answers
  return {
    feed: (stream, data) => worker.postMessage({ stream, data } satisfies ToWorker),
    end: (then) => {
      ended = then;
      worker.postMessage({ end: true } satisfies ToWorker);
    },
    stop: () => void worker.terminate(),
  };
}

/** True when this thread was started as a regex matcher. */
export function isRegexMatcherThread(): boolean {
  return !!parentPort && (workerData as { mark?: string } | null)?.mark === REGEX_WORKER_MARK;
}

/** The matcher thread's body: chunks in, the first matching line out. */
export function runRegexMatcherThread(): void {
  const { pattern, flags } = workerData as MatcherData;
  const matcher = new LineMatcher(makeLineTest(pattern, true, flags));
  let done = false;
  // Messages come in order: by the time `end` arrives, every chunk before it was matched.
  parentPort!.on('message', (m: ToWorker) => {
    if (done) return;
    if ('end' in m) return void parentPort!.postMessage({ ended: true } satisfies FromWorker);
    const found = matcher.feed(m.stream, m.data);
    if (found) {
      done = true;
      parentPort!.postMessage({ found } satisfies FromWorker);
    }
  });
}
