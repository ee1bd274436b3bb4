/**
 * Entry point of the agent (dist/agent.js): reads AGENT_ENV, starts the control server, reports
 * readiness (stdout, and an IPC message when a parent forked it), and ends every process group it
 * started when it is told to stop or its parent goes away.
 */
import fs from 'node:fs';
import { AGENT_ENV } from '../worker/protocol/agent';
import { readAgentConfig } from './config';
import { createAgent } from './server';
import { serveHandoffs } from './ports/port-handoff';
import { isRegexMatcherThread, runRegexMatcherThread } from './processes/regex-matcher';
import { runMain, stopOnSignals } from './process-lifecycle';
import { becomeUser, parseRunAs } from './run-as';

async function main(): Promise<void> {
  // First of all: a sandbox's processes never run as root.
  const runAs = parseRunAs(process.env[AGENT_ENV.RUN_AS]);
  if (runAs) becomeUser(runAs, process.env.HOME);
  delete process.env[AGENT_ENV.RUN_AS];
  const config = readAgentConfig(process.env);
  // Commands get their environment from commandEnv(), which leaves the secret out; this keeps it
  // out of anything else that copies process.env.
  delete process.env[AGENT_ENV.SECRET];
  fs.mkdirSync(config.workspace, { recursive: true });
  const agent = createAgent(config, process.env);
  const port = await agent.listen();
  // In the isolated local runtime the host reaches the sandbox's ports only through this agent.
  const handoffs = config.ownView && process.send !== undefined;
  if (handoffs) serveHandoffs();
  console.log(`agent listening on ${port}${handoffs ? ' (handing connections to ports inside to the host)' : ''}`);
  process.send?.({ type: 'ready', port });

  stopOnSignals('agent', () => agent.shutdown());
}

// The same bundle runs the agent's regex matcher threads (regex-matcher.ts).
if (isRegexMatcherThread()) runRegexMatcherThread();
else runMain('agent', main);
