/**
 * `drainlab view`: starts the viewer's server on its input(s), prints the URL, opens a browser
 * when asked, and serves until interrupted.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { isLoopback } from '../viewer/server.ts';
import { openView, type ViewOptions } from '../viewer/openView.ts';
import type { Output } from './scenarioCommands.ts';

export interface ViewCommandOptions extends ViewOptions {
  open?: boolean;
  /** Resolves when the server should stop (tests); by default SIGINT or SIGTERM. */
  until?: Promise<void>;
}

export async function viewCommand(options: ViewCommandOptions, io: Output & { err?: (line: string) => void }): Promise<number> {
  const server = await openView(options);
  const warn = io.err ?? io.out;
  if (!isLoopback(server.host)) {
    warn(`drainlab view: warning: listening on ${server.host}, not only on this machine's loopback: anyone who can reach this address can read the traces it serves`);
  }
  io.out(`drainlab view: ${server.url}`);
  io.out(options.compare === undefined ? `showing ${options.input}${options.live ? ' (live)' : ''}` : `comparing ${options.input} (left) with ${options.compare} (right)`);
  io.out('press Ctrl-C to stop');
  if (options.open) openBrowser(server.url, warn);
  await (options.until ?? interrupted());
  await server.close();
  return 0;
}

function interrupted(): Promise<void> {
  return new Promise((resolveStop) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolveStop();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/** The desktop's opener (xdg-open, open), when there is one; otherwise the URL above is enough. */
function openBrowser(url: string, warn: (line: string) => void): void {
  const opener = process.platform === 'darwin' ? '/usr/bin/open' : ['/usr/bin/xdg-open', '/usr/local/bin/xdg-open'].find((p) => existsSync(p));
  if (!opener || !existsSync(opener)) {
    warn('drainlab view: --open: no browser opener (xdg-open) on this machine; open the URL above yourself');
    return;
  }
  const child = spawn(opener, [url], { stdio: 'ignore', detached: true });
  child.on('error', (error) => warn(`drainlab view: --open: ${error.message}; open the URL above yourself`));
  child.unref();
}
