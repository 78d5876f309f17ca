/**
 * Runs a scenario and judges its expectations: which invariants hold or must be violated, the
 * QMP replies, final states and counters of named actors, orderings between events, and what
 * each image holds. The CLI and the tests use this one path.
 */
import type { AnyMachineSnapshot } from 'xstate';
import { stateName } from '../engine/Engine.ts';
import { InternalError } from '../errors.ts';
import type { MonitorContext } from '../../machines/monitorMachine.ts';
import { startSimulation, type SimulateOptions, type SimulationResult } from '../simulate.ts';
import type { TraceEvent } from '../trace/TraceEvent.ts';
import { INVARIANTS } from './scenarioSchema.ts';
import { replayCommandLine, type Scenario } from './loadScenario.ts';
import { snapshotOf } from '../engine/World.ts';

export interface ExpectationResult {
  /** What was expected, in words: `I10 violated`, `reply 1 is 'ok'`. */
  expectation: string;
  met: boolean;
  /** What happened: `held`, `violated at step 454: ...`. */
  detail: string;
  step?: number;
}

export interface ScenarioRun {
  scenario: Scenario;
  result: SimulationResult;
  expectations: ExpectationResult[];
  met: boolean;
  /** The line that reruns this exact interleaving. */
  replay: string;
}

export interface RunScenarioOptions {
  seed?: number;
  strategy?: 'fifo' | 'random';
  replayPath?: string;
  sinks?: SimulateOptions['sinks'];
  maxSteps?: number;
  onViolation?: SimulateOptions['onViolation'];
}

export function runScenario(scenario: Scenario, options: RunScenarioOptions = {}): ScenarioRun {
  const run = startScenario(scenario, options);
  run.advance(Infinity);
  return run.finish();
}

/** A scenario run taken a slice at a time; the same steps and trace as `runScenario`. */
export interface ScenarioRunInProgress {
  /** Takes up to `steps` more steps; true once the run is over. */
  advance(steps: number): boolean;
  /** Judges the expectations; call once, after `advance` said true. */
  finish(): ScenarioRun;
}

export function startScenario(scenario: Scenario, options: RunScenarioOptions = {}): ScenarioRunInProgress {
  const seed = options.seed ?? scenario.seed;
  const strategy = options.replayPath !== undefined ? { replay: options.replayPath } : (options.strategy ?? scenario.strategy);
  const replayOf = (path: string) => replayCommandLine(scenario, path);
  const simulation = startSimulation(scenario.topology, { seed, strategy, collectTrace: true, sinks: options.sinks, maxSteps: options.maxSteps, onViolation: options.onViolation });
  return {
    advance(steps) {
      try {
        return simulation.advance(steps);
      } catch (error) {
        if (error instanceof InternalError) throw new InternalError(error.message, replayOf(error.replay ?? ''));
        throw error;
      }
    },
    finish() {
      const result = simulation.finish();
      const expectations = judge(scenario, result);
      return { scenario, result, expectations, met: expectations.every((e) => e.met), replay: replayOf(result.replayPath) };
    },
  };
}

function judge(scenario: Scenario, result: SimulationResult): ExpectationResult[] {
  const out: ExpectationResult[] = [];
  const expect = scenario.expect;
  const mustViolate = new Set<string>(expect.violate ?? []);
  const mustHold = expect.hold === undefined || expect.hold === 'all' ? INVARIANTS.filter((i) => !mustViolate.has(i)) : (expect.hold as string[]);
  for (const id of mustViolate) {
    const first = result.violations.find((v) => v.invariant === id);
    out.push({ expectation: `${id} violated`, met: first !== undefined, detail: first ? `violated at step ${first.step}: ${first.message}` : 'held', step: first?.step });
  }
  for (const id of mustHold) {
    const first = result.violations.find((v) => v.invariant === id);
    out.push({ expectation: `${id} holds`, met: first === undefined, detail: first ? `violated at step ${first.step}: ${first.message}` : 'held', step: first?.step });
  }
  out.push({
    expectation: 'the run ends with the script done and every request completed',
    met: result.unfinished.length === 0,
    detail: result.unfinished.length === 0 ? `ended after ${result.steps} steps` : result.unfinished.join('; '),
  });
  if (expect.replies) {
    const replies = (snapshotOf(result.world, 'monitor:qmp').context as MonitorContext).replies;
    expect.replies.forEach((want, i) =>
      out.push({ expectation: `QMP reply ${i + 1} is '${want}'`, met: replies[i] === want, detail: replies[i] === undefined ? 'no such reply' : `'${replies[i]}'` }),
    );
  }
  for (const [actor, fields] of Object.entries(expect.final ?? {})) {
    const snapshot = result.world.actors.includes(actor) ? snapshotOf(result.world, actor) : undefined;
    for (const [field, want] of Object.entries(fields)) {
      const got = snapshot ? finalValue(snapshot, field) : undefined;
      out.push({ expectation: `${actor} ${field} is ${want}`, met: got !== undefined && String(got) === String(want), detail: snapshot ? `${field} is ${got ?? 'not a field of this actor'}` : `no actor named ${actor}` });
    }
  }
  for (const pair of expect.order ?? []) {
    const [a, b] = pair;
    const sa = firstStep(result.trace!, a);
    const sb = firstStep(result.trace!, b);
    out.push({
      expectation: `'${a}' before '${b}'`,
      met: sa !== undefined && sb !== undefined && sa < sb,
      detail: `'${a}' ${sa === undefined ? 'never happened' : `at step ${sa}`}, '${b}' ${sb === undefined ? 'never happened' : `at step ${sb}`}`,
      step: sb,
    });
  }
  for (const [key, want] of Object.entries(expect.images ?? {})) {
    const image = result.images.find((i) => `${i.index}` === key || `${i.action.slice(4).split('/')[0]}/${i.index}` === key);
    const got = image?.holds ?? [];
    const met = image !== undefined && got.length === want.length && want.every((w) => got.includes(w));
    out.push({ expectation: `image of action ${key} holds [${want.join(', ')}]`, met, detail: image ? `${image.kind} of ${image.node} holds [${got.join(', ')}]` : 'no such point in time', step: image?.step });
  }
  return out;
}

/** `state` (flattened, or a region's state), a numeric context field, or a derived counter (`inFlight`). */
function finalValue(snapshot: AnyMachineSnapshot, field: string): string | number | undefined {
  const context = snapshot.context as Record<string, unknown>;
  if (field === 'state') return stateName(snapshot);
  if (field.startsWith('state.')) {
    const region = field.slice(6);
    const part = stateName(snapshot).split('|').find((p) => p.startsWith(`${region}.`));
    return part?.slice(region.length + 1);
  }
  if (field === 'inFlight' && Array.isArray(context.trackedOrder)) return (context.trackedOrder as unknown[]).length;
  const value = context[field];
  return typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean' ? (value as never) : undefined;
}

/**
 * The step of the first trace event a descriptor names: `issue W`, `complete W` (the guest),
 * `submit W` (reaches a node), `pit N`, `prepare|commit|abort|clean N` (starts), `fire TEXT` (a
 * timer whose id contains TEXT runs), `command N` (script step N starts), `drained_begin NODE`,
 * `drained_end NODE`.
 */
export function firstStep(trace: readonly TraceEvent[], descriptor: string): number | undefined {
  const [verb, arg] = descriptor.trim().split(/\s+/, 2);
  const found = trace.find((e) => {
    switch (verb) {
      case 'issue':
      case 'complete':
        return e.type === '@trace.guest' && e.phase === verb && e.id === arg;
      case 'submit':
        return e.type === '@trace.io.submit' && e.id === arg && e.via.startsWith('client:');
      case 'pit':
        return e.type === '@trace.pit' && String(e.index) === arg;
      case 'prepare':
      case 'commit':
      case 'abort':
      case 'clean':
        return e.type === '@trace.txn' && e.phase === verb && e.result === 'start' && String(e.index) === arg;
      case 'fire':
        return e.type === '@trace.dispatch' && e.kind === 'timer' && e.id.includes(arg);
      case 'command':
        return e.type === '@trace.command' && e.phase === 'start' && String(e.index) === arg;
      case 'drained_begin':
        return e.type === '@trace.drain' && e.phase === 'begin' && e.node === `node:${arg}`;
      case 'drained_end':
        return e.type === '@trace.drain' && e.phase === 'end' && e.node === `node:${arg}`;
      default:
        return false;
    }
  });
  return found?.step;
}
