#!/usr/bin/env node
// `explore` keeps a whole BFS level of worlds alive, and V8's default young generation (16 MB
// semi-spaces) promotes most of them to the old generation before they are expanded and
// dropped: copying them twice was a quarter of the explorer's time. With larger semi-spaces a
// level mostly dies young (reference N = 4, 1,000,000 states: 9.1 s and 1.6 GB with the default
// against 6.4 s and 1.2 GB with 128 MB). 512 MB is the best size measured since (reference N = 1,
// D = 1, the whole proof, paired runs: 25.5 to 28.1 s with 128 MB, 22.5 to 24.8 s with 512 MB,
// 24.4 to 25.9 s with 1 GB; peak RSS 1.3, 1.9 and 2.9 GB). The size is fixed when V8 starts, so
// `explore` runs in a child node started with it, unless the flag was given already (in
// NODE_OPTIONS or on node's command line).
const YOUNG_GENERATION = '--max-semi-space-size=512';
const flagged = (options) => options.some((option) => option.startsWith('--max-semi-space-size'));
if (process.argv[2] === 'explore' && !flagged(process.execArgv) && !flagged((process.env.NODE_OPTIONS ?? '').split(/\s+/))) {
  const { spawn } = await import('node:child_process');
  const { constants } = await import('node:os');
  const child = spawn(process.execPath, [YOUNG_GENERATION, ...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit' });
  // The child is the exploration: a signal to this process goes on to it.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('error', (error) => {
    console.error(`drainlab: could not start node for explore: ${error.message}`);
    process.exit(3);
  });
  // A child stopped by a signal exits the way a shell reports it.
  const [code, signal] = await new Promise((resolve) => child.on('exit', (...outcome) => resolve(outcome)));
  process.exit(code ?? 128 + (constants.signals[signal] ?? 0));
}

// Runs the TypeScript CLI through tsx's loader, so `npx drainlab` needs no build step.
const { register } = await import('tsx/esm/api');
register();
// A reader that closes the pipe early (`drainlab demo | head`) is not an error.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});
const { main } = await import('../runtime/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
