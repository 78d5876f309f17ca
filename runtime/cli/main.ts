/**
 * The `drainlab` command line: the command table, flag parsing and the mapping of failures to
 * exit codes (0 expectations met, 1 not met, 2 bad input, 3 internal error). Commands are plain
 * functions taking typed options, so tests call them directly.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { InternalError, ScenarioError } from '../errors.ts';
import { runDemo } from './demo.ts';

const HELP = `drainlab: an executable model of QEMU's drained sections (bdrv_drained_begin/end)

Usage: drainlab <command> [options]

Commands:
  demo      run the built-in scenario with the series and without external gating,
            print both timelines and the verdict of each invariant

Run 'drainlab <command> --help' for a command's options.`;

const DEMO_HELP = `Usage: drainlab demo [--seed N] [--strategy fifo|random] [--trace FILE]

Runs the built-in scenario: a guest writes through a virtio-blk dataplane notifier
while the monitor drains its node from 1 ms to 3 ms, once with the series and once
with external gating switched off.

Options:
  --seed N          seed of the random strategy (default 0; printed with every run)
  --strategy S      fifo (default) or random
  --trace FILE      also write each run's full trace as NDJSON
                    (FILE.series.ndjson and FILE.no-gating.ndjson)
  -h, --help        this help

Example:
  drainlab demo --strategy random --seed 7 --trace out/demo.ndjson`;

export async function main(
  argv: readonly string[],
  out: (line: string) => void = (l) => process.stdout.write(l + '\n'),
  err: (line: string) => void = (l) => process.stderr.write(l + '\n'),
): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
      out(HELP);
      return command === undefined ? 2 : 0;
    }
    switch (command) {
      case 'demo': {
        const flags = parse(rest, { seed: { type: 'string' }, strategy: { type: 'string' }, trace: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, 'demo');
        if (flags.help) {
          out(DEMO_HELP);
          return 0;
        }
        return runDemo({ seed: parseSeed(flags.seed), strategy: parseStrategy(flags.strategy), trace: flags.trace as string | undefined, out });
      }
      default:
        throw new ScenarioError(`unknown command '${command}'; expected one of: demo (see 'drainlab --help')`);
    }
  } catch (error) {
    if (error instanceof ScenarioError) {
      err(`drainlab: ${error.message}`);
      return 2;
    }
    if (error instanceof InternalError) {
      err(`drainlab: internal error: ${error.message}`);
      if (error.replay) err(`replay with: ${error.replay}`);
      err('This is a bug in drainlab; please report it with the line above.');
      return 3;
    }
    err(`drainlab: internal error: ${error instanceof Error ? error.message : String(error)}`);
    err('This is a bug in drainlab; please report it with the command you ran.');
    return 3;
  }
}

function parse(args: readonly string[], options: NonNullable<ParseArgsConfig['options']>, command: string): Record<string, string | boolean | undefined> {
  try {
    return parseArgs({ args: [...args], options, strict: true, allowPositionals: false }).values as Record<string, string | boolean | undefined>;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const ambiguous = /Option '(--[\w-]+)[^']*' argument is ambiguous/.exec(message);
    if (ambiguous) {
      throw new ScenarioError(`${command}: ${ambiguous[1]} needs a value; for a value that starts with '-', write ${ambiguous[1]}=VALUE`);
    }
    throw new ScenarioError(`${command}: ${message.split('\n')[0].replace(/\.$/, '')} (see 'drainlab ${command} --help')`);
  }
}

function parseSeed(raw: string | boolean | undefined): number {
  if (raw === undefined) return 0;
  if (typeof raw !== 'string' || !/^\d+$/.test(raw) || Number(raw) > 0xffffffff) {
    throw new ScenarioError(`--seed: '${String(raw)}' is not a seed; expected a whole number from 0 to 4294967295`);
  }
  return Number(raw);
}

function parseStrategy(raw: string | boolean | undefined): 'fifo' | 'random' {
  if (raw === undefined) return 'fifo';
  if (raw === 'fifo' || raw === 'random') return raw;
  throw new ScenarioError(`--strategy: '${String(raw)}' is not a strategy; expected fifo or random`);
}

const invokedDirectly = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (invokedDirectly) {
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
