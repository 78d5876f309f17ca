import { appendFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../../runtime/cli/main.ts';
import { inputKind, openView, traceLinesOf } from '../../../runtime/viewer/openView.ts';
import { TraceSource } from '../../../runtime/viewer/TraceSource.ts';
import { resolveScenario } from '../../../runtime/cli/scenarioCommands.ts';

const dir = mkdtempSync(join(tmpdir(), 'drainlab-view-'));
const quiet = () => {};

async function linesServed(url: string, id = 'a'): Promise<string[]> {
  const text = await (await fetch(`${url}api/trace/${id}`)).text();
  return text.split('\n').filter(Boolean);
}

describe('inputKind', () => {
  it('should tell the four kinds of input apart', async () => {
    const trace = join(dir, 'kinds.ndjson');
    const inspect = join(dir, 'kinds.json');
    await main(['run', 'event-loop-basics', '--trace', trace, '--inspect', inspect], quiet, quiet);
    expect([inputKind(trace), inputKind(inspect), inputKind('event-loop-basics@0*1'), inputKind('event-loop-basics'), inputKind('scenarios/library/event-loop-basics.yaml')]).toEqual([
      'trace',
      'inspection',
      'replay',
      'scenario',
      'scenario',
    ]);
  });
});

describe('openView', () => {
  it('should serve a scenario as the same lines its trace file holds', async () => {
    const file = join(dir, 'same.ndjson');
    await main(['run', 'two-external-snapshots-without-drains', '--trace', file], quiet, quiet);
    const server = await openView({ input: 'two-external-snapshots-without-drains', port: 0 });
    try {
      const fromFile = await openView({ input: file, port: 0 });
      try {
        expect(await linesServed(server.url)).toEqual(await linesServed(fromFile.url));
      } finally {
        await fromFile.close();
      }
    } finally {
      await server.close();
    }
  });

  it('should show an inspection file with the statecharts and states of the run', async () => {
    const file = join(dir, 'run.json');
    await main(['run', 'two-external-snapshots-without-drains', '--inspect', file], quiet, quiet);
    const server = await openView({ input: file, port: 0 });
    try {
      const lines = (await linesServed(server.url)).map((l) => JSON.parse(l));
      const original = traceLinesOf('two-external-snapshots-without-drains');
      const drained = (ls: { type: string; actor?: string; to?: string; step?: number }[]) => ls.filter((l) => l.type === '@trace.state' && l.actor === 'node:drive1').map((l) => [l.step, l.to]);
      expect(lines.filter((l) => l.type === '@trace.machine').map((l) => l.machine)).toContain('blockNode');
      expect(drained(lines)).toEqual(drained(original as never));
    } finally {
      await server.close();
    }
  });

  it('should replay NAME@PATH', async () => {
    const run = traceLinesOf('two-external-snapshots-without-drains');
    const end = run.at(-1) as { type: string; replay: string };
    const replayed = traceLinesOf(end.replay.replace('drainlab replay ', ''));
    const states = (ls: typeof run) => ls.filter((l) => l.type === '@trace.state');
    expect(states(replayed)).toEqual(states(run));
  });

  it('should say which input is missing', async () => {
    await expect(openView({ input: join(dir, 'nothing.ndjson'), port: 0 })).rejects.toThrow(/^no trace file .*nothing\.ndjson$/);
  });
});

describe('TraceSource: live', () => {
  it('should send a paced run step by step and end with the same lines as a whole run', async () => {
    const scenario = resolveScenario('event-loop-basics');
    const whole = TraceSource.ofRun('a', 'x', scenario, {});
    const live = TraceSource.ofLiveRun('a', 'x', scenario, {}, 1);
    const seen: number[] = [];
    await new Promise<void>((done) => live.follow({ line: () => seen.push(Date.now()), end: () => done() }));
    expect(live.lines).toEqual(whole.lines);
    // The lines came over time, not in one go.
    expect(new Set(seen).size).toBeGreaterThan(5);
  });

  it('should follow a file as another process writes it, until its end line', async () => {
    const file = join(dir, 'growing.ndjson');
    const lines = TraceSource.ofRun('a', 'x', resolveScenario('event-loop-basics'), {}).lines;
    writeFileSync(file, lines.slice(0, 10).join('\n') + '\n');
    const followed = TraceSource.ofGrowingFile('a', 'x', file, 10);
    await new Promise((r) => setTimeout(r, 50));
    expect(followed.lines.length).toBe(10);
    expect(followed.ended).toBe(false);
    appendFileSync(file, lines.slice(10).join('\n') + '\n');
    await new Promise<void>((done) => followed.follow({ line: () => {}, end: () => done() }));
    expect(followed.lines).toEqual(lines);
  });

  it('should stop following a file at a bad line and say where', async () => {
    const file = join(dir, 'bad-growing.ndjson');
    writeFileSync(file, '{"type":"@trace.meta","format":"drainlab.trace/1","scenario":"s"}\nnot json\n');
    const followed = TraceSource.ofGrowingFile('a', 'x', file, 10);
    await new Promise<void>((done) => followed.follow({ line: () => {}, end: () => done() }));
    expect(followed.problem).toMatch(/bad-growing\.ndjson:2: not JSON/);
  });
});

describe('drainlab view flags', () => {
  it.each([
    [['view'], "drainlab: view: expected a scenario, a replay line NAME@PATH, a trace file or an inspection file (see 'drainlab view --help')"],
    [['view', 'event-loop-basics', '--port', '70000'], "drainlab: --port: '70000' is not a port; expected a whole number from 0 to 65535 (0: any free port)"],
    [['view', 'event-loop-basics', '--pace', '5'], 'drainlab: view: --pace goes with --live'],
    [['view', 'event-loop-basics', '--live', '--pace', '0'], "drainlab: --pace: '0' is not a positive whole number"],
    [['view', 'no-such-scenario'], "drainlab: no scenario file or library scenario named 'no-such-scenario'; 'drainlab list' shows the library"],
  ])('should reject %j with exit 2 and one line', async (argv, message) => {
    const err: string[] = [];
    expect(await main(argv, quiet, (l) => err.push(l))).toBe(2);
    expect(err).toEqual([message]);
  });

  it('should warn when --host widens the server beyond loopback', async () => {
    const { viewCommand } = await import('../../../runtime/cli/viewCommand.ts');
    const out: string[] = [];
    const err: string[] = [];
    expect(await viewCommand({ input: 'event-loop-basics', host: '0.0.0.0', port: 0, until: Promise.resolve() }, { out: (l) => out.push(l), err: (l) => err.push(l) })).toBe(0);
    expect(err[0]).toMatch(/^drainlab view: warning: listening on 0\.0\.0\.0, not only on this machine's loopback/);
    expect(out[0]).toMatch(/^drainlab view: http:\/\/0\.0\.0\.0:\d+\/$/);
  });
});
