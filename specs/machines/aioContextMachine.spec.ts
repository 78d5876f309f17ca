import { describe, expect, it } from 'vitest';
import { aioContextMachine } from '../../machines/aioContextMachine.ts';
import { callbackProbeMachine } from '../../machines/callbackProbeMachine.ts';
import { eventLoopMachine } from '../../machines/eventLoopMachine.ts';
import { monitorMachine } from '../../machines/monitorMachine.ts';
import { ContextRig, CTX, PROBE, Rig } from '../helpers/rig.ts';

/** The series' own unit test (tests/test-aio.c, test_aio_external_client), as a timeline. */
const externalClientTimeline = [
  { do: 'disable', count: 1, pollProgress: false, ran: [] },
  { do: 'disable', count: 2, pollProgress: false, ran: [] },
  { do: 'enable', count: 1, pollProgress: false, ran: [] },
  { do: 'enable', count: 0, pollProgress: true, ran: ['handler:e'] },
] as const;

describe('aioContextMachine: external clients (test_aio_external_client)', () => {
  it('should keep a ready external notifier ready through nested disables and run it after the last enable', () => {
    const rig = new ContextRig().handler('e', true).send(CTX, { type: 'aio.handler.notify', id: 'e' });
    for (const row of externalClientTimeline) {
      const ranBefore = rig.probe().ran.length;
      rig.send(CTX, { type: row.do === 'disable' ? 'aio.external.disable' : 'aio.external.enable' });
      expect(rig.ctx().externalDisableCount).toBe(row.count);
      expect(rig.poll(false)).toBe(row.pollProgress);
      expect(rig.ranSince(ranBefore)).toEqual(row.ran);
      expect(rig.ctx().handlers.e.ready).toBe(row.ran.length === 0);
    }
    expect(rig.checker.violations).toEqual([]);
  });

  it('should show the states external.disabled and external.enabled as the counter moves', () => {
    const rig = new ContextRig();
    const seen: string[] = [];
    for (const type of ['aio.external.disable', 'aio.external.disable', 'aio.external.enable', 'aio.external.enable']) {
      rig.send(CTX, { type });
      seen.push((rig.state(CTX) as { external: string }).external);
    }
    expect(seen).toEqual(['disabled', 'disabled', 'disabled', 'enabled']);
  });

  it('should dispatch the notifier under the first disable when gating is switched off, violating I1', () => {
    const rig = new ContextRig({ externalGating: false }).handler('e', true).send(CTX, { type: 'aio.handler.notify', id: 'e' });
    rig.send(CTX, { type: 'aio.external.disable' });
    expect(rig.poll(false)).toBe(true);
    expect(rig.probe().ran).toEqual(['handler:e']);
    expect(rig.checker.violations.map((v) => v.invariant)).toContain('I1');
  });

  it('should run internal handlers while external clients are disabled', () => {
    const rig = new ContextRig().handler('i', false).send(CTX, { type: 'aio.external.disable' });
    rig.send(CTX, { type: 'aio.handler.notify', id: 'i' });
    expect(rig.poll(false)).toBe(true);
    expect(rig.probe().ran).toEqual(['handler:i']);
  });

  it('should report aio_enable_external at count 0 as an error, not a crash', () => {
    const rig = new ContextRig().send(CTX, { type: 'aio.external.enable' });
    expect(rig.events('@trace.error').map((e) => e.message)).toEqual([`${CTX}: aio_enable_external with externalDisableCount=0`]);
    expect(rig.ctx().externalDisableCount).toBe(0);
    expect(rig.checker.violations.map((v) => v.invariant)).toEqual(['I2']);
  });
});

describe('aioContextMachine: order within one aio_poll', () => {
  it('should run BHs, then ready handlers, then expired timers', () => {
    const rig = new ContextRig().bh('a').handler('h', false).send(CTX, { type: 'aio.timer.new', id: 't', owner: PROBE, clock: 'realtime' });
    rig.send(CTX, { type: 'aio.timer.mod', id: 't', deadline: 1_000 }).advance();
    rig.send(CTX, { type: 'aio.handler.notify', id: 'h' }).send(CTX, { type: 'aio.bh.schedule', id: 'a' });
    expect(rig.poll(false)).toBe(true);
    expect(rig.probe().ran).toEqual(['bh:a', 'handler:h', 'timer:t']);
  });

  it('should run a BH scheduled by a handler in the next poll, not the current one', () => {
    const rig = new ContextRig({ reactions: { h: [{ to: CTX, event: { type: 'aio.bh.schedule', id: 'b' } }] } }).bh('b').handler('h', false);
    rig.send(CTX, { type: 'aio.handler.notify', id: 'h' });
    expect(rig.poll(false)).toBe(true);
    expect(rig.probe().ran).toEqual(['handler:h']);
    expect(rig.poll(false)).toBe(true);
    expect(rig.probe().ran).toEqual(['handler:h', 'bh:b']);
  });

  it('should run a self-rescheduling BH once per poll (test_bh_schedule10)', () => {
    const rig = new ContextRig({ reactions: { r: [{ to: CTX, event: { type: 'aio.bh.schedule', id: 'r' } }] } }).bh('r');
    rig.send(CTX, { type: 'aio.bh.schedule', id: 'r' });
    const progress = [rig.poll(false), rig.poll(false), rig.poll(false)];
    expect(progress).toEqual([true, true, true]);
    expect(rig.probe().ran).toEqual(['bh:r', 'bh:r', 'bh:r']);
  });

  it('should return no progress at once from a non-blocking poll with nothing to do', () => {
    const rig = new ContextRig().bh('idle-bh').handler('quiet', false);
    expect(rig.poll(false)).toBe(false);
    expect(rig.probe().ran).toEqual([]);
  });

  it('should not run a cancelled BH', () => {
    const rig = new ContextRig().bh('c');
    rig.send(CTX, { type: 'aio.bh.schedule', id: 'c' }).send(CTX, { type: 'aio.bh.cancel', id: 'c' });
    expect(rig.poll(false)).toBe(false);
  });

  it('should not run a timer before its deadline, nor one deleted after it was armed', () => {
    const rig = new ContextRig().send(CTX, { type: 'aio.timer.new', id: 't', owner: PROBE, clock: 'virtual' });
    rig.send(CTX, { type: 'aio.timer.mod', id: 't', deadline: 5_000_000_000 });
    expect(rig.poll(false)).toBe(false);
    rig.send(CTX, { type: 'aio.timer.del', id: 't' });
    expect(rig.engine.enabledSteps(rig.world).some((s) => s.kind === 'advance')).toBe(false);
    expect(rig.poll(false)).toBe(false);
  });
});

describe('aioContextMachine: blocking polls and the context lock', () => {
  it('should park a blocking poll with nothing to do and run it when a handler becomes ready', () => {
    const rig = new ContextRig().handler('h', false);
    expect(rig.poll(true)).toBeNull();
    expect(rig.state(CTX)).toEqual({ external: 'enabled', loop: 'idle' });
    rig.send(CTX, { type: 'aio.handler.notify', id: 'h' });
    expect(rig.probe().pollResults).toEqual([true]);
    expect(rig.probe().ran).toEqual(['handler:h']);
  });

  it('should not wake a blocking poll for an external handler that is ready while disabled', () => {
    const rig = new ContextRig().handler('e', true).send(CTX, { type: 'aio.external.disable' });
    expect(rig.poll(true)).toBeNull();
    rig.send(CTX, { type: 'aio.handler.notify', id: 'e' });
    expect(rig.probe().pollResults).toEqual([]);
    rig.send(CTX, { type: 'aio.external.enable' });
    expect(rig.probe().pollResults).toEqual([true]);
    expect(rig.probe().ran).toEqual(['handler:e']);
  });

  it('should hold back another thread’s poll while the lock is taken, and run it after release', () => {
    const rig = new ContextRig().handler('h', false).send(CTX, { type: 'aio.handler.notify', id: 'h' });
    rig.send(CTX, { type: 'aio.acquire', thread: 'main', replyTo: PROBE });
    expect(rig.probe().acquired).toBe(1);
    expect(rig.poll(false, 'iothread0')).toBeNull();
    rig.send(CTX, { type: 'aio.release', thread: 'main' });
    expect(rig.probe().pollResults).toEqual([true]);
  });
});

describe('aioContextMachine: inside a drained section', () => {
  it('should still run BHs, internal handlers and timers while external clients are disabled', () => {
    const rig = new ContextRig().bh('b').handler('i', false).handler('e', true);
    rig.send(CTX, { type: 'aio.timer.new', id: 't', owner: PROBE, clock: 'virtual' }).send(CTX, { type: 'aio.timer.mod', id: 't', deadline: 1_000 });
    rig.advance().send(CTX, { type: 'aio.external.disable' });
    for (const id of ['i', 'e']) rig.send(CTX, { type: 'aio.handler.notify', id });
    rig.send(CTX, { type: 'aio.bh.schedule', id: 'b' });
    expect(rig.poll(false)).toBe(true);
    expect(rig.probe().ran).toEqual(['bh:b', 'handler:i', 'timer:t']);
    expect(rig.ctx().handlers.e.ready).toBe(true);
  });
});

describe('aioContextMachine: REALTIME and VIRTUAL timers', () => {
  it('should freeze VIRTUAL timers while the VM is stopped and keep REALTIME ones going', () => {
    const ms = (n: number) => n * 1_000_000;
    const rig = new Rig([
      { name: 'ctx:main', kind: 'aio-context', logic: aioContextMachine, input: { name: 'ctx:main' } },
      { name: 'loop:main', kind: 'event-loop', logic: eventLoopMachine, input: { name: 'loop:main', ctx: 'ctx:main', thread: 'main' } },
      { name: 'monitor:qmp', kind: 'monitor', logic: monitorMachine, input: { name: 'monitor:qmp', mainCtx: 'ctx:main', script: [{ do: 'stop', at: ms(1) }, { do: 'cont', at: ms(20) }] } },
      { name: PROBE, kind: 'probe', logic: callbackProbeMachine, input: { name: PROBE } },
    ]).settle();
    for (const [id, clock, deadline] of [['virt', 'virtual', ms(5)], ['real', 'realtime', ms(7)]] as const) {
      rig.send('ctx:main', { type: 'aio.timer.new', id, owner: PROBE, clock }).send('ctx:main', { type: 'aio.timer.mod', id, deadline });
    }
    while (rig.engine.enabledSteps(rig.world).some((s) => s.kind === 'advance')) rig.advance();
    const fired = rig.events('@trace.dispatch').filter((e) => e.kind === 'timer').map((e) => [e.id, e.time / 1e6, e.vtime / 1e6]);
    expect(fired).toEqual([
      ['real', 7, 1],
      ['virt', 24, 5],
    ]);
  });
});

describe('aioContextMachine: the order of timers that expire in one poll', () => {
  type Arm = { id: string; clock: 'realtime' | 'virtual'; deadline?: number; delay?: number };
  /** Timelines as data: timers armed in this order, the alarms that go off, a re-arm between them, and the order the poll runs them in. */
  const cases: { name: string; arms: Arm[]; fired: number; rearm?: { id: string; deadline: number; after: number }; ran: string[] }[] = [
    {
      name: 'should run timers with one deadline in the order they were armed (timer_mod_ns_locked inserts after equal expire times)',
      arms: [{ id: 'b', clock: 'realtime', deadline: 1_000 }, { id: 'a', clock: 'realtime', deadline: 1_000 }],
      fired: 1,
      ran: ['timer:b', 'timer:a'],
    },
    {
      name: 'should run timers armed with delays in the order their deadlines passed',
      arms: [{ id: 'a', clock: 'realtime', delay: 2_000 }, { id: 'b', clock: 'realtime', delay: 1_000 }],
      fired: 2,
      ran: ['timer:b', 'timer:a'],
    },
    {
      name: 'should run the REALTIME list before the VIRTUAL one (timerlistgroup_run_timers)',
      arms: [{ id: 'virt', clock: 'virtual', deadline: 1_000 }, { id: 'real', clock: 'realtime', deadline: 2_000 }],
      fired: 2,
      ran: ['timer:real', 'timer:virt'],
    },
    {
      name: 'should put a timer re-armed after it expired back in line by its new deadline',
      arms: [{ id: 'a', clock: 'realtime', deadline: 1_000 }, { id: 'b', clock: 'realtime', deadline: 2_000 }],
      rearm: { id: 'a', deadline: 3_000, after: 1 },
      fired: 3,
      ran: ['timer:b', 'timer:a'],
    },
  ];

  for (const { name, arms, fired, rearm, ran } of cases) {
    it(name, () => {
      const rig = new ContextRig();
      for (const { id, clock, deadline, delay } of arms) {
        rig.send(CTX, { type: 'aio.timer.new', id, owner: PROBE, clock }).send(CTX, { type: 'aio.timer.mod', id, ...(deadline !== undefined ? { deadline } : { delay }) });
      }
      for (let alarm = 0; alarm < fired; alarm++) {
        if (rearm && alarm === rearm.after) rig.send(CTX, { type: 'aio.timer.mod', id: rearm.id, deadline: rearm.deadline });
        rig.advance();
      }
      rig.poll(false);
      expect(rig.probe().ran).toEqual(ran);
    });
  }
});

describe('aioContextMachine: dispatch order (dispatchOrder)', () => {
  const schedule = (id: string) => ({ type: 'aio.bh.schedule', id });
  const notify = (id: string) => ({ type: 'aio.handler.notify', id });

  it('should run scheduled BHs in handler-list order by creation, newest first (QEMU 2015 ctx->first_bh)', () => {
    const rig = new ContextRig().bh('a').bh('b');
    rig.send(CTX, schedule('b')).send(CTX, schedule('a'));
    rig.poll(false);
    expect(rig.probe().ran).toEqual(['bh:b', 'bh:a']);
  });

  it('should run scheduled BHs in readiness order by scheduling, newest first (QEMU 5.0 aio_bh_enqueue)', () => {
    const rig = new ContextRig({ dispatchOrder: 'readiness' }).bh('a').bh('b');
    rig.send(CTX, schedule('b')).send(CTX, schedule('a'));
    rig.poll(false);
    expect(rig.probe().ran).toEqual(['bh:a', 'bh:b']);
    expect(rig.ctx().bhOrder).toEqual([]);
  });

  it('should leave a BH scheduled again while pending in its place (BH_PENDING)', () => {
    const rig = new ContextRig({ dispatchOrder: 'readiness' }).bh('a').bh('b');
    rig.send(CTX, schedule('a')).send(CTX, schedule('b')).send(CTX, schedule('a'));
    rig.poll(false);
    expect(rig.probe().ran).toEqual(['bh:b', 'bh:a']);
  });

  it('should skip a BH cancelled after it was scheduled, and run it when scheduled again later', () => {
    const rig = new ContextRig({ dispatchOrder: 'readiness' }).bh('a');
    rig.send(CTX, schedule('a')).send(CTX, { type: 'aio.bh.cancel', id: 'a' });
    expect(rig.poll(false)).toBe(false);
    rig.send(CTX, schedule('a'));
    expect(rig.poll(false)).toBe(true);
    expect(rig.probe().ran).toEqual(['bh:a']);
  });

  it('should let a nested poll finish the outer poll’s slice before its own (bh_slice_list)', () => {
    // n's callback schedules `late` and runs a nested aio_poll.
    const nested = [
      { to: CTX, event: schedule('late') },
      { to: CTX, event: { type: 'aio.poll', blocking: false, thread: 'main', replyTo: PROBE } },
    ];
    const rig = new ContextRig({ dispatchOrder: 'readiness', reactions: { n: nested } }).bh('n').bh('x').bh('late');
    rig.send(CTX, schedule('x')).send(CTX, schedule('n'));
    expect(rig.poll(false)).toBe(true);
    // n runs first (newest), its nested poll takes x (left in the outer slice), then its own
    // slice (late); the outer pass finds nothing left.
    expect(rig.probe().ran).toEqual(['bh:n', 'bh:x', 'bh:late']);
    expect(rig.probe().pollResults).toEqual([true, true]);
  });

  it('should dispatch ready handlers in handler-list order by registration, newest first (QEMU 2015 aio_dispatch)', () => {
    const rig = new ContextRig().handler('h1', false).handler('h2', false);
    rig.send(CTX, notify('h1')).send(CTX, notify('h2'));
    rig.poll(false);
    expect(rig.probe().ran).toEqual(['handler:h2', 'handler:h1']);
  });

  it('should dispatch ready handlers in readiness order, newest ready first (QEMU 5.0 aio_dispatch_ready_handlers)', () => {
    const rig = new ContextRig({ dispatchOrder: 'readiness' }).handler('h1', false).handler('h2', false);
    rig.send(CTX, notify('h2')).send(CTX, notify('h1'));
    rig.poll(false);
    expect(rig.probe().ran).toEqual(['handler:h1', 'handler:h2']);
  });
});
