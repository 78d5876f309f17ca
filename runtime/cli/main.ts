/**
 * The `drainlab` command line: the command table, flag parsing and the mapping of failures to
 * exit codes (0 expectations met, 1 not met, 2 bad input, 3 internal error). Commands are plain
 * functions taking typed options, so tests call them directly.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { InternalError, ScenarioError } from '../errors.ts';
import { runDemo } from './demo.ts';
import { runHeadline } from './headline.ts';
import { invariantsCommand, listCommand, replayCommand, runCommand, schemaCommand, type Output } from './scenarioCommands.ts';
import { exploreCommand } from './exploreCommand.ts';
import { compareCommand } from './compareCommand.ts';
import { DEFAULT_GRANULARITY } from '../explore/threadSteps.ts';
import type { Era } from '../../machines/transactionMachine.ts';

const HELP = `drainlab: an executable model of QEMU's drained sections (bdrv_drained_begin/end)

Usage: drainlab <command> [options]

Commands:
  run       run a scenario (a file or a library name) and check its expectations
  explore   every interleaving of a scenario: proved, violated (shortest counterexample) or bounded
  replay    rerun the exact interleaving a failed run printed
  compare   one scenario in two eras (2015 and now) side by side: what differs
  list      the scenario library
  invariants what I1-I12 (and conservation) mean
  schema    the JSON Schema of scenario files (for editors)
  diagram   Mermaid diagrams: a machine's statechart, or a run's sequence of messages
  tour      the headline told stop by stop in the terminal (a key moves on)
  view      the viewer: statecharts, sequence and images of a run or trace, in a browser
  demo      the headline: two external snapshots with and without the series, side by side
            (--gating: a drained section with and without external gating)

Run 'drainlab <command> --help' for a command's options.`;

const RUN_HELP = `Usage: drainlab run <file|name> [--seed N | --seeds A..B] [--strategy fifo|random]
                    [--era 2015|now] [--json] [--trace FILE] [--inspect FILE]

Runs a scenario and checks its expectations. Prints the timeline, the images, and each
expectation; a failure also prints what led to it and the replay line.

Options:
  --seed N          the seed (default: the scenario's, else 0)
  --seeds A..B      run every seed from A to B (random strategy), with progress and a summary
  --strategy S      fifo or random (default: the scenario's)
  --era E           2015 or now: run in this era instead of the file's (now: today's drain,
                    through parents' drained callbacks and BlockBackends, no context gate;
                    LIFO commit/abort/clean; the external snapshot appended in prepare;
                    see docs/model.md#eras)
  --json            a machine-readable report instead of the timeline
  --trace FILE      write the full trace as NDJSON ('drainlab view FILE' shows it)
  --inspect FILE    write the run as XState inspection events (@xstate.actor, @xstate.event,
                    @xstate.snapshot; session ids are the actor names), a JSON array
  -h, --help        this help

Exit codes: 0 expectations met, 1 not met, 2 bad input, 3 internal error.

Example:
  drainlab run two-external-snapshots-without-drains --seeds 0..49`;

const EXPLORE_HELP = `Usage: drainlab explore <file|name> [--max-depth N] [--max-states N] [--time-limit S]
                        [--reduce] [--no-sleep-sets] [--no-symmetry] [--workers N] [--json]
                        [--trace FILE] [--granularity message|thread] [--era 2015|now]

Explores every interleaving breadth first and checks every invariant on every transition.
Verdict: proved (the whole space was explored), violated (with a shortest counterexample and
its replay line), or bounded (what was covered). A scenario that expects a violation is met
when every expected violation occurs in some interleaving and nothing else breaks; each one
is said as soon as it is found (with its length and the time it took), and the report gives
that time apart from the verdict's.

Options:
  --max-depth N     stop expanding at this depth
  --max-states N    stop after storing this many states (default 1000000)
  --time-limit S    stop after S seconds (the search also stops, bounded, when the heap
                    passes 90% of node's limit: NODE_OPTIONS=--max-old-space-size=MB)
  --reduce          partial-order reduction: local, invisible steps are taken alone; same
                    verdict, fewer states, a counterexample may be a few steps longer
  --no-sleep-sets   take every enabled step at every state; with --granularity message,
                    a step that commutes with a sibling taken before it is otherwise not
                    taken again after it (the same states and verdict, fewer transitions)
  --no-symmetry     store every state; by default states that differ only by which of
                    two identical clients (or node trees) is which are one (only with
                    dispatchOrder: readiness; the same verdict, shortest counterexamples,
                    fewer states)
  --workers N       expand states on N worker threads (default 1: none); the verdict and
                    the counterexample are the same for every N (at most 64)
  --granularity G   thread (default): a step is one QEMU thread's synchronous call chain
                    until it waits (a blocking aio_poll with nothing ready, a lock held
                    elsewhere, a reply from another thread), or one event of the
                    environment (a guest request, a host completion, a timer), so only
                    threads and the environment interleave; message: every message is a
                    step (the reference semantics, with sleep sets; many more states).
                    Counterexamples replay with 'drainlab replay' either way (their
                    length is given in messages)
  --era E           2015 or now: explore this era instead of the file's (replay lines
                    then carry --era)
  --json            a machine-readable report
  --trace FILE      write the counterexample's trace as NDJSON
  -h, --help        this help

Exit codes: 0 expectations met, 1 not met, 2 bad input, 3 internal error.

Example:
  drainlab explore drained-section-without-gating --max-states 200000`;

const DIAGRAM_HELP = `Usage: drainlab diagram machine <name> | --all   [--format mermaid|svg] [--out FILE]
       drainlab diagram trace <scenario|NAME@PATH|trace.ndjson> [--seed N] [--focus A,B,...]
                              [--only drains,dispatch,submit,phases] [--all]
                              [--format mermaid|svg] [--out FILE]

Prints a Mermaid diagram, text to paste into GitHub or docs.

machine: a stateDiagram-v2 of a machine from its own definition: nested and parallel
  states, events and [guards] on the arrows, the QEMU functions its descriptions cite as
  notes. Names: MACHINE_NAMES.
trace: a sequenceDiagram of a run (a scenario is run first) or of a trace file: drained
  sections as bands, external dispatches and submissions highlighted, transaction phases
  and points in time as notes, each violation as a note at its step. By default only the
  steps that matter (those 'run' prints); --all adds every delivery.

Options:
  --all             machine: every machine; trace: every delivery too
  --focus A,B       trace: only these actors (e.g. node:drive0,client:vblk0)
  --only K,K        trace: only these kinds of steps: drains, dispatch, submit, phases
                    (violations are always shown)
  --seed N          trace of a scenario: its seed (default: the scenario's)
  --format F        mermaid (default) or svg: rendered by Mermaid itself in headless
                    Chromium (apt-get install chromium); there is no browser-free SVG
  --out FILE        write to FILE instead of standard output
  -h, --help        this help

Exit codes: 0 written, 2 bad input, 3 internal error.

Examples:
  drainlab diagram machine blockNode
  drainlab diagram trace two-external-snapshots-without-drains --focus node:drive0,node:drive1`;

const TOUR_HELP = `Usage: drainlab tour [--no-wait]

The headline, stop by stop: two external snapshots while the guest writes Wx, then Wy, first
without the transaction drains (how Wy gets into a snapshot that lacks Wx), then with the
series (where the writes wait). Each stop says what happened and shows the actors' states,
counters and the steps since the last stop. On a terminal a key moves on and q quits;
otherwise, or with --no-wait, every stop is printed at once.

Options:
  --no-wait         print every stop without waiting for keys
  -h, --help        this help

Example:
  drainlab tour --no-wait | less`;

const VIEW_HELP = `Usage: drainlab view <scenario|NAME@PATH|trace.ndjson|inspection.json> [--seed N]
                     [--compare <input>] [--live [--pace MS]] [--port P] [--host H] [--open]

Starts the viewer on http://127.0.0.1:PORT/ and prints the URL: every actor's statechart with
its active states lit and its counters, the messages between actors as a sequence with drained
sections, external dispatches, submissions and violations marked, the images, and controls to
step through the trace. Everything is served from this machine; no network is used.

A scenario (a file or a library name) is run first; NAME@PATH replays a printed interleaving;
a trace file is what 'run', 'replay' or 'explore' wrote with --trace; an inspection file is
what 'run --inspect' wrote (XState inspection events).

Options:
  --seed N          the scenario's seed (default: the scenario's)
  --compare INPUT   a second input, side by side in lockstep, the first difference marked
  --live            follow the run as it goes (a scenario: one step every --pace ms; a trace
                    file: its new lines as another process writes them)
  --pace MS         with --live and a scenario: milliseconds between steps (default 25)
  --port P          the port (default 0: any free port)
  --host H          listen on H instead of 127.0.0.1 (prints a warning: others can connect)
  --open            open the page in the desktop's browser
  -h, --help        this help

Exit codes: 0 stopped with Ctrl-C, 2 bad input, 3 internal error.

Example:
  drainlab view two-external-snapshots --compare two-external-snapshots-without-drains`;

const COMPARE_HELP = `Usage: drainlab compare <file|name> [--era A --era B] [--seed N] [--strategy fifo|random]
                        [--json]

Runs the scenario in two eras with the same seed and strategy, and shows them side by side:
the transaction's phases in order, where each point in time was taken, where each scripted
drained_begin/end ran (in its QMP dispatch, or bounced to a main-loop BH), when each device or
export request was admitted and how long after the guest issued it, what each image holds,
the QMP replies and every invariant's verdict; then what differs and which verdicts are the
same. The now era is today's drain (docs/model.md#eras): who is blocked changes with it.

Options:
  --era E           an era for a column, 2015 or now, given twice (default: 2015, then now)
  --seed N          the seed (default: the scenario's)
  --strategy S      fifo or random (default: the scenario's)
  --json            both runs and the differences, machine-readable
  -h, --help        this help

Exit codes: 0 both runs met the scenario's expectations, 1 one did not, 2 bad input,
3 internal error.

Example:
  drainlab compare two-external-snapshots --era 2015 --era now`;

const REPLAY_HELP = `Usage: drainlab replay <scenario@path> [--era 2015|now] [--json] [--trace FILE] [--inspect FILE]

Reruns the exact interleaving that a run printed as 'replay: drainlab replay ...'.

Options:
  --era E           2015 or now, as the replay line says (a path found in one era means
                    nothing in the other)
  --json            a machine-readable report instead of the timeline
  --trace FILE      write the full trace as NDJSON ('drainlab view FILE' shows it)
  --inspect FILE    write the run as XState inspection events, a JSON array
  -h, --help        this help

Exit codes: 0 expectations met, 1 not met, 2 bad input, 3 internal error.

Example:
  drainlab replay two-external-snapshots@0*5.1.0*78.1`;

const LIST_HELP = `Usage: drainlab list [--json]

The library (scenarios/library): each scenario's name, whether it is expected to hold or to
violate (and which invariant), and its title.

Example:
  drainlab list --json`;

const SCHEMA_HELP = `Usage: drainlab schema > scenario.schema.json

Prints the JSON Schema of scenario files, generated from the same definition that checks them.

Example:
  drainlab schema > scenario.schema.json`;

const DEMO_HELP = `Usage: drainlab demo [--seed N] [--strategy fifo|random]
       drainlab demo --gating [--seed N] [--strategy fifo|random] [--trace FILE]

The headline (npm start): two external snapshots on one IOThread while the guest writes
Wx, then Wy, with the series and without its drains, side by side: where each write
landed, what each snapshot holds, which invariant broke and where.

With --gating: a guest writes through a virtio-blk dataplane notifier while the monitor
drains its node from 1 ms to 3 ms, with the series and with external gating off, as two
timelines.

Options:
  --seed N          seed of the random strategy (default: the scenario's; printed)
  --strategy S      fifo or random
  --gating          the drained-section demo instead of the headline
  --trace FILE      with --gating: write each run's trace as NDJSON
                    (FILE.series.ndjson and FILE.no-gating.ndjson)
  -h, --help        this help

Example:
  drainlab demo --strategy random --seed 7`;

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
        const flags = parse(rest, { seed: { type: 'string' }, strategy: { type: 'string' }, trace: { type: 'string' }, gating: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, 'demo');
        if (flags.help) {
          out(DEMO_HELP);
          return 0;
        }
        if (flags.gating) return runDemo({ seed: parseSeed(flags.seed), strategy: parseStrategy(flags.strategy), trace: flags.trace as string | undefined, out });
        if (flags.trace !== undefined) throw new ScenarioError("demo: --trace goes with --gating; for the headline use 'drainlab run two-external-snapshots --trace FILE'");
        return runHeadline(
          { seed: flags.seed === undefined ? undefined : parseSeed(flags.seed), strategy: flags.strategy === undefined ? undefined : parseStrategy(flags.strategy) },
          io(out),
        );
      }
      case 'run': {
        const { values, positionals } = parseWithPositionals(rest, { seed: { type: 'string' }, seeds: { type: 'string' }, strategy: { type: 'string' }, era: { type: 'string' }, json: { type: 'boolean' }, trace: { type: 'string' }, inspect: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, 'run');
        if (values.help) {
          out(RUN_HELP);
          return 0;
        }
        const scenario = onePositional(positionals, 'run', 'a scenario file or library name');
        if (values.seed !== undefined && values.seeds !== undefined) throw new ScenarioError("run: give --seed or --seeds, not both");
        if (values.seeds !== undefined && (values.trace !== undefined || values.inspect !== undefined)) throw new ScenarioError('run: --trace and --inspect write one run; with --seeds there are many (give --seed N)');
        return runCommand(
          {
            scenario,
            seed: values.seed === undefined ? undefined : parseSeed(values.seed),
            seeds: values.seeds === undefined ? undefined : parseSeedRange(values.seeds),
            strategy: values.strategy === undefined ? undefined : parseStrategy(values.strategy),
            json: values.json === true,
            trace: values.trace as string | undefined,
            inspect: values.inspect as string | undefined,
            era: parseEra(values.era),
          },
          io(out),
        );
      }
      case 'explore': {
        const { values, positionals } = parseWithPositionals(
          rest,
          { 'max-depth': { type: 'string' }, 'max-states': { type: 'string' }, 'time-limit': { type: 'string' }, reduce: { type: 'boolean' }, 'no-sleep-sets': { type: 'boolean' }, 'no-symmetry': { type: 'boolean' }, workers: { type: 'string' }, granularity: { type: 'string' }, era: { type: 'string' }, json: { type: 'boolean' }, trace: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
          'explore',
        );
        if (values.help) {
          out(EXPLORE_HELP);
          return 0;
        }
        const granularity = values.granularity ?? DEFAULT_GRANULARITY;
        if (granularity !== 'message' && granularity !== 'thread') throw new ScenarioError(`--granularity: '${granularity}' is not a granularity; expected message or thread`);
        return exploreCommand(
          {
            scenario: onePositional(positionals, 'explore', 'a scenario file or library name'),
            maxDepth: positiveInt(values['max-depth'], '--max-depth'),
            maxStates: positiveInt(values['max-states'], '--max-states'),
            timeLimit: positiveInt(values['time-limit'], '--time-limit'),
            reduce: values.reduce === true,
            sleepSets: values['no-sleep-sets'] !== true,
            symmetry: values['no-symmetry'] !== true,
            workers: workerCount(values.workers),
            granularity,
            era: parseEra(values.era),
            json: values.json === true,
            trace: values.trace as string | undefined,
          },
          io(out),
        );
      }
      case 'compare': {
        const { values, positionals } = parseWithPositionals(rest, { era: { type: 'string', multiple: true }, seed: { type: 'string' }, strategy: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, 'compare');
        if (values.help) {
          out(COMPARE_HELP);
          return 0;
        }
        const scenario = onePositional(positionals, 'compare', 'a scenario file or library name');
        const given = ((values.era ?? []) as string[]).map((e) => parseEra(e)!);
        if (given.length !== 0 && given.length !== 2) throw new ScenarioError(`compare: --era given ${given.length} time(s); expected twice (--era 2015 --era now) or not at all`);
        const eras = (given.length === 2 ? given : ['2015', 'now']) as [Era, Era];
        return compareCommand(
          {
            scenario,
            eras,
            seed: values.seed === undefined ? undefined : parseSeed(values.seed),
            strategy: values.strategy === undefined ? undefined : parseStrategy(values.strategy),
            json: values.json === true,
          },
          io(out),
        );
      }
      case 'replay': {
        const { values, positionals } = parseWithPositionals(rest, { era: { type: 'string' }, json: { type: 'boolean' }, trace: { type: 'string' }, inspect: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, 'replay');
        if (values.help) {
          out(REPLAY_HELP);
          return 0;
        }
        return replayCommand({ path: onePositional(positionals, 'replay', 'a replay line SCENARIO@PATH'), json: values.json === true, trace: values.trace as string | undefined, inspect: values.inspect as string | undefined, era: parseEra(values.era) }, io(out));
      }
      case 'list': {
        const { values, positionals } = parseWithPositionals(rest, { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, 'list');
        if (values.help) {
          out(LIST_HELP);
          return 0;
        }
        if (positionals.length) throw new ScenarioError(`list: unexpected argument '${positionals[0]}' (see 'drainlab list --help')`);
        return listCommand({ json: values.json === true }, io(out));
      }
      case 'invariants': {
        const { values, positionals } = parseWithPositionals(rest, { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, 'invariants');
        if (values.help) {
          out("Usage: drainlab invariants [--json]\n\nEach invariant the monitors check on every step: its id, its name and what it means.\n\nExample:\n  drainlab invariants");
          return 0;
        }
        if (positionals.length) throw new ScenarioError(`invariants: unexpected argument '${positionals[0]}' (see 'drainlab invariants --help')`);
        return invariantsCommand({ json: values.json === true }, io(out));
      }
      case 'schema': {
        const { values, positionals } = parseWithPositionals(rest, { help: { type: 'boolean', short: 'h' } }, 'schema');
        if (values.help) {
          out(SCHEMA_HELP);
          return 0;
        }
        if (positionals.length) throw new ScenarioError(`schema: unexpected argument '${positionals[0]}' (see 'drainlab schema --help')`);
        return schemaCommand(io(out));
      }
      case 'diagram': {
        const [what, ...args] = rest;
        if (what === undefined || what === '-h' || what === '--help') {
          out(await diagramHelp());
          return what === undefined ? 2 : 0;
        }
        const { values, positionals } = parseWithPositionals(
          args,
          { all: { type: 'boolean' }, focus: { type: 'string' }, only: { type: 'string' }, seed: { type: 'string' }, format: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
          'diagram',
        );
        if (values.help) {
          out(await diagramHelp());
          return 0;
        }
        const format = parseFormat(values.format);
        const outFile = values.out as string | undefined;
        const diagrams = await import('./diagramCommand.ts');
        if (what === 'machine') {
          for (const flag of ['focus', 'only', 'seed'] as const) if (values[flag] !== undefined) throw new ScenarioError(`diagram machine: --${flag} goes with 'diagram trace'`);
          if (values.all && positionals.length) throw new ScenarioError('diagram machine: give a machine name or --all, not both');
          if (!values.all && positionals.length > 1) throw new ScenarioError(`diagram machine: expected one machine name, got ${positionals.length}: ${positionals.join(' ')}`);
          return await diagrams.diagramMachineCommand({ name: positionals[0], all: values.all === true, format, out: outFile }, io(out));
        }
        if (what === 'trace') {
          return await diagrams.diagramTraceCommand(
            {
              input: onePositional(positionals, 'diagram trace', 'a scenario, a replay line NAME@PATH or a trace file'),
              seed: values.seed === undefined ? undefined : parseSeed(values.seed),
              focus: values.focus === undefined ? undefined : parseFocus(values.focus),
              only: values.only === undefined ? undefined : diagrams.parseOnly(String(values.only)),
              all: values.all === true,
              format,
              out: outFile,
            },
            io(out),
          );
        }
        throw new ScenarioError(`diagram: '${what}' is not a kind of diagram; expected 'machine' or 'trace' (see 'drainlab diagram --help')`);
      }
      case 'tour': {
        const flags = parse(rest, { 'no-wait': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, 'tour');
        if (flags.help) {
          out(TOUR_HELP);
          return 0;
        }
        const { tourCommand } = await import('./tour.ts');
        return await tourCommand({ interactive: flags['no-wait'] ? false : undefined }, io(out));
      }
      case 'view': {
        const { values, positionals } = parseWithPositionals(
          rest,
          { seed: { type: 'string' }, compare: { type: 'string' }, live: { type: 'boolean' }, pace: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' }, open: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
          'view',
        );
        if (values.help) {
          out(VIEW_HELP);
          return 0;
        }
        const input = onePositional(positionals, 'view', 'a scenario, a replay line NAME@PATH, a trace file or an inspection file');
        if (values.pace !== undefined && values.live !== true) throw new ScenarioError('view: --pace goes with --live');
        if (values.host !== undefined && (typeof values.host !== 'string' || values.host.trim() === '')) throw new ScenarioError('--host: expected an address to listen on, e.g. 127.0.0.1');
        // Loaded on demand: the server and the bundler are not needed by any other command.
        const { viewCommand } = await import('./viewCommand.ts');
        return await viewCommand(
          {
            input,
            compare: values.compare as string | undefined,
            seed: values.seed === undefined ? undefined : parseSeed(values.seed),
            live: values.live === true,
            pace: positiveInt(values.pace, '--pace'),
            port: parsePort(values.port),
            host: values.host as string | undefined,
            open: values.open === true,
          },
          { ...io(out), err },
        );
      }
      default:
        throw new ScenarioError(`unknown command '${command}'; expected one of: run, explore, replay, list, invariants, schema, diagram, tour, view, demo (see 'drainlab --help')`);
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

function parse(args: readonly string[], options: NonNullable<ParseArgsConfig['options']>, command: string, allowPositionals = false): Record<string, string | boolean | undefined> {
  try {
    return parseArgs({ args: [...args], options, strict: true, allowPositionals }).values as Record<string, string | boolean | undefined>;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const ambiguous = /Option '(--[\w-]+)[^']*' argument is ambiguous/.exec(message);
    if (ambiguous) {
      const value = args[args.indexOf(ambiguous[1]) + 1];
      if (value !== undefined && /^-\d/.test(value)) throw new ScenarioError(`${ambiguous[1]}: '${value}' is negative; expected a whole number from ${ambiguous[1] === '--seed' || ambiguous[1] === '--port' ? 0 : 1}`);
      throw new ScenarioError(`${command}: ${ambiguous[1]} needs a value; for a value that starts with '-', write ${ambiguous[1]}=VALUE`);
    }
    const unknown = /Unknown option '([^']+)'/.exec(message);
    if (unknown) throw new ScenarioError(`${command}: unknown option '${unknown[1]}' (see 'drainlab ${command} --help')`);
    const missing = /Option '(-\w, )?(--[\w-]+) <value>' argument missing/.exec(message);
    if (missing) throw new ScenarioError(`${command}: ${missing[2]} needs a value (see 'drainlab ${command} --help')`);
    throw new ScenarioError(`${command}: ${message.split('\n')[0].replace(/\.$/, '')} (see 'drainlab ${command} --help')`);
  }
}

function parseWithPositionals(args: readonly string[], options: NonNullable<ParseArgsConfig['options']>, command: string) {
  try {
    const parsed = parseArgs({ args: [...args], options, strict: true, allowPositionals: true });
    return { values: parsed.values as Record<string, string | boolean | undefined>, positionals: parsed.positionals };
  } catch (error) {
    // The same parse again only to word the problem (a flag's value, an unknown flag) in drainlab's terms.
    parse(args, options, command, true);
    throw error;
  }
}

function onePositional(positionals: string[], command: string, what: string): string {
  if (positionals.length === 0) throw new ScenarioError(`${command}: expected ${what} (see 'drainlab ${command} --help')`);
  if (positionals.length > 1) throw new ScenarioError(`${command}: expected one argument, got ${positionals.length}: ${positionals.join(' ')}`);
  return positionals[0];
}

function positiveInt(raw: string | boolean | undefined, flag: string): number | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !/^[1-9]\d*$/.test(raw)) throw new ScenarioError(`${flag}: '${String(raw)}' is not a positive whole number`);
  return Number(raw);
}

function workerCount(raw: string | boolean | undefined): number | undefined {
  const count = positiveInt(raw, '--workers');
  if (count !== undefined && count > 64) throw new ScenarioError(`--workers: '${count}' is more than 64 worker threads`);
  return count;
}

async function diagramHelp(): Promise<string> {
  const { machineTable } = await import('./diagramCommand.ts');
  return DIAGRAM_HELP.replace('MACHINE_NAMES', [...machineTable().keys()].join(', '));
}

function parseFormat(raw: string | boolean | undefined): 'mermaid' | 'svg' {
  if (raw === undefined || raw === 'mermaid') return 'mermaid';
  if (raw === 'svg') return 'svg';
  throw new ScenarioError(`--format: '${String(raw)}' is not a format; expected mermaid or svg`);
}

function parseFocus(raw: string | boolean): string[] {
  const actors = typeof raw === 'string' ? raw.split(',').map((a) => a.trim()).filter(Boolean) : [];
  if (actors.length === 0) throw new ScenarioError(`--focus: expected actor names separated by commas, e.g. node:drive0,client:vblk0`);
  return actors;
}

function parsePort(raw: string | boolean | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !/^\d+$/.test(raw) || Number(raw) > 65535) throw new ScenarioError(`--port: '${String(raw)}' is not a port; expected a whole number from 0 to 65535 (0: any free port)`);
  return Number(raw);
}

function parseSeedRange(raw: string | boolean): { from: number; to: number } {
  const match = typeof raw === 'string' ? /^(\d+)\.\.(\d+)$/.exec(raw) : null;
  if (!match || Number(match[1]) > Number(match[2]) || Number(match[2]) > 0xffffffff) {
    throw new ScenarioError(`--seeds: '${String(raw)}' is not a seed range; expected A..B with whole numbers A <= B, e.g. 0..99`);
  }
  return { from: Number(match[1]), to: Number(match[2]) };
}

function io(out: (line: string) => void): Output {
  // A bar when a person watches (stdout is a terminal), plain lines when output is captured.
  const isTTY = process.stdout.isTTY === true && process.stderr.isTTY === true;
  return {
    out,
    isTTY,
    progress: (line, final) => {
      if (isTTY) process.stderr.write(`\r${line}${final ? '\n' : ''}`);
      else process.stderr.write(`${line}\n`);
    },
  };
}

function parseSeed(raw: string | boolean | undefined): number {
  if (raw === undefined) return 0;
  if (typeof raw !== 'string' || !/^\d+$/.test(raw) || Number(raw) > 0xffffffff) {
    throw new ScenarioError(`--seed: '${String(raw)}' is not a seed; expected a whole number from 0 to 4294967295`);
  }
  return Number(raw);
}

function parseEra(raw: string | boolean | undefined): Era | undefined {
  if (raw === undefined) return undefined;
  if (raw === '2015' || raw === 'now') return raw;
  throw new ScenarioError(`--era: '${String(raw)}' is not an era; expected 2015 or now`);
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
