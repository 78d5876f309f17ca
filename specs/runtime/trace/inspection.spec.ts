/**
 * The XState inspection bridge: a trace exported as the events @statelyai/inspect 0.7.2 sends
 * (toInspection.ts), and inspection events read back into a trace (fromInspection.ts).
 */
import { describe, expect, it } from 'vitest';
import { createActor, createMachine } from 'xstate';
import { resolveScenario } from '../../../runtime/cli/scenarioCommands.ts';
import { ScenarioError } from '../../../runtime/errors.ts';
import { runScenario } from '../../../runtime/scenario/runScenario.ts';
import { fromInspectionEvents, parseInspectionFile } from '../../../runtime/trace/fromInspection.ts';
import { DRAINLAB_INSPECTION_VERSION, type InspectionStateValue, type StatelyInspectionEvent } from '../../../runtime/trace/InspectionEvent.ts';
import { parseTraceFile } from '../../../runtime/trace/readTraceFile.ts';
import { leafPathsOf, stateValueOf, toInspectionEvents } from '../../../runtime/trace/toInspection.ts';
import { describeMachine, type TraceLine } from '../../../runtime/trace/TraceFile.ts';
import { traceFileLines } from '../../../runtime/trace/TraceFileWriter.ts';

const HEADLINE = 'two-external-snapshots-without-drains';
/** Transactions with actions, nested drained sections (quiesceCounter), an abort, a small run. */
const SCENARIOS = [HEADLINE, 'nested-drained-sections', 'backup-cancelled-on-abort', 'event-loop-basics'];

function traceOf(name: string, seed?: number): TraceLine[] {
  const scenario = resolveScenario(name);
  const options = { seed: seed ?? scenario.seed, strategy: scenario.strategy, source: 'run' };
  const lines: TraceLine[] = [];
  const file = traceFileLines(scenario, options, (line) => lines.push(line));
  const run = runScenario(scenario, { seed: options.seed, strategy: scenario.strategy, sinks: [file.event], onViolation: file.violation });
  file.end(run);
  return lines;
}

const traces = new Map<string, TraceLine[]>();
/** One run per scenario for the whole file: the runs are deterministic, the tests only read them. */
function cachedTrace(name: string): TraceLine[] {
  let lines = traces.get(name);
  if (!lines) traces.set(name, (lines = traceOf(name)));
  return lines;
}

/** The export as a file holds it: undefined fields dropped. */
const asFile = (events: readonly StatelyInspectionEvent[]): unknown[] => JSON.parse(JSON.stringify(events));

// ---------------------------------------------------------------------------------------------
// The shapes of @statelyai/inspect 0.7.2, checked field by field

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function stateValueProblem(value: unknown, where: string): string | null {
  if (typeof value === 'string') return null;
  if (!isObject(value)) return `${where} is not a state value`;
  for (const [key, sub] of Object.entries(value)) {
    const problem = stateValueProblem(sub, `${where}.${key}`);
    if (problem) return problem;
  }
  return null;
}

function eventObjectProblem(value: unknown, where: string): string | null {
  if (!isObject(value)) return `${where} is not an object`;
  return typeof value.type === 'string' ? null : `${where}.type is not a string`;
}

const BASE_FIELDS = ['type', 'sessionId', 'rootId', 'createdAt', 'id', '_version'];
const FIELDS: Record<string, string[]> = {
  '@xstate.actor': [...BASE_FIELDS, 'name', 'snapshot', 'definition', 'parentId'],
  '@xstate.event': [...BASE_FIELDS, 'event', 'sourceId'],
  '@xstate.snapshot': [...BASE_FIELDS, 'snapshot', 'event'],
};
const STATUSES = new Set(['active', 'done', 'error', 'stopped']);

/** Every way `event` differs from the shape drainlab promises to send; empty when it conforms. */
function shapeProblems(event: unknown): string[] {
  if (!isObject(event)) return ['not an object'];
  const problems: string[] = [];
  const fail = (problem: string | null | false) => {
    if (problem) problems.push(problem);
  };
  const type = event.type;
  if (typeof type !== 'string' || !(type in FIELDS)) return [`type ${String(type)} is not an inspection event type`];
  for (const key of Object.keys(event)) fail(!FIELDS[type].includes(key) && `unexpected field ${key}`);
  // Fields that may be undefined are absent once written to a file; the others must be there.
  fail((typeof event.sessionId !== 'string' || event.sessionId === '') && 'sessionId is not a non-empty string');
  fail(event.rootId !== undefined && typeof event.rootId !== 'string' && 'rootId is neither a string nor undefined');
  fail((typeof event.createdAt !== 'string' || !/^\d+$/.test(event.createdAt)) && 'createdAt is not a decimal string');
  fail(typeof event.id !== 'string' && 'id is not a string');
  fail(typeof event._version !== 'string' && '_version is not a string');
  const snapshot = event.snapshot;
  if (type === '@xstate.actor') {
    fail(typeof event.name !== 'string' && 'name is not a string');
    fail(event.parentId !== undefined && typeof event.parentId !== 'string' && 'parentId is neither a string nor undefined');
    if (event.definition !== undefined) {
      if (typeof event.definition !== 'string') fail('definition is neither a string nor undefined');
      else {
        let config: unknown;
        try {
          config = JSON.parse(event.definition);
        } catch {
          fail('definition is not JSON');
        }
        fail(config !== undefined && (!isObject(config) || typeof config.id !== 'string') && 'definition is not a machine config with an id');
      }
    }
    if (!isObject(snapshot)) fail('snapshot is not an object');
    else {
      fail(!STATUSES.has(snapshot.status as string) && 'snapshot.status is not a snapshot status');
      fail(!isObject(snapshot.context) && 'snapshot.context is not an object');
      fail(stateValueProblem(snapshot.value, 'snapshot.value'));
    }
  }
  if (type === '@xstate.event') {
    fail(eventObjectProblem(event.event, 'event'));
    fail(event.sourceId !== undefined && typeof event.sourceId !== 'string' && 'sourceId is neither a string nor undefined');
  }
  if (type === '@xstate.snapshot') {
    fail(eventObjectProblem(event.event, 'event'));
    if (!isObject(snapshot)) fail('snapshot is not an object');
    else {
      for (const key of Object.keys(snapshot)) fail(!['status', 'value', 'context'].includes(key) && `unexpected field snapshot.${key}`);
      fail(snapshot.status !== 'active' && 'snapshot.status is not active');
      fail(!isObject(snapshot.context) && 'snapshot.context is not an object');
      fail(stateValueProblem(snapshot.value, 'snapshot.value'));
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Per-step views: what every actor's state and counters are after each step

interface ActorAtStep {
  state: string | undefined;
  counters: Record<string, number>;
}

function stepViews(lines: readonly TraceLine[]): Record<string, ActorAtStep>[] {
  const now: Record<string, ActorAtStep> = {};
  const views: Record<string, ActorAtStep>[] = [];
  const events = lines.filter((l): l is Extract<TraceLine, { actor: string; step: number }> => 'step' in l && 'actor' in l);
  const lastStep = events.length ? events[events.length - 1].step : 0;
  let i = 0;
  for (let step = 0; step <= lastStep; step++) {
    for (; i < events.length && events[i].step === step; i++) {
      const e = events[i];
      if (e.type !== '@trace.state' && e.type !== '@trace.counter') continue;
      const actor = (now[e.actor] ??= { state: undefined, counters: {} });
      if (e.type === '@trace.state') actor.state = e.to;
      else actor.counters[e.counter] = e.value;
    }
    views.push(structuredClone(now));
  }
  return views;
}

const ofType = <T extends TraceLine['type']>(lines: readonly TraceLine[], type: T) => lines.filter((l): l is Extract<TraceLine, { type: T }> => l.type === type);

// ---------------------------------------------------------------------------------------------

describe('toInspectionEvents', () => {
  it.each(SCENARIOS)('should send only events of the @statelyai/inspect 0.7.2 shapes (%s)', (name) => {
    const events = asFile(toInspectionEvents(cachedTrace(name)));
    expect(events.length).toBeGreaterThan(0);
    const problems = events.flatMap((e, i) => shapeProblems(e).map((p) => `event ${i}: ${p}`));
    expect(problems).toEqual([]);
  });

  it.each<[string, (e: Record<string, any>) => void, string]>([
    ['a missing sessionId', (e) => delete e.sessionId, 'sessionId is not a non-empty string'],
    ['a numeric createdAt', (e) => (e.createdAt = 12), 'createdAt is not a decimal string'],
    ['a null id', (e) => (e.id = null), 'id is not a string'],
    ['no _version', (e) => delete e._version, '_version is not a string'],
    ['a stray field', (e) => (e.extra = 1), 'unexpected field extra'],
    ['a definition that is an object', (e) => (e.definition = {}), 'definition is neither a string nor undefined'],
    ['a snapshot without a value', (e) => delete e.snapshot.value, 'snapshot.value is not a state value'],
    ['a numeric state value', (e) => (e.snapshot.value = { loop: 3 }), 'snapshot.value.loop is not a state value'],
  ])('should have a shape checker that catches %s', (_, breakIt, problem) => {
    const actor = asFile(toInspectionEvents(cachedTrace('event-loop-basics')))[0] as Record<string, any>;
    expect(shapeProblems(actor)).toEqual([]);
    breakIt(actor);
    expect(shapeProblems(actor)).toContain(problem);
  });

  it('should have a shape checker that catches a snapshot event that is not active, or an event without a type', () => {
    const events = asFile(toInspectionEvents(cachedTrace('event-loop-basics'))) as Record<string, any>[];
    const snapshot = structuredClone(events.find((e) => e.type === '@xstate.snapshot')!);
    const sent = structuredClone(events.find((e) => e.type === '@xstate.event')!);
    snapshot.snapshot.status = 'done';
    delete sent.event.type;
    expect(shapeProblems(snapshot)).toContain('snapshot.status is not active');
    expect(shapeProblems(sent)).toContain('event.type is not a string');
  });

  it('should export byte for byte the same events for the same scenario and seed', () => {
    const first = JSON.stringify(toInspectionEvents(traceOf(HEADLINE, 3)));
    const second = JSON.stringify(toInspectionEvents(traceOf(HEADLINE, 3)));
    expect(second).toBe(first);
  });

  it('should date events by the virtual clock, never the wall clock', () => {
    const lines = cachedTrace(HEADLINE);
    const times = new Set(lines.filter((l) => 'time' in l).map((l) => String((l as { time: number }).time)));
    const events = toInspectionEvents(lines);
    expect(events.filter((e) => !times.has(e.createdAt))).toEqual([]);
  });

  it('should name each session after its actor, with unique event ids, one @xstate.actor per @trace.actor', () => {
    const lines = cachedTrace(HEADLINE);
    const events = toInspectionEvents(lines);
    const actors = ofType(lines, '@trace.actor');
    const registered = events.filter((e) => e.type === '@xstate.actor');
    expect(registered.map((e) => [e.sessionId, e.name])).toEqual(actors.map((a) => [a.actor, a.machine]));
    const names = new Set(actors.map((a) => a.actor));
    expect(events.filter((e) => !names.has(e.sessionId))).toEqual([]);
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
    expect(new Set(events.map((e) => e.rootId))).toEqual(new Set([`drainlab:${HEADLINE}`]));
    expect(new Set(events.map((e) => e._version))).toEqual(new Set([DRAINLAB_INSPECTION_VERSION]));
  });

  it('should link each transaction action to its transaction by parentId, and nothing else', () => {
    const events = toInspectionEvents(cachedTrace(HEADLINE));
    const parents = Object.fromEntries(events.filter((e) => e.type === '@xstate.actor').map((e) => [e.sessionId, e.parentId]));
    expect(parents['txn:1/action:0']).toBe('txn:1');
    expect(parents['txn:1/action:1']).toBe('txn:1');
    expect(Object.entries(parents).filter(([name, parent]) => parent !== undefined && !name.startsWith('txn:1/'))).toEqual([]);
  });

  it('should send one @xstate.event per delivery, from its sender, with the fields of its detail', () => {
    const lines = cachedTrace(HEADLINE);
    const delivered = ofType(lines, '@trace.deliver');
    const sent = toInspectionEvents(lines).filter((e) => e.type === '@xstate.event');
    expect(sent).toHaveLength(delivered.length);
    const poll = sent.find((e) => e.event.type === 'aio.poll')!;
    expect(poll).toMatchObject({ sessionId: 'ctx:main', sourceId: 'loop:main', event: { type: 'aio.poll', blocking: true, thread: 'main' } });
    expect(sent.map((e) => e.event.__drainlab)).toEqual(delivered.map((d) => expect.objectContaining({ step: d.step, vtime: d.vtime })));
  });

  it('should write a definition with the statechart of the machine, as an XState config', () => {
    const events = toInspectionEvents(cachedTrace(HEADLINE));
    const context = events.find((e) => e.type === '@xstate.actor' && e.sessionId === 'ctx:main') as Extract<StatelyInspectionEvent, { type: '@xstate.actor' }>;
    const config = JSON.parse(context.definition!);
    expect(config).toMatchObject({ id: 'aioContext', type: 'parallel', states: { external: { initial: 'enabled' }, loop: { initial: 'idle' } } });
    expect(config.states.external.states.disabled.on['aio.external.enable'][0]).toEqual({ target: ['#aioContext.external.enabled'], guard: 'isLastDisable', actions: ['applyEvent'] });
    expect(config.states.loop.states.idle.always[0]).toMatchObject({ target: ['#aioContext.loop.polling'], guard: 'isPolling' });
  });

  it.each<[string, unknown]>([
    ['external.enabled|loop.idle', { external: 'enabled', loop: 'idle' }],
    ['running', 'running'],
    ['a.b.c', { a: { b: 'c' } }],
    ['phase.preparing|operation.flush', { phase: 'preparing', operation: 'flush' }],
  ])('should turn the trace state %s into an XState state value and back', (paths, value) => {
    expect(stateValueOf(paths)).toEqual(value);
    expect(leafPathsOf(stateValueOf(paths))).toBe(paths);
  });

  it('should give the state value XState gives, atomic regions of parallel states included, when it has the statechart', () => {
    const machine = createMachine({ id: 'p', type: 'parallel', states: { a: {}, b: { initial: 'x', states: { x: {} } }, c: { type: 'parallel', states: { d: {}, e: { initial: 'y', states: { y: {} } } } } } });
    const actor = createActor(machine).start();
    const value = actor.getSnapshot().value;
    actor.stop();
    expect(stateValueOf('a|b.x|c.d|c.e.y', describeMachine(machine))).toEqual(value);
    expect(leafPathsOf(value as InspectionStateValue)).toBe('a|b.x|c.d|c.e.y');
  });

  it('should give a snapshot after a step the state and counters the trace has after it', () => {
    const lines = cachedTrace('nested-drained-sections');
    const views = stepViews(lines);
    const snapshots = toInspectionEvents(lines).filter((e) => e.type === '@xstate.snapshot');
    const withCounter = snapshots.filter((e) => 'quiesceCounter' in (e.snapshot.context as object));
    expect(withCounter.length).toBeGreaterThan(0);
    for (const e of snapshots) {
      const { __drainlab, ...counters } = e.snapshot.context as { __drainlab: { step: number } };
      const view = views[__drainlab.step][e.sessionId];
      expect({ step: __drainlab.step, state: leafPathsOf(e.snapshot.value as string), counters }).toEqual({ step: __drainlab.step, state: view.state, counters: view.counters });
    }
  });
});

describe('fromInspectionEvents', () => {
  it.each(SCENARIOS)('should give back the state and counters of every actor at every step (%s)', (name) => {
    const original = cachedTrace(name);
    const imported = fromInspectionEvents(asFile(toInspectionEvents(original)), 'out.json');
    const before = stepViews(original);
    const after = stepViews(imported);
    expect(after.length).toBe(before.length);
    for (let step = 0; step < before.length; step++) expect({ step, actors: after[step] }).toEqual({ step, actors: before[step] });
  });

  it('should give back every delivery: step, times, actor, event, sender and detail', () => {
    const original = cachedTrace(HEADLINE);
    const imported = fromInspectionEvents(asFile(toInspectionEvents(original)), 'out.json');
    expect(ofType(imported, '@trace.deliver')).toEqual(ofType(original, '@trace.deliver'));
  });

  it('should give back the statecharts, the actors and the meta of the run', () => {
    const original = cachedTrace(HEADLINE);
    const imported = fromInspectionEvents(asFile(toInspectionEvents(original)), 'out.json');
    expect(ofType(imported, '@trace.machine')).toEqual(ofType(original, '@trace.machine'));
    expect(ofType(imported, '@trace.actor')).toEqual(ofType(original, '@trace.actor'));
    expect(ofType(imported, '@trace.meta')).toEqual(ofType(original, '@trace.meta'));
  });

  it('should make a trace that the trace file reader accepts', () => {
    const imported = fromInspectionEvents(asFile(toInspectionEvents(cachedTrace(HEADLINE))), 'out.json');
    const text = imported.map((l) => JSON.stringify(l)).join('\n');
    expect(parseTraceFile(text, 'imported.ndjson')).toEqual(imported);
  });

  it('should read a hand-written stream from another XState app, each event a step of its own', () => {
    const toggle = { id: 'toggle', initial: 'inactive', context: { count: 0 }, states: { inactive: { on: { flip: { target: 'active', actions: { type: 'bump' } } } }, active: { on: { flip: 'inactive' } } } };
    const events = [
      { type: '@xstate.actor', sessionId: 'x:0', rootId: 'x:0', createdAt: '1700000000000', id: null, _version: '0.7.2', name: 'toggle', definition: JSON.stringify(toggle), snapshot: { status: 'active', value: 'inactive', context: { count: 0 } } },
      { type: '@xstate.actor', sessionId: 'x:1', rootId: 'x:0', parentId: 'x:0', createdAt: '1700000000001', id: null, _version: '0.7.2', name: 'fetcher', snapshot: { status: 'active' } },
      { type: '@xstate.event', sessionId: 'x:0', rootId: 'x:0', createdAt: '1700000000005', id: '0.25', _version: '0.7.2', event: { type: 'flip', by: 2 } },
      { type: '@xstate.snapshot', sessionId: 'x:0', rootId: 'x:0', createdAt: '1700000000005', id: null, _version: '0.7.2', event: { type: 'flip', by: 2 }, snapshot: { status: 'active', value: 'active', context: { count: 2, label: 'on' }, children: {}, tags: [] } },
      { type: '@xstate.event', sessionId: 'x:1', rootId: 'x:0', sourceId: 'x:0', createdAt: '1700000000007', id: '0.5', _version: '0.7.2', event: { type: 'fetch' } },
      { type: '@xstate.snapshot', sessionId: 'x:1', rootId: 'x:0', createdAt: '1700000000009', id: null, _version: '0.7.2', event: { type: '' }, snapshot: { status: 'done', output: 42 } },
    ];
    const lines = fromInspectionEvents(events, 'app.json');
    expect(lines[0]).toMatchObject({ type: '@trace.meta', scenario: 'x:0', source: 'inspection' });
    const [machine] = ofType(lines, '@trace.machine');
    expect(machine.root).toMatchObject({ key: 'toggle', type: 'compound', initial: 'inactive' });
    expect(machine.root.children.map((c) => [c.path, c.transitions])).toEqual([
      ['inactive', [{ event: 'flip', targets: ['active'], actions: ['bump'] }]],
      ['active', [{ event: 'flip', targets: ['inactive'], actions: [] }]],
    ]);
    expect(ofType(lines, '@trace.actor')).toEqual([
      { type: '@trace.actor', actor: 'x:0', kind: 'xstate', machine: 'toggle' },
      { type: '@trace.actor', actor: 'x:1', kind: 'xstate', machine: 'fetcher' },
    ]);
    const events2 = lines.filter((l) => 'step' in l && 'actor' in l).map((l) => {
      const { type, step, time, actor } = l as { type: string; step: number; time: number; actor: string };
      return `${step} ${time} ${actor} ${type}`;
    });
    expect(events2).toEqual([
      '0 0 x:0 @trace.state',
      '0 0 x:0 @trace.counter',
      '2 5000000 x:0 @trace.deliver',
      '3 5000000 x:0 @trace.state',
      '3 5000000 x:0 @trace.counter',
      '4 7000000 x:1 @trace.deliver',
    ]);
    expect(ofType(lines, '@trace.deliver').map((d) => [d.event, d.from, d.detail])).toEqual([
      ['flip', 'env', 'flip(by=2)'],
      ['fetch', 'x:0', 'fetch'],
    ]);
    expect(ofType(lines, '@trace.state').map((s) => [s.from, s.to])).toEqual([['', 'inactive'], ['inactive', 'active']]);
    expect(ofType(lines, '@trace.counter').map((c) => [c.counter, c.value])).toEqual([['count', 0], ['count', 2]]);
    expect(lines[lines.length - 1]).toEqual({ type: '@trace.end', steps: 5, endReason: 'imported' });
  });

  it('should read a foreign stream of snapshots alone, whose actors were never registered', () => {
    const snapshot = (createdAt: string, value: unknown) => ({ type: '@xstate.snapshot', sessionId: 'x:3', createdAt, id: null, _version: '0.7.2', event: { type: 'go' }, snapshot: { status: 'active', value, context: {} } });
    const lines = fromInspectionEvents([snapshot('10', { a: 'b', c: {} }), snapshot('11', { a: 'd', c: {} })], 'app.json');
    expect(ofType(lines, '@trace.actor')).toEqual([{ type: '@trace.actor', actor: 'x:3', kind: 'xstate', machine: 'x:3' }]);
    expect(ofType(lines, '@trace.state').map((s) => [s.step, s.to])).toEqual([[0, 'a.b|c'], [1, 'a.d|c']]);
  });
});

describe('parseInspectionFile', () => {
  const small = () => asFile(toInspectionEvents(cachedTrace('event-loop-basics'))) as Record<string, any>[];
  const indexOf = (events: Record<string, any>[], type: string) => events.findIndex((e) => e.type === type);
  const lastIndexOf = (events: Record<string, any>[], type: string) => events.map((e) => e.type).lastIndexOf(type);

  it('should read NDJSON and a JSON array of the same events alike', () => {
    const events = small();
    const fromArray = parseInspectionFile(JSON.stringify(events, null, 2), 'out.json');
    const fromNdjson = parseInspectionFile(events.map((e) => JSON.stringify(e)).join('\n') + '\n', 'out.ndjson');
    expect(fromNdjson).toEqual(fromArray);
    expect(stepViews(fromArray)).toEqual(stepViews(cachedTrace('event-loop-basics')));
  });

  it.each<[string, (events: Record<string, any>[]) => number, RegExp]>([
    ['a snapshot without a value', (es) => { const i = indexOf(es, '@xstate.snapshot'); delete es[i].snapshot.value; return i; }, /^out\.json: event (\d+): @xstate\.snapshot without a snapshot\.value/],
    ['a snapshot without a snapshot', (es) => { const i = indexOf(es, '@xstate.snapshot'); delete es[i].snapshot; return i; }, /^out\.json: event (\d+): @xstate\.snapshot without a snapshot;/],
    ['a state value that is a number', (es) => { const i = indexOf(es, '@xstate.snapshot'); es[i].snapshot.value = { loop: 7 }; return i; }, /^out\.json: event (\d+): @xstate\.snapshot: snapshot\.value\.loop is number 7; expected a state value/],
    ['an event that is no object', (es) => { es[2] = 42 as never; return 2; }, /^out\.json: event (\d+): expected an inspection event \(a JSON object with "type"\), got number 42$/],
    ['an unknown type', (es) => { es[1].type = '@xstate.microstep'; return 1; }, /^out\.json: event (\d+): unknown event type '@xstate\.microstep'; expected "@xstate\.actor"/],
    ['a trace line', (es) => { es[1] = { type: '@trace.state', step: 0 }; return 1; }, /^out\.json: event (\d+): a drainlab trace line \(@trace\.state\), not an inspection event/],
    ['no sessionId', (es) => { delete es[3].sessionId; return 3; }, /^out\.json: event (\d+): @xstate\.\w+: "sessionId" is missing; expected the actor's session id/],
    ['a numeric createdAt', (es) => { es[0].createdAt = 0; return 0; }, /^out\.json: event (\d+): @xstate\.actor: "createdAt" is number 0; expected a time as a string/],
    ['an event object without a type', (es) => { const i = indexOf(es, '@xstate.event'); delete es[i].event.type; return i; }, /^out\.json: event (\d+): @xstate\.event: "event" is an object without a string "type"/],
    ['a definition that is not JSON', (es) => { es[0].definition = '{"id":'; return 0; }, /^out\.json: event (\d+): @xstate\.actor: "definition" is not JSON/],
    ['a drainlab event without its step', (es) => { const i = indexOf(es, '@xstate.event'); delete es[i].event.__drainlab; return i; }, /^out\.json: event (\d+): @xstate\.event without event\.__drainlab; a drainlab export/],
    ['a step that goes back', (es) => { const i = lastIndexOf(es, '@xstate.snapshot'); es[i].snapshot.context.__drainlab.step = 0; return i; }, /^out\.json: event (\d+): @xstate\.snapshot: step 0 comes after step \d+; a drainlab export's steps never go back/],
  ])('should reject %s, naming the file and the event', (_, breakIt, message) => {
    const events = small();
    const index = breakIt(events);
    let error: unknown;
    try {
      parseInspectionFile(JSON.stringify(events), 'out.json');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ScenarioError);
    const match = message.exec((error as Error).message);
    expect(match, (error as Error).message).not.toBeNull();
    expect(Number(match![1])).toBe(index);
  });

  it.each<[string, string, string]>([
    ['an empty file', '  \n', 'out.ndjson: empty; expected inspection events as a JSON array or as NDJSON, one event a line'],
    ['a broken array', '[{"type":"@xstate.actor"},', 'out.ndjson: not JSON'],
    ['a line that is not JSON', '{"type":"@xstate.event"}\n\n{oops\n', 'out.ndjson:3: not JSON'],
    ['a line that is no inspection event', '\n{"type":"@xstate.snapshot","sessionId":"a","createdAt":"1","id":null,"_version":"0.7.2","event":{"type":"x"}}\n', 'out.ndjson:2: @xstate.snapshot without a snapshot;'],
    ['an array with no events', '[]', 'out.ndjson: no inspection events'],
  ])('should reject %s, naming the file and the line', (_, text, message) => {
    expect(() => parseInspectionFile(text, 'out.ndjson')).toThrow(ScenarioError);
    expect(() => parseInspectionFile(text, 'out.ndjson')).toThrow(message);
  });
});
