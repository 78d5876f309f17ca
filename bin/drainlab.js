#!/usr/bin/env node
// Runs the TypeScript CLI through tsx's loader, so `npx drainlab` needs no build step.
import { register } from 'tsx/esm/api';

register();
// A reader that closes the pipe early (`drainlab demo | head`) is not an error.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});
const { main } = await import('../runtime/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
