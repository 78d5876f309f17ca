import { describe, expect, it } from 'vitest';
import { createActorSpecs } from '../../../actors/createSystem.ts';
import { IoLedger, ioStreams } from '../../../actors/ioStreams.ts';
import { libraryTopology } from '../../helpers/library.ts';
import { Engine } from '../../../runtime/engine/Engine.ts';
import { ScenarioError } from '../../../runtime/errors.ts';
import { random } from '../../../runtime/scheduler/strategies.ts';
import { simulate } from '../../../runtime/simulate.ts';
import { toNdjson } from '../../../runtime/trace/NdjsonWriter.ts';
import type { TraceEvent } from '../../../runtime/trace/TraceEvent.ts';
import { randomWorkload } from '../../helpers/workloads.ts';
import { completedIds, type ExternalClientContext } from '../../../machines/externalClientMachine.ts';
import { mailboxOf, snapshotOf, type Step, type World } from '../../../runtime/engine/World.ts';
import { setup } from 'xstate';
import { applyStep, Emitter } from '../../../machines/effects.ts';

function traceText(seed: number, strategy: 'fifo' | 'random' | { replay: string } = 'random'): { text: string; replayPath: string } {
  const result = simulate(randomWorkload(), { seed, strategy, collectTrace: true });
  return { text: toNdjson(result.trace!), replayPath: result.replayPath };
}

describe('Engine: determinism', () => {
  it('should produce byte-identical traces for the same scenario and seed', () => {
    const first = traceText(1234);
    const second = traceText(1234);
    expect(first.text.length).toBeGreaterThan(10_000);
    expect(second.text).toBe(first.text);
  });

  it('should produce a different interleaving for another seed', () => {
    expect(traceText(1).text).not.toBe(traceText(2).text);
  });

  it('should reproduce a random run exactly from its replay path', () => {
    const original = traceText(77);
    const replayed = traceText(0, { replay: original.replayPath });
    expect(replayed.text).toBe(original.text);
  });

  it('should name actors by stable names only, never XState session ids', () => {
    const actors = new Set(simulate(libraryTopology('drained-section-dataplane'), { collectTrace: true }).trace!.map((e) => e.actor));
    for (const actor of actors) expect(actor).toMatch(/^(ctx|loop|node|client|host|monitor|clock):[a-z0-9-]*$|^clock$/);
  });
});

describe('Engine: conservation over 200 seeds', () => {
  it('should lose and duplicate no request on any of 200 random interleavings', () => {
    const failures: string[] = [];
    let requests = 0;
    for (let seed = 0; seed < 200; seed++) {
      // A client told twice that a request completed reports it as an error (`@trace.error`).
      const errors: string[] = [];
      const engine = new Engine(createActorSpecs(randomWorkload()), {
        seed,
        onTrace: (e) => {
          if (e.type === '@trace.error') errors.push(e.message);
        },
      });
      const ledger = new IoLedger();
      const { requests$, completions$ } = ioStreams(engine.wire);
      requests$.subscribe((m) => ledger.request(m));
      completions$.subscribe((m) => ledger.completion(m));
      const run = engine.run(random, { maxSteps: 100_000 });
      requests += ledger.requests;
      const clients = ['client:vblk0', 'client:nbd0', 'client:vscsi0'].map((c) => snapshotOf(run.world, c).context as ExternalClientContext);
      const completed = clients.flatMap((c) => completedIds(c));
      if (run.endReason !== 'quiescent') failures.push(`seed ${seed}: did not go quiet`);
      if (ledger.problems.length) failures.push(`seed ${seed}: ${ledger.problems.join('; ')}`);
      if (ledger.outstanding().length) failures.push(`seed ${seed}: lost ${ledger.outstanding().map((m) => m.id).join(', ')}`);
      if (errors.length) failures.push(`seed ${seed}: ${errors.join('; ')}`);
      if (completed.length !== 16) failures.push(`seed ${seed}: ${completed.length} of 16 requests completed`);
    }
    expect(failures).toEqual([]);
    // 16 guest requests, each one hop client->format node, format->protocol node, protocol->host.
    expect(requests).toBe(200 * 16 * 3);
  });

  it('should hold every invariant on 200 random interleavings with the series', () => {
    const broken: string[] = [];
    for (let seed = 0; seed < 200; seed++) {
      const result = simulate(randomWorkload(), { seed, strategy: 'random' });
      for (const v of result.violations) broken.push(`seed ${seed}: ${v.invariant} at step ${v.step}: ${v.message}`);
      for (const u of result.unfinished) broken.push(`seed ${seed}: ${u}`);
    }
    expect(broken).toEqual([]);
  });
});

describe('Engine: the world value', () => {
  it('should continue identically from a world saved as JSON and restored', () => {
    const engine = new Engine(createActorSpecs(randomWorkload()), { seed: 9 });
    const middle = engine.run(random, { maxSteps: 120 }).world;
    const saved = JSON.parse(JSON.stringify(engine.serialize(middle)));
    const restored = engine.restore(saved);
    expect(engine.hash(restored)).toBe(engine.hash(middle));

    const tail = (from: typeof middle) => {
      const events: TraceEvent[] = [];
      const traced = new Engine(createActorSpecs(randomWorkload()), { seed: 9, onTrace: (e) => events.push(e) });
      traced.run(random, { from });
      return toNdjson(events);
    };
    expect(tail(restored)).toBe(tail(middle));
  });

  it('should leave the old world untouched when stepping', () => {
    const engine = new Engine(createActorSpecs(randomWorkload()), { seed: 3 });
    const before = engine.initial;
    const hashBefore = engine.hash(before);
    const after = engine.apply(before, engine.enabledSteps(before)[0]);
    expect(engine.hash(before)).toBe(hashBefore);
    expect(engine.hash(after)).not.toBe(hashBefore);
  });

  it('should give equal hashes to equal worlds reached by different paths', () => {
    const engine = new Engine(createActorSpecs(randomWorkload()), { seed: 0 });
    const start = engine.initial;
    // Two registrations delivered to two different contexts commute: either order, same world.
    const steps = engine.enabledSteps(start).filter((s) => s.kind === 'deliver');
    const a = steps.find((s) => s.kind === 'deliver' && s.actor === 'ctx:iothread0')!;
    const b = steps.find((s) => s.kind === 'deliver' && s.actor === 'ctx:iothread1')!;
    const ab = engine.apply(engine.apply(start, a), b);
    const ba = engine.apply(engine.apply(start, b), a);
    expect(engine.hash(ab)).toBe(engine.hash(ba));
    expect(engine.hash(engine.apply(start, a))).not.toBe(engine.hash(ab));
  });
});

describe('Engine: replay paths', () => {
  it('should reject a malformed replay path with a message naming the token', () => {
    expect(() => simulate(randomWorkload(), { strategy: { replay: '0*3.x.1' } })).toThrow(ScenarioError);
    expect(() => simulate(randomWorkload(), { strategy: { replay: '0*3.x.1' } })).toThrow("token 2 'x' is not a choice");
  });

  it('should reject a replay path that picks a step that is not enabled', () => {
    expect(() => simulate(randomWorkload(), { strategy: { replay: '99' } })).toThrow(/choice 1 is 99, but only \d+ steps are enabled/);
  });
});

describe('Engine: a machine that fails', () => {
  it('should raise an InternalError naming the actor and the event, with the replay path to it', async () => {
    const { setup, assign } = await import('xstate');
    const { InternalError } = await import('../../../runtime/errors.ts');
    const { fifo } = await import('../../../runtime/scheduler/strategies.ts');
    const broken = setup({
      actions: {
        explode: assign(() => {
          throw new Error('boom');
        }),
      },
    }).createMachine({ initial: 'a', states: { a: { on: { go: { actions: 'explode' } } } } });
    const engine = new Engine([{ name: 'x:broken', kind: 'test', logic: broken as never, input: {} }]);
    const world = engine.inject(engine.initial, 'x:broken', { type: 'go' });
    let caught: unknown;
    try {
      engine.run(fifo, { from: world });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InternalError);
    expect((caught as Error).message).toBe('x:broken failed on go: boom (at step 1)');
    expect((caught as InstanceType<typeof InternalError>).replay).toBe('');
  });
});

describe('Engine.hash with the clocks left out', () => {
  it('should give one hash to worlds that differ only by when they happen, and two without the abstraction', async () => {
    const { Engine } = await import('../../../runtime/engine/Engine.ts');
    const { createActorSpecs } = await import('../../../actors/createSystem.ts');
    const { libraryTopology } = await import('../../helpers/library.ts');
    const engine = new Engine(createActorSpecs(libraryTopology('event-loop-basics')));
    const world = engine.initial;
    const shift = 5_000_000;
    const later = {
      ...world,
      time: { ...world.time, realtime: world.time.realtime + shift, virtual: world.time.virtual + shift },
      alarms: world.alarms.map((a) => ({ ...a, deadline: a.deadline + shift })),
    };
    expect(engine.hash(later, true)).toBe(engine.hash(world, true));
    expect(engine.hash(later)).not.toBe(engine.hash(world));
  });
});

describe('Engine: what offers may read', () => {
  it('should stop with an internal error when an offer reads a snapshot its spec does not declare', () => {
    const specs = createActorSpecs(libraryTopology('drained-section-dataplane')).map((spec) =>
      spec.kind === 'host-storage' ? { ...spec, offers: (_: unknown, view: { snapshot(actor: string): unknown }) => (view.snapshot('monitor:qmp'), []) } : spec,
    );
    const engine = new Engine(specs);
    expect(() => engine.enabledSteps(engine.initial)).toThrow(/offers of host.* read monitor:qmp, which its spec does not declare/);
  });

  it.each([
    ['qed-timer-with-hook', { 'client:vblk0': [], 'monitor:qmp': ['client:vblk0'] }],
    ['kick-when-commit-begins', { 'client:vblk0': ['txn:1/action:0'], 'client:vblk1': ['client:vblk0'], 'monitor:qmp': ['client:vblk1'] }],
  ])('should declare as read exactly the clients and actions that triggers and dependencies wait on: %s', (name, reads) => {
    const specs = createActorSpecs(libraryTopology(name));
    const declared = Object.fromEntries(specs.filter((s) => s.offerReads).map((s) => [s.name, s.offerReads]));
    expect(declared).toEqual(reads);
  });
});

describe('Engine: memoized deliveries', () => {
  /** A step as the scheduler sees it: which actor, and which message or offer. */
  const described = (steps: readonly Step[]) =>
    steps.map((s) => (s.kind === 'deliver' ? `deliver ${s.actor} ${s.envelope.event.type} #${s.envelope.seq}` : s.kind === 'offer' ? `offer ${s.actor} ${s.event.type}` : 'advance'));

  it.each([0, 1, 2])('should list the same steps as an engine that memoizes nothing, at every world of a walk and at each of its siblings (seed %i)', (seed) => {
    const topology = libraryTopology('two-external-snapshots');
    const memoizing = new Engine(createActorSpecs(topology), { memoize: true });
    const plain = new Engine(createActorSpecs(topology));
    let [m, p] = [memoizing.initial, plain.initial];
    for (let depth = 0; depth < 400; depth++) {
      const [ms, ps] = [memoizing.enabledSteps(m), plain.enabledSteps(p)];
      expect(described(ms), `at step ${depth}`).toEqual(described(ps));
      if (ms.length === 0) break;
      // Every sibling: the memos a step leaves on shared mailboxes must hold for the others.
      for (let k = 0; k < ms.length; k++) {
        expect(described(memoizing.enabledSteps(memoizing.apply(m, ms[k]))), `after step ${depth}'s choice ${k}`).toEqual(described(plain.enabledSteps(plain.apply(p, ps[k]))));
      }
      const choice = (depth * 7 + seed) % ms.length;
      [m, p] = [memoizing.apply(m, ms[choice]), plain.apply(p, ps[choice])];
    }
  });

  /**
   * Two actors for selective receive: `x:sender` sends `m1` on `go1` and `m2` on `go2`; the
   * receiver takes `m1` in A, `m2` in B, and its environment moves it from A to B.
   */
  async function selectiveReceivers() {
    const { setup, emit } = await import('xstate');
    const sendTo = (type: string) => emit({ type: 'fx.send', to: 'x:receiver', event: { type } } as never);
    const sender = setup({}).createMachine({ initial: 'idle', states: { idle: { on: { go1: { actions: sendTo('m1') }, go2: { actions: sendTo('m2') } } } } });
    const receiver = setup({}).createMachine({ initial: 'A', states: { A: { on: { m1: 'tookM1', switch: 'B' } }, B: { on: { m2: 'tookM2' } }, tookM1: {}, tookM2: {} } });
    const specs = [
      { name: 'x:sender', kind: 'test', logic: sender as never, input: {} },
      { name: 'x:receiver', kind: 'test', logic: receiver as never, input: {}, offers: (snapshot: { value: unknown }) => (snapshot.value === 'A' ? [{ type: 'switch' }] : []) },
    ];
    return [new Engine(specs, { memoize: true }), new Engine(specs)] as const;
  }

  /** Takes `script` (injections to the sender, or the enabled step with that description) on both engines, comparing their listings at every world. */
  async function listingsAlong(script: readonly string[]): Promise<string[]> {
    const [memoizing, plain] = await selectiveReceivers();
    let [m, p] = [memoizing.initial, plain.initial];
    for (const line of script) {
      if (line.startsWith('inject ')) {
        const event = { type: line.slice('inject '.length) };
        [m, p] = [memoizing.inject(m, 'x:sender', event), plain.inject(p, 'x:sender', event)];
      } else {
        const [ms, ps] = [memoizing.enabledSteps(m), plain.enabledSteps(p)];
        expect(described(ms), `before ${line}`).toEqual(described(ps));
        const k = described(ms).findIndex((d) => d.startsWith(line));
        expect(k, `${line} in ${described(ms).join('; ')}`).toBeGreaterThanOrEqual(0);
        [m, p] = [memoizing.apply(m, ms[k]), plain.apply(p, ps[k])];
      }
    }
    expect(described(memoizing.enabledSteps(m))).toEqual(described(plain.enabledSteps(p)));
    return described(memoizing.enabledSteps(m));
  }

  it('should not offer a message sent to an empty mailbox whose actor does not take it yet', async () => {
    expect(await listingsAlong(['inject go2', 'deliver x:sender go2'])).toEqual(['offer x:receiver switch']);
  });

  it('should offer the message an actor takes after one it does not, sent in that order', async () => {
    expect(await listingsAlong(['offer x:receiver switch', 'inject go1', 'deliver x:sender go1', 'inject go2', 'deliver x:sender go2'])).toEqual(['deliver x:receiver m2 #3']);
  });

  it('should not carry a delivery found for the state an actor has left when a message is appended', async () => {
    const [memoizing, plain] = await selectiveReceivers();
    for (const engine of [memoizing, plain]) {
      const find = (world: World, wanted: string) => engine.enabledSteps(world).find((s) => described([s])[0].startsWith(wanted))!;
      let inA = engine.inject(engine.initial, 'x:sender', { type: 'go1' });
      inA = engine.inject(engine.apply(inA, find(inA, 'deliver x:sender go1')), 'x:sender', { type: 'go2' });
      // Both worlds share the receiver's mailbox [m1]; listing the one in A last leaves its
      // memo saying A takes m1 while the other world's receiver is in B.
      const inB = engine.apply(inA, find(inA, 'offer x:receiver switch'));
      const sendM2 = find(inB, 'deliver x:sender go2');
      engine.enabledSteps(inA);
      const m2Sent = engine.apply(inB, sendM2);
      expect(described(engine.enabledSteps(m2Sent))).toEqual(['deliver x:receiver m2 #3']);
    }
  });
});

describe('Mailbox: one envelope or more', () => {
  it('should keep its envelopes in order through appends and removals, whatever their number', async () => {
    const { NO_MAIL } = await import('../../../runtime/engine/Mailbox.ts');
    const envelope = (seq: number) => ({ seq, from: 'x:a', event: { type: `m${seq}` } });
    const seqs = (m: { size: number; envelopeAt(i: number): { seq: number }; envelopes: readonly { seq: number }[] }) => {
      const at = Array.from({ length: m.size }, (_, i) => m.envelopeAt(i).seq);
      expect(m.envelopes.map((e) => e.seq)).toEqual(at);
      return at;
    };
    const one = NO_MAIL.append(envelope(1));
    const three = one.append(envelope(2)).append(envelope(3));
    expect(seqs(one)).toEqual([1]);
    expect(seqs(three)).toEqual([1, 2, 3]);
    expect(seqs(three.without(2))).toEqual([1, 3]);
    expect(seqs(three.without(1).without(3))).toEqual([2]);
    expect(three.without(1).without(3).without(2)).toBe(NO_MAIL);
    expect(seqs(one)).toEqual([1]);
  });

  it('should give a mailbox of one the digest of the same envelope in a list of one', async () => {
    const { Mailbox, NO_MAIL } = await import('../../../runtime/engine/Mailbox.ts');
    const envelope = { seq: 4, from: 'x:a', event: { type: 'm' } };
    expect(NO_MAIL.append(envelope).digest).toBe(new Mailbox([envelope]).digest);
    expect(NO_MAIL.append(envelope).digest).not.toBe(NO_MAIL.append({ ...envelope, event: { type: 'n' } }).digest);
  });
});

describe('Engine: alarms', () => {
  // Sets alarm `a` twice in one step: due at once (it fires into its own mailbox), then again
  // later; or sets it due at once and clears it.
  const twice = (second: 'set' | 'clear') =>
    setup({ actions: { arm: applyStep((ctx: object) => {
      const out = new Emitter();
      out.alarm('a', 'realtime', 0, { type: 'fired', arming: 1 });
      if (second === 'set') out.alarmIn('a', 'realtime', 1000, { type: 'fired', arming: 2 });
      else out.clearAlarm('a');
      return { context: ctx, emitted: out.emitted };
    }) as never } }).createMachine({ context: {}, entry: 'arm', on: { fired: {} } });
  const engineOf = (second: 'set' | 'clear') => new Engine([{ name: 'timer:a', kind: 'test', logic: twice(second), input: {} }]);
  const firings = (engine: Engine, world: World) => mailboxOf(world, 'timer:a').map((e) => (e.event as unknown as { arming: number }).arming);

  it('should take back a firing not yet delivered when its alarm is set again (timer_mod supersedes it)', () => {
    const engine = engineOf('set');
    expect(firings(engine, engine.initial)).toEqual([]);
    expect(engine.initial.alarms.map((a) => (a.event as unknown as { arming: number }).arming)).toEqual([2]);
  });

  it('should take back a firing not yet delivered when its alarm is cleared (timer_del)', () => {
    const engine = engineOf('clear');
    expect(firings(engine, engine.initial)).toEqual([]);
    expect(engine.initial.alarms).toEqual([]);
  });

  it('should keep the firing of an alarm nobody set again', () => {
    const once = setup({ actions: { arm: applyStep((ctx: object) => {
      const out = new Emitter();
      out.alarm('a', 'realtime', 0, { type: 'fired', arming: 1 });
      out.alarmIn('b', 'realtime', 1000, { type: 'fired', arming: 2 });
      return { context: ctx, emitted: out.emitted };
    }) as never } }).createMachine({ context: {}, entry: 'arm', on: { fired: {} } });
    const engine = new Engine([{ name: 'timer:a', kind: 'test', logic: once, input: {} }]);
    expect(firings(engine, engine.initial)).toEqual([1]);
  });
});
