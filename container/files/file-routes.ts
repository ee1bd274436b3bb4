/** Handlers of /files, /mkdir and /checkout. */
import { pipeline } from 'node:stream';
import { ErrorCode, SandboxError } from '../../worker/protocol/errors';
import { MAX_FILE_BODY_BYTES } from '../../worker/protocol/api';
import { checkout, CHECKOUT_TIMEOUT_MS, type GitRunner } from './checkout';
import { runCommand } from '../processes/exec';
import type { Files } from './files';
import { readBody, readJson } from '../http/http-util';
import type { ProcessGroups } from '../processes/process-groups';
import { parseCheckout, parseEncoding, parseMkdir } from '../../worker/protocol/requests';
import { json, type Route } from '../http/router';

export interface FileRouteDeps {
  files: Files;
  groups: ProcessGroups;
  baseEnv: NodeJS.ProcessEnv;
}

function decodeBody(raw: Buffer, encoding: 'utf-8' | 'base64' | undefined): Buffer {
  if (encoding !== 'base64') return raw;
  const text = raw.toString('latin1').replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(text)) {
    throw new SandboxError(ErrorCode.INVALID_REQUEST, 'Body is not valid base64 (encoding=base64)');
  }
  return Buffer.from(text, 'base64');
}

export function fileRoutes({ files, groups, baseEnv }: FileRouteDeps): Route[] {
  const git: GitRunner = (args, cwd) => runCommand({ file: 'git', args, cwd, env: { ...baseEnv, GIT_TERMINAL_PROMPT: '0' }, timeoutMs: CHECKOUT_TIMEOUT_MS, groups });
  return [
    {
      method: 'PUT',
      path: '/files',
      handler: async ({ req, query }) => {
        const target = query.get('path');
        // Checked before the body is read, so a bad path or encoding never waits for an upload.
        await files.resolve(target);
        const encoding = parseEncoding(query.get('encoding'));
        const data = decodeBody(await readBody(req, MAX_FILE_BODY_BYTES), encoding);
        return json(await files.write(target, data), 201);
      },
    },
    {
      method: 'GET',
      path: '/files',
      handler: async ({ res, query }) => {
        const file = await files.open(query.get('path'));
        // No content-length: the file may change size while it is read (a process writing it), and a
        // body shorter or longer than a promised length would break the connection it travels on.
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        pipeline(file.stream, res, () => {}); // closes the file when the client goes away
        return undefined;
      },
    },
    {
      method: 'POST',
      path: '/mkdir',
      handler: async ({ req }) => {
        const body = parseMkdir(await readJson(req));
        return json(await files.mkdir(body.path, body.recursive));
      },
    },
    { method: 'POST', path: '/checkout', handler: async ({ req }) => json(await checkout(parseCheckout(await readJson(req)), files, git)) },
  ];
}
