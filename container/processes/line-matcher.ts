/**
 * Finds the first output line that matches a pattern, fed chunk by chunk (stdout and stderr each
 * assembled into lines of their own). The unfinished last line is tested too, so a prompt printed
 * without a newline ("Server ready") still matches. Pure: no I/O.
 */
import { ErrorCode, SandboxError } from '../../worker/protocol/errors';
import type { WaitForLogResult } from '../../worker/protocol/process';
import type { LogStreamName } from './log-buffer';

export type LineTest = (line: string) => WaitForLogResult | null;

/** Longest unfinished line kept; output without newlines cannot grow it further. */
const MAX_PARTIAL_CHARS = 1024 * 1024;

export function makeLineTest(pattern: string, regex: boolean, flags?: string): LineTest {
  if (!regex) return (line) => (line.includes(pattern) ? { line } : null);
  let re: RegExp;
  try {
    re = new RegExp(pattern, flags);
  } catch (err) {
    throw new SandboxError(ErrorCode.INVALID_PATTERN, `Invalid regular expression /${pattern}/${flags ?? ''}: ${(err as Error).message}`);
  }
  return (line) => {
    re.lastIndex = 0; // 'g' and 'y' make exec stateful; every line starts afresh.
    const m = re.exec(line);
    return m ? { line, match: Array.from(m, (s) => s ?? '') } : null;
  };
}

export class LineMatcher {
  private readonly test: LineTest;
  private readonly partial: Record<LogStreamName, string> = { stdout: '', stderr: '' };

  constructor(test: LineTest) {
    this.test = test;
  }

  /** Feeds one chunk; returns the first matching line in it, or null. */
  feed(stream: LogStreamName, data: string): WaitForLogResult | null {
    const text = this.partial[stream] + data;
    const lines = text.split('\n');
    let rest = lines.pop()!;
    for (const raw of lines) {
      const found = this.test(stripCr(raw));
      if (found) {
        this.partial[stream] = '';
        return found;
      }
    }
    if (rest.length > MAX_PARTIAL_CHARS) rest = rest.slice(-MAX_PARTIAL_CHARS);
    this.partial[stream] = rest;
    return rest ? this.test(stripCr(rest)) : null;
  }
}

function stripCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}
