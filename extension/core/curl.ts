/**
 * "Copy as curl" for a recorded request: a command a person can paste into a shell. Credentials
 * the inspector never kept become shell variables ($AUTHORIZATION, $COOKIE, $TICKET), set them
 * first or the header goes empty; a body that was not kept whole is read from a file named in a
 * comment above the command.
 */
import { REDACTED, isCredentialHeader, type TrafficEntry } from '../../worker/protocol/index';

/** Headers curl sets itself, or that only made sense on the way the request came (hops, proxies). */
const LEFT_OUT =
  /^(host|content-length|connection|keep-alive|transfer-encoding|upgrade|te|trailer|accept-encoding|x-forwarded-.*|x-real-ip|forwarded|via|cf-.*|cdn-loop|true-client-ip)$/;

/** A word for a POSIX shell: single quotes, with each ' closed, escaped and reopened. */
export function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** The header's placeholder variable: Proxy-Authorization → $PROXY_AUTHORIZATION. */
function variable(name: string): string {
  return `$${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/** The URL as a shell word, the redacted ticket parameter as $TICKET (outside the quotes, so the shell fills it in). */
function urlWord(url: string): string {
  const marker = encodeURIComponent(REDACTED);
  return url
    .split(marker)
    .map((part) => shellQuote(part))
    .join('"$TICKET"')
    .replace(/^''|''$/g, '');
}

export function curlCommand(entry: TrafficEntry, exposureUrl: string): string {
  const url = new URL(entry.path.replace(/^\/*/, '/'), exposureUrl).toString();
  const notes: string[] = [];
  const args: string[] = ['curl'];
  const hasBody = entry.requestBody.kind !== 'none';
  if (entry.method === 'HEAD' && !hasBody) args.push('--head');
  // A body makes curl send POST: any other method is named (quoted: a method is any token).
  else if (hasBody ? entry.method !== 'POST' : entry.method !== 'GET') args.push('-X', shellQuote(entry.method));
  args.push(urlWord(url));
  let compressed = false;
  // Only a credential the inspector redacted becomes a variable; its name is quoted like any other.
  const used = new Set<string>();
  for (const [name, value] of entry.requestHeaders) {
    if (name === 'accept-encoding') compressed = true;
    if (LEFT_OUT.test(name)) continue;
    if (value === REDACTED && isCredentialHeader(name) && entry.redacted.includes(name)) {
      used.add(variable(name));
      args.push('-H', `${shellQuote(`${name}: `)}"${variable(name)}"`);
    } else args.push('-H', shellQuote(`${name}: ${value}`));
  }
  if (compressed) args.push('--compressed');
  const body = entry.requestBody;
  if (body.kind === 'text' && !body.truncated) args.push('--data-raw', shellQuote(body.text ?? ''));
  else if (body.kind !== 'none') {
    notes.push(`# The request's body (${body.size} bytes${body.contentType ? `, ${body.contentType}` : ''}) was not kept whole: put it in request-body.bin first.`);
    args.push('--data-binary', '@request-body.bin');
  }
  if (url.includes(encodeURIComponent(REDACTED))) used.add('$TICKET');
  if (used.size > 0) notes.unshift(`# Not kept by the inspector: set ${[...used].join(', ')} before running this.`);
  return [...notes, args.join(' ')].join('\n');
}
