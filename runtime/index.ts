/**
 * drainlab's library API: load a scenario, run it, replay a choice path, export a trace.
 *
 * @example
 * const scenario = loadScenarioFile('scenarios/library/two-external-snapshots.yaml');
 * const run = runScenario(scenario, { seed: 3 });
 * console.log(run.met, run.result.violations.map((v) => v.invariant));
 */

/* Scenarios */
export { loadScenarioFile, parseScenario, ScenarioProblems, type Scenario } from './scenario/loadScenario.ts';
export { runScenario, type ScenarioRun, type ExpectationResult } from './scenario/runScenario.ts';
export { scenarioJsonSchema } from './scenario/scenarioSchema.ts';

/* Running a topology */
export { simulate, type SimulateOptions, type SimulationResult } from './simulate.ts';
export { Engine, type ActorSpec, type RunResult } from './engine/Engine.ts';
export type { World, Step } from './engine/World.ts';

/* Strategies and time */
export { fifo, random, replay, type Strategy } from './scheduler/strategies.ts';
export { encodeReplayPath, decodeReplayPath } from './scheduler/ReplayPath.ts';
export { VirtualClock } from './scheduler/VirtualClock.ts';

/* Traces and invariants */
export type { TraceEvent } from './trace/TraceEvent.ts';
export { NdjsonWriter, toNdjson } from './trace/NdjsonWriter.ts';
export { InvariantChecker, checkInvariants, type ReportedViolation } from './invariants/InvariantChecker.ts';

/* Errors */
export { ScenarioError, InternalError } from './errors.ts';
