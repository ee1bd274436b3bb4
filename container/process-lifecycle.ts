/**
 * The lifecycle both of the container's programs share (the agent and the local container host):
 * log stray errors instead of dying, stop once on SIGTERM, SIGINT or when the parent that forked
 * us goes away, and exit with the result of the program's own shutdown.
 */
export function stopOnSignals(name: string, shutdown: () => Promise<void>): void {
  let stopping = false;
  const stop = (why: string): void => {
    if (stopping) return;
    stopping = true;
    console.log(`${name} stopping (${why})`);
    shutdown().then(
      () => process.exit(0),
      (err) => {
        console.error(`${name}: shutdown failed:`, err);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // A parent that forked us and then went away (the local container host died) takes us along.
  if (process.send) process.on('disconnect', () => stop('parent went away'));
}

/** Runs `main`, keeping the process alive through stray errors; a failed start exits 1. */
export function runMain(name: string, main: () => Promise<void>): void {
  process.on('uncaughtException', (err) => console.error('uncaught exception:', err));
  process.on('unhandledRejection', (err) => console.error('unhandled rejection:', err));
  main().catch((err) => {
    console.error(`${name} failed to start: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
