/**
 * Test rigs: an engine over a few actors that a test drives step by step. `settle()` delivers
 * messages (oldest first) until none is left, without environment offers or clock advances;
 * `offer()` takes one named environment step; `advance()` moves the clock to the next alarm.
 */
import type { AnyEvent } from '../../machines/effects.ts';
import { aioContextMachine, type AioContextContext } from '../../machines/aioContextMachine.ts';
import { callbackProbeMachine, type CallbackProbeContext, type ProbeReaction } from '../../machines/callbackProbeMachine.ts';
import { createActorSpecs } from '../../actors/createSystem.ts';
import type { Topology } from '../../actors/topology.ts';
import { Engine, type ActorSpec } from '../../runtime/engine/Engine.ts';
import { type World, snapshotOf } from '../../runtime/engine/World.ts';
import { InvariantChecker } from '../../runtime/invariants/InvariantChecker.ts';
import type { ModelMap } from '../../runtime/invariants/monitors.ts';
import { modelMapOf } from '../../runtime/simulate.ts';
import type { TraceEvent } from '../../runtime/trace/TraceEvent.ts';

export class Rig {
  readonly engine: Engine;
  readonly trace: TraceEvent[] = [];
  readonly checker: InvariantChecker;
  world: World;

  constructor(specs: ActorSpec[], model: ModelMap = { nodeContext: {} }) {
    this.checker = new InvariantChecker(model);
    this.engine = new Engine(specs, {
      onTrace: (e) => {
        this.trace.push(e);
        this.checker.observe(e);
      },
    });
    this.world = this.engine.initial;
  }

  send(to: string, event: AnyEvent): this {
    this.world = this.engine.inject(this.world, to, event, 'test');
    return this.settle();
  }

  /** Delivers pending messages, oldest first, until no message can be delivered. */
  settle(limit = 10_000): this {
    for (let i = 0; i < limit; i++) {
      const step = this.engine.enabledSteps(this.world).find((s) => s.kind === 'deliver');
      if (!step) return this;
      this.world = this.engine.apply(this.world, step);
    }
    throw new Error(`settle: still delivering after ${limit} steps`);
  }

  /** Takes the environment's offer `type` at `actor` (matching `match` fields), then settles. */
  offer(actor: string, type: string, match: Record<string, unknown> = {}): this {
    const step = this.engine
      .enabledSteps(this.world)
      .find((s) => s.kind === 'offer' && s.actor === actor && s.event.type === type && Object.entries(match).every(([k, v]) => s.event[k] === v));
    if (!step) throw new Error(`offer: ${actor} does not offer ${type} ${JSON.stringify(match)} now`);
    this.world = this.engine.apply(this.world, step);
    return this.settle();
  }

  offers(): string[] {
    return this.engine
      .enabledSteps(this.world)
      .filter((s) => s.kind === 'offer')
      .map((s) => (s.kind === 'offer' ? `${s.actor} ${s.event.type} ${String(s.event.id ?? '')}`.trim() : ''));
  }

  /** Moves the clock to the next alarm, then settles. */
  advance(): this {
    const step = this.engine.enabledSteps(this.world).find((s) => s.kind === 'advance');
    if (!step) throw new Error('advance: no alarm is armed');
    this.world = this.engine.apply(this.world, step);
    return this.settle();
  }

  context<T>(actor: string): T {
    return snapshotOf(this.world, actor).context as T;
  }

  state(actor: string): unknown {
    return snapshotOf(this.world, actor).value;
  }

  events<T extends TraceEvent['type']>(type: T): Extract<TraceEvent, { type: T }>[] {
    return this.trace.filter((e): e is Extract<TraceEvent, { type: T }> => e.type === type);
  }
}

export const CTX = 'ctx:test';
export const PROBE = 'probe';

/** One AioContext and a callback probe that owns its handlers, BHs and timers (tests/test-aio.c). */
export class ContextRig extends Rig {
  constructor(options: { externalGating?: boolean; dispatchOrder?: 'handler-list' | 'readiness'; reactions?: Record<string, readonly ProbeReaction[]> } = {}) {
    super([
      { name: CTX, kind: 'aio-context', logic: aioContextMachine, input: { name: CTX, externalGating: options.externalGating ?? true, dispatchOrder: options.dispatchOrder } },
      { name: PROBE, kind: 'probe', logic: callbackProbeMachine, input: { name: PROBE, reactions: options.reactions ?? {} } },
    ]);
  }

  /** aio_poll(ctx, blocking) from thread `main`; returns its progress, or null if it is still parked. */
  poll(blocking = false, thread = 'main'): boolean | null {
    const before = this.probe().pollResults.length;
    this.send(CTX, { type: 'aio.poll', blocking, thread, replyTo: PROBE });
    const results = this.probe().pollResults;
    return results.length > before ? results[results.length - 1] : null;
  }

  handler(id: string, external: boolean): this {
    return this.send(CTX, { type: 'aio.handler.set', id, owner: PROBE, external });
  }

  bh(id: string): this {
    return this.send(CTX, { type: 'aio.bh.new', id, owner: PROBE });
  }

  probe(): CallbackProbeContext {
    return this.context<CallbackProbeContext>(PROBE);
  }

  ctx(): AioContextContext {
    return this.context<AioContextContext>(CTX);
  }

  /** Callbacks the probe ran since `from` (an index into `probe().ran`). */
  ranSince(from: number): string[] {
    return this.probe().ran.slice(from);
  }
}

/** A whole system built from a topology, as `simulate` builds it. */
export class SystemRig extends Rig {
  constructor(readonly topology: Topology) {
    super(createActorSpecs(topology), modelMapOf(topology));
    this.settle();
  }
}
