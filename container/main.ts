/**
 * Entry point of the agent (dist/agent.js): reads AGENT_ENV, starts the control server, reports
 * readiness (stdout, and an IPC message when a parent forked it), and ends every process group it
 * started when it is told to stop or its parent goes away.
 */
import fs from 'node:fs';
import { readAgentConfig } from './config';
import { createAgent } from './server';

async function main(): Promise<void> {
  const config = readAgentConfig(process.env);
  fs.mkdirSync(config.workspace, { recursive: true });
  const agent = createAgent(config, process.env);
  const port = await agent.listen();
  console.log(`agent listening on ${port}`);
  process.send?.({ type: 'ready', port });

  let stopping = false;
  const stop = (why: string): void => {
    if (stopping) return;
    stopping = true;
    console.log(`agent stopping (${why})`);
    agent.shutdown().then(
      () => process.exit(0),
      (err) => {
        console.error('shutdown failed:', err);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // A parent that forked us and then went away (the local container host died) takes us along.
  if (process.send) process.on('disconnect', () => stop('parent went away'));
}

process.on('uncaughtException', (err) => console.error('uncaught exception:', err));
process.on('unhandledRejection', (err) => console.error('unhandled rejection:', err));

main().catch((err) => {
  console.error(`agent failed to start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
