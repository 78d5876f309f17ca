/**
 * The scenario file format, defined once: `scenarioSchema` checks a YAML document and
 * `scenarioJsonSchema()` is the JSON Schema for editors (`drainlab schema`).
 */
import { optional, required, t } from './schema.ts';

export const INVARIANTS = ['I1', 'I2', 'I3', 'I4', 'I5', 'I6', 'I7', 'I8', 'I9', 'I10', 'I11', 'I12', 'conservation'] as const;
const DRIVERS = ['file', 'raw', 'qcow2', 'qed', 'iscsi', 'curl', 'nbd'] as const;
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const name = (what: string) => t.string({ pattern: NAME, patternText: NAME.source, what: `${what}: letters, digits, '-', '_' or '.'` });

const node = t
  .object({
    name: required(name('a node name')),
    driver: required(t.enum(DRIVERS, 'a driver')),
    ctx: optional(name('a context name').describe('The AioContext the node lives in (default main)')),
    file: optional(name('a node name').describe('The protocol child (bs->file)')),
    backing: optional(name('a node name')),
    medium: optional(t.boolean().describe('bdrv_is_inserted (default true)')),
    readOnly: optional(t.boolean()),
    snapshots: optional(t.array(t.string()).describe('Internal snapshots the image already has')),
    timers: optional(
      t.array(
        t.object({
          kind: required(t.enum(['qcow2-cache-clean', 'iscsi-nop', 'iscsi-event', 'curl-multi'], 'a driver timer')),
          interval: required(t.duration()),
          firings: required(t.number({ integer: true, min: 1 })),
        }),
      ),
    ),
  })
  .describe('A block node (BlockDriverState)');

const trigger = t
  .object({
    completed: optional(name('a request id').describe('After the guest saw this request complete')),
    txn: optional(name('a transaction name')),
    phase: optional(t.enum(['prepare', 'commit', 'abort', 'clean'], 'a transaction phase')),
    index: optional(t.number({ integer: true, min: 0 }).describe('Which action (default: any)')),
  })
  .describe("A condition: { completed: W } or { txn: NAME, phase: commit, index: 0 }");

const request = t.object({
  id: required(name('a request id')),
  op: required(t.enum(['read', 'write', 'flush'], 'an operation')),
  after: optional(t.array(name('a request id')).describe('Issue only after these requests completed (the guest saw them)')),
  at: optional(t.duration().describe('Issue no earlier than this instant')),
  when: optional(trigger.describe('Issue only once this holds')),
});

const client = t
  .object({
    name: required(name('a client name')),
    kind: required(t.enum(['nbd', 'virtio-blk', 'virtio-scsi'], 'a client kind')),
    node: required(name('a node name')),
    bus: optional(
      name('a bus name').describe(
        'virtio-scsi only: the SCSI bus (virtio-scsi HBA) this disk sits on; disks naming the same bus share its IOThread and, in the now era, its drain counter (a drain of one disk stops the whole HBA)',
      ),
    ),
    requests: optional(t.array(request).describe('What the guest or NBD client issues, in program order')),
  })
  .describe('An external client: an NBD server connection or a virtio dataplane notifier');

const device = required(name('a device name'));
const action = t.tagged(
  'type',
  {
    'blockdev-snapshot-sync': t.object({ type: required(t.string()), device, overlay: required(name('a node name')) }),
    'blockdev-snapshot-internal-sync': t.object({ type: required(t.string()), device, name: required(t.string({ what: 'a snapshot name' })) }),
    'drive-backup': t.object({ type: required(t.string()), device, target: required(name('a node name')) }),
    'blockdev-backup': t.object({ type: required(t.string()), device, target: required(name('a node name')) }),
    abort: t.object({ type: required(t.string()) }),
  },
  'a transaction action',
);

const at = optional(t.duration().describe('When the command reaches the monitor (REALTIME)'));
const when = optional(trigger.describe('The command reaches the monitor only once this holds'));
const onNode = t.object({ do: required(t.string()), node: required(name('a node name')), at, when });
const coroutine = optional(
  t.boolean().describe('The caller runs in a coroutine (a coroutine QMP command, such as block_resize): in the now era the drain bounces to a bottom half in the main loop (bdrv_co_yield_to_drain); in 2015 it runs in place'),
);
const drainedOnNode = t.object({ do: required(t.string()), node: required(name('a node name')), coroutine, at, when });
const step = t.tagged(
  'do',
  {
    drained_begin: drainedOnNode,
    drained_end: drainedOnNode,
    drain: onNode,
    drain_all: t.object({ do: required(t.string()), at, when }),
    drain_all_begin: t.object({ do: required(t.string()), at, when }),
    drain_all_end: t.object({ do: required(t.string()), at, when }),
    poll: t.object({ do: required(t.string()), ctx: required(name('a context name')), blocking: optional(t.boolean()), at, when }),
    stop: t.object({ do: required(t.string()), at, when }),
    cont: t.object({ do: required(t.string()), at, when }),
    transaction: t.object({ do: required(t.string()), txn: required(name('a transaction name')), at, when }),
  },
  'a script step',
);

const invariantList = t.array(t.enum(INVARIANTS, 'an invariant'));

/** What a run must show: invariants, QMP replies, final states, orders, images. */
const expectations = t.object({
  hold: optional(t.either(t.enum(['all'], 'all'), invariantList, 'all or a list of invariants').describe('Invariants that must hold (default: all not listed under violate)')),
  violate: optional(invariantList.describe('Invariants that must be violated')),
  replies: optional(t.array(t.string()).describe("The QMP replies to transactions, in order: 'ok' or 'error: <message>'")),
  final: optional(t.record(t.record(t.scalar()), 'actor: { state or counter: value }')),
  order: optional(t.array(t.array(t.string())).describe("Pairs [a, b]: a happens before b; 'issue W', 'complete W', 'submit W', 'pit N', 'prepare|commit|abort|clean N', 'fire TEXT', 'command N', 'drained_begin NODE', 'drained_end NODE'")),
  images: optional(t.record(t.array(name('a request id')), 'action index: writes its image holds')),
});

export const scenarioSchema = t.object(
  {
    title: required(t.string().describe('One line')),
    description: required(t.string().describe('What happens and why it matters, for a teacher to read aloud')),
    era: optional(t.enum(['2015', 'now'], 'an era')),
    dispatchOrder: optional(
      t.enum(['handler-list', 'readiness'], 'a dispatch order').describe(
        'Which ready handler and which scheduled bottom half a poll runs first: handler-list (QEMU 2015, newest registration or creation first) or readiness (QEMU 5.0+ ready list and BH list, newest ready or scheduled first)',
      ),
    ),
    seed: optional(t.number({ integer: true, min: 0, max: 0xffffffff })),
    strategy: optional(t.enum(['fifo', 'random'], 'a strategy')),
    protections: optional(
      t.object({
        externalGating: optional(t.boolean().describe('Patches 1, 2, 5')),
        nbdExternal: optional(t.boolean().describe('Patch 3')),
        dataplaneExternal: optional(t.boolean().describe('Patch 4')),
        transactionDrains: optional(t.boolean().describe('Patches 6-10')),
        qedDrainHook: optional(t.boolean().describe('Patches 11-12')),
        blockBackendQueuing: optional(t.boolean().describe('now era: a drained BlockBackend queues new requests (blk_wait_while_drained)')),
        deviceDrainedCallbacks: optional(t.boolean().describe("now era: devices and exports implement BlockDevOps drained_begin/end (detach their handler while drained)")),
      }),
    ),
    hostLatency: optional(t.object({ read: optional(t.duration()), write: optional(t.duration()), flush: optional(t.duration()) })),
    backupChunks: optional(t.number({ integer: true, min: 1, max: 64 })),
    contexts: optional(t.array(name('a context name')).describe('IOThread contexts; main always exists')),
    nodes: required(t.array(node)),
    clients: optional(t.array(client)),
    transactions: optional(t.array(t.object({ name: required(name('a transaction name')), actions: required(t.array(action)) }))),
    script: optional(t.array(step)),
    expect: optional(expectations),
    eraExpect: optional(
      t
        .object({ '2015': optional(expectations), now: optional(expectations) })
        .describe("Expectations for a run in one era: each field given here replaces the same field of 'expect' (for a story whose outcome differs between the eras)"),
    ),
  },
  'a scenario (a mapping with title, description, nodes, ...)',
);

export type ScenarioFile = NonNullable<ReturnType<typeof scenarioSchema.check>>;

export function scenarioJsonSchema(): Record<string, unknown> {
  return { $schema: 'https://json-schema.org/draft/2020-12/schema', title: 'drainlab scenario', ...scenarioSchema.json() };
}
