/** Validation and parsing of what the Expose Port inputs collect, before anything is sent. */
import { checkCustomToken, checkUserPort, generateToken, parseDurationMs, type ExposedPort, type Visibility } from '../../worker/protocol/index';
import type { ExposeRequest } from './api-client';
import type { PortAttributes } from './port-attributes';

/** An error message for an input box, or undefined when the value is fine (the InputBox contract). */
export function validatePortInput(value: string): string | undefined {
  const text = value.trim();
  if (!/^\d+$/.test(text)) return 'A port is a number, e.g. 8080.';
  return messageOf(() => checkUserPort(Number(text)));
}

export function validateTokenInput(value: string): string | undefined {
  if (value === '') return undefined;
  return messageOf(() => checkCustomToken(value));
}

export function validateTtlInput(value: string): string | undefined {
  const text = value.trim();
  if (text === '') return undefined;
  try {
    parseDurationMs(/^\d+$/.test(text) ? Number(text) : text);
    return undefined;
  } catch {
    return "A duration such as '30m', '2h' or '90s' (or empty for no expiry).";
  }
}

export interface ExposeAnswers {
  port: number;
  name?: string;
  token?: string;
  visibility?: Visibility;
  ttl?: string;
}

/** The POST /ports body from the answers; empty answers are left out (the Worker's defaults apply). */
export function exposeRequest(answers: ExposeAnswers): ExposeRequest {
  const req: ExposeRequest = { port: answers.port };
  if (answers.name?.trim()) req.name = answers.name.trim();
  if (answers.token?.trim()) req.token = answers.token.trim();
  if (answers.visibility) req.visibility = answers.visibility;
  if (answers.ttl?.trim()) req.ttl = /^\d+$/.test(answers.ttl.trim()) ? Number(answers.ttl.trim()) : answers.ttl.trim();
  return req;
}

/** The rule's own message (the Worker would answer the same), or undefined when it passes. */
function messageOf(check: () => unknown): string | undefined {
  try {
    check();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * The one-step expose: public (or what the port's attributes say), labelled from the attributes,
 * with a fresh random custom token so the URL survives container restarts (a generated token
 * would rotate). A port already exposed keeps its token: exposing it again never changes its URL.
 */
export function oneStepExpose(port: number, attributes: PortAttributes, current: ExposedPort | undefined, newToken: () => string = generateToken): ExposeRequest {
  // A port already exposed keeps what it has (label, visibility); the attributes are for a first expose.
  const req: ExposeRequest = { port, visibility: current?.visibility ?? attributes.visibility ?? 'public' };
  if (!current) req.token = newToken();
  const name = current?.name ?? attributes.label;
  if (name) req.name = name;
  return req;
}

/** Changing a label or the visibility re-exposes with everything else as it is: same token, same URL. */
export function reexpose(current: ExposedPort, change: { name?: string | null; visibility?: Visibility }): ExposeRequest {
  const req: ExposeRequest = { port: current.port, visibility: change.visibility ?? current.visibility };
  const name = change.name === undefined ? current.name : change.name;
  // null clears the label on the Worker; an absent name would keep the old one.
  req.name = name ?? null;
  return req;
}
