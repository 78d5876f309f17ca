/**
 * The typed description of a system: which contexts, nodes and clients exist, which node lives
 * in which context, which client feeds which node, what the monitor will do, and which of the
 * series' protections are switched on. Names here are short (`iothread0`, `drive0`); actors get
 * stable prefixed names (`ctx:iothread0`, `node:drive0`).
 */
import type { ClientKind, WorkloadRequest } from '../machines/externalClientMachine.ts';
import type { DriverName, HousekeepingTimer } from '../machines/blockNodeMachine.ts';
import type { Era } from '../machines/transactionMachine.ts';

export interface ContextSpec {
  name: string;
  /** The thread whose loop polls this context; IOThreads default to their own name. */
  thread?: string;
}

export interface NodeSpec {
  name: string;
  driver: DriverName;
  ctx: string;
  file?: string;
  backing?: string;
  /** bdrv_is_inserted (default true). */
  medium?: boolean;
  readOnly?: boolean;
  /** Internal snapshots the image already has. */
  snapshots?: readonly string[];
  /** Driver timers that do no block I/O: qcow2 cache clean, iscsi NOP and event timers, curl's multi timer. */
  timers?: readonly HousekeepingTimer[];
}

/** One action of a QMP transaction, as QMP names it. */
export type ActionSpec =
  /** `overlay` names a node of the topology (with its file) that becomes the new active layer. */
  | { type: 'blockdev-snapshot-sync'; device: string; overlay: string }
  | { type: 'blockdev-snapshot-internal-sync'; device: string; name: string }
  | { type: 'drive-backup'; device: string; target: string }
  | { type: 'blockdev-backup'; device: string; target: string }
  | { type: 'abort' };

export interface TransactionSpec {
  name: string;
  actions: readonly ActionSpec[];
}

export interface ClientSpec {
  name: string;
  kind: ClientKind;
  node: string;
  /**
   * virtio-scsi only: the SCSI bus (the virtio-scsi HBA) the disk (a scsi-hd device) sits on.
   * Clients naming the same bus are the disks of one HBA; in the now era they share its drain
   * counter (scsi_device_drained_begin/end, `bus:NAME`). Absent: an HBA of its own, as before.
   */
  bus?: string;
  /** Requests in program order; a `when` names its transaction by its topology name. */
  workload: readonly (Omit<WorkloadRequest, 'when'> & { when?: TriggerSpec })[];
}

/** A condition a scripted step or a request waits for; `txn` names a transaction of the topology. */
export type TriggerSpec = { completed: string } | { txn: string; phase: 'prepare' | 'commit' | 'abort' | 'clean'; index?: number };

type Timing = { at?: number; when?: TriggerSpec };

export type ScriptCommand = Timing &
  (
    /**
     * coroutine: the caller is a coroutine (a coroutine QMP command, as block_resize is): in the
     * now era bdrv_drained_begin/end bounce to a BH in the main loop (bdrv_co_yield_to_drain).
     */
    | { do: 'drained_begin' | 'drained_end'; node: string; coroutine?: boolean }
    | { do: 'drain'; node: string }
    | { do: 'drain_all' }
    /** now: bdrv_drain_all_begin / bdrv_drain_all_end, a section over every node (2015 had only the one-shot bdrv_drain_all). */
    | { do: 'drain_all_begin' | 'drain_all_end' }
    | { do: 'poll'; ctx: string; blocking?: boolean }
    | { do: 'stop' | 'cont' }
    | { do: 'transaction'; txn: string }
  );

/** The series' protections (patch numbers of seed/cover-letter.txt). All on by default. */
export interface Protections {
  /** Patches 1, 2, 5: aio_poll skips external handlers while the context's disable counter is non-zero. */
  externalGating: boolean;
  /** Patch 3: the NBD server registers its sockets as external. */
  nbdExternal: boolean;
  /** Patch 4: virtio-blk / virtio-scsi dataplane register their host notifiers as external. */
  dataplaneExternal: boolean;
  /** Patches 6-10: the transaction actions take a drained section from prepare to clean. */
  transactionDrains: boolean;
  /** Patches 11-12: BlockDriver.bdrv_drain, implemented by qed (flush its need-check timer work now). */
  qedDrainHook: boolean;
  /** now era: a drained BlockBackend queues the requests that reach it (blk_wait_while_drained); off: blk_set_disable_request_queuing. */
  blockBackendQueuing: boolean;
  /** now era: virtio-blk, virtio-scsi and the NBD export implement BlockDevOps drained_begin/end; off: a device that forgets them keeps its handler attached. */
  deviceDrainedCallbacks: boolean;
}

export const allProtections: Protections = {
  externalGating: true,
  nbdExternal: true,
  dataplaneExternal: true,
  transactionDrains: true,
  qedDrainHook: true,
  blockBackendQueuing: true,
  deviceDrainedCallbacks: true,
};

/**
 * `handler-list`: aio_dispatch walks ctx->aio_handlers, newest registration first, and
 * aio_bh_poll walks ctx->first_bh, newest BH created first (QEMU 2015 to 4.2). `readiness`
 * (QEMU 5.0 on): the fdmon hands back the handlers in the order they became ready and
 * aio_add_ready_handler puts each at the head of the ready list, so aio_dispatch_ready_handlers
 * runs the newest ready first (with the io_uring fdmon, or epoll once it is in use); and
 * aio_bh_enqueue puts a BH at the head of ctx->bh_list when it is scheduled, so aio_bh_poll runs
 * the newest scheduled first. Only `readiness` makes identical clients and node trees
 * interchangeable, which symmetry reduction needs.
 */
export type DispatchOrder = 'handler-list' | 'readiness';

export interface Topology {
  contexts: readonly ContextSpec[];
  nodes: readonly NodeSpec[];
  clients: readonly ClientSpec[];
  script?: readonly ScriptCommand[];
  transactions?: readonly TransactionSpec[];
  /** `2015` (FIFO commit/abort/clean) or `now` (LIFO); default 2015. */
  era?: Era;
  /**
   * The order in which one poll dispatches the handlers it found ready (a (U) choice, see
   * `DispatchOrder`); default `handler-list`, QEMU 2015's.
   */
  dispatchOrder?: DispatchOrder;
  protections?: Partial<Protections>;
  /** Chunks a backup job copies (default 2). */
  backupChunks?: number;
  /** Minimum host service time per kind of request, ns (default 0: only the order is chosen). */
  hostLatency?: { read?: number; write?: number; flush?: number };
}

export const ctxActor = (name: string) => `ctx:${name}`;
export const loopActor = (name: string) => `loop:${name}`;
export const nodeActor = (name: string) => `node:${name}`;
export const clientActor = (name: string) => `client:${name}`;
/** A virtio-scsi HBA's SCSI bus (hw/scsi/scsi-bus.c), shared by the disks that name it. */
export const scsiBusActor = (name: string) => `bus:${name}`;
export const txnActor = (name: string) => `txn:${name}`;
export const actionActor = (txn: string, index: number) => `txn:${txn}/action:${index}`;
export const jobActor = (txn: string, index: number) => `job:${txn}/${index}`;
export const HOST_ACTOR = 'host:storage';
export const MONITOR_ACTOR = 'monitor:qmp';
export const MAIN_CONTEXT = 'main';
