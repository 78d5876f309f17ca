/**
 * The typed description of a system: which contexts, nodes and clients exist, which node lives
 * in which context, which client feeds which node, what the monitor will do, and which of the
 * series' protections are switched on. Names here are short (`iothread0`, `drive0`); actors get
 * stable prefixed names (`ctx:iothread0`, `node:drive0`).
 */
import type { ClientKind, WorkloadRequest } from '../machines/externalClientMachine.ts';
import type { DriverName } from '../machines/blockNodeMachine.ts';

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
}

export interface ClientSpec {
  name: string;
  kind: ClientKind;
  node: string;
  workload: readonly WorkloadRequest[];
}

export type ScriptCommand =
  | { do: 'drained_begin' | 'drained_end' | 'drain'; node: string; at?: number }
  | { do: 'drain_all'; at?: number }
  | { do: 'poll'; ctx: string; blocking?: boolean; at?: number }
  | { do: 'stop' | 'cont'; at?: number };

/** The series' protections (patch numbers of seed/cover-letter.txt). All on by default. */
export interface Protections {
  /** Patches 1, 2, 5: aio_poll skips external handlers while the context's disable counter is non-zero. */
  externalGating: boolean;
  /** Patch 3: the NBD server registers its sockets as external. */
  nbdExternal: boolean;
  /** Patch 4: virtio-blk / virtio-scsi dataplane register their host notifiers as external. */
  dataplaneExternal: boolean;
}

export const allProtections: Protections = { externalGating: true, nbdExternal: true, dataplaneExternal: true };

export interface Topology {
  contexts: readonly ContextSpec[];
  nodes: readonly NodeSpec[];
  clients: readonly ClientSpec[];
  script?: readonly ScriptCommand[];
  protections?: Partial<Protections>;
}

export const ctxActor = (name: string) => `ctx:${name}`;
export const loopActor = (name: string) => `loop:${name}`;
export const nodeActor = (name: string) => `node:${name}`;
export const clientActor = (name: string) => `client:${name}`;
export const HOST_ACTOR = 'host:storage';
export const MONITOR_ACTOR = 'monitor:qmp';
export const MAIN_CONTEXT = 'main';
