/**
 * Builds the actors of a topology: a context and its home loop per AioContext (the main context
 * always exists), a block node per node, an external client per client, a SCSI bus per
 * virtio-scsi HBA the clients name, host storage, and the QMP monitor on the main thread.
 */
import { aioContextMachine } from '../machines/aioContextMachine.ts';
import { blockNodeMachine } from '../machines/blockNodeMachine.ts';
import { eventLoopMachine } from '../machines/eventLoopMachine.ts';
import { externalClientMachine, externalClientOffers, type ExternalClientContext } from '../machines/externalClientMachine.ts';
import { hostStorageMachine, hostStorageOffers, type HostStorageContext } from '../machines/hostStorageMachine.ts';
import { scsiBusMachine } from '../machines/scsiBusMachine.ts';
import { monitorMachine, monitorOffers, type MonitorCommand, type MonitorContext } from '../machines/monitorMachine.ts';
import type { Trigger } from '../machines/effects.ts';
import type { TransactionActionContext } from '../machines/transactionActionMachine.ts';
import type { WorldView } from '../runtime/engine/Engine.ts';
import { backupJobMachine } from '../machines/backupJobMachine.ts';
import { transactionActionMachine, type TransactionActionInput } from '../machines/transactionActionMachine.ts';
import { transactionMachine } from '../machines/transactionMachine.ts';
import type { ActorSpec } from '../runtime/engine/Engine.ts';
import { ScenarioError } from '../runtime/errors.ts';
import {
  type TriggerSpec,
  actionActor,
  allProtections,
  clientActor,
  jobActor,
  txnActor,
  type Protections,
  type TransactionSpec,
  ctxActor,
  HOST_ACTOR,
  loopActor,
  MAIN_CONTEXT,
  MONITOR_ACTOR,
  nodeActor,
  scsiBusActor,
  type ScriptCommand,
  type Topology,
} from './topology.ts';

export function createActorSpecs(topology: Topology): ActorSpec[] {
  const protections = { ...allProtections, ...topology.protections };
  const contexts = topology.contexts.some((c) => c.name === MAIN_CONTEXT)
    ? topology.contexts
    : [{ name: MAIN_CONTEXT }, ...topology.contexts];
  const nodeCtx = new Map(topology.nodes.map((n) => [n.name, n.ctx]));
  const specs: ActorSpec[] = [];

  for (const ctx of contexts) {
    specs.push({
      name: ctxActor(ctx.name),
      kind: 'aio-context',
      logic: aioContextMachine,
      input: { name: ctxActor(ctx.name), externalGating: protections.externalGating, dispatchOrder: topology.dispatchOrder ?? 'handler-list' },
    });
  }
  for (const ctx of contexts) {
    specs.push({
      name: loopActor(ctx.name),
      kind: 'event-loop',
      logic: eventLoopMachine,
      input: { name: loopActor(ctx.name), ctx: ctxActor(ctx.name), thread: ctx.thread ?? ctx.name },
    });
  }
  const era = topology.era ?? '2015';
  // Overlays of external snapshots: their backing link is made by bdrv_append, not at start-up.
  const appendedLater = new Set(
    (topology.transactions ?? []).flatMap((t) => t.actions.flatMap((a) => (a.type === 'blockdev-snapshot-sync' ? [`${a.overlay}\u0000${a.device}`] : []))),
  );
  for (const node of topology.nodes) {
    const parents = topology.nodes.filter((p) => p.file === node.name || p.backing === node.name).map((p) => nodeActor(p.name));
    // now: the parents with drained callbacks when QEMU starts: the devices' BlockBackends and the nodes above.
    const parentLinks = [
      ...topology.clients.filter((c) => c.node === node.name).map((c) => clientActor(c.name)),
      ...topology.nodes.filter((p) => p.file === node.name || (p.backing === node.name && !appendedLater.has(`${p.name}\u0000${node.name}`))).map((p) => nodeActor(p.name)),
    ];
    const children: Record<string, string> = {};
    if (node.file) children.file = nodeActor(node.file);
    if (node.backing) children.backing = nodeActor(node.backing);
    specs.push({
      name: nodeActor(node.name),
      kind: 'block-node',
      logic: blockNodeMachine,
      input: {
        name: nodeActor(node.name),
        driver: node.driver,
        ctx: ctxActor(node.ctx),
        children,
        parents,
        host: HOST_ACTOR,
        drainHook: protections.qedDrainHook,
        timers: node.timers ?? [],
        ...(era === 'now' ? { era, parentLinks } : {}),
      },
    });
  }
  // Which client issues each request, so a dependency is checked where it completes.
  const requestOwner = new Map<string, { client: string; index: number }>();
  for (const client of topology.clients) {
    client.workload.forEach((r, index) => requestOwner.set(r.id, { client: clientActor(client.name), index }));
  }
  const isCompleted = (view: WorldView, id: string) => {
    const owner = requestOwner.get(id);
    return owner !== undefined && (view.snapshot(owner.client).context as ExternalClientContext).progress[owner.index] === 'c';
  };
  const actionsOf = new Map((topology.transactions ?? []).map((t) => [txnActor(t.name), t.actions.map((_, i) => actionActor(t.name, i))]));
  /** Whether a trigger holds in the world: a request completed, or an action entered a phase. */
  const holds = (view: WorldView, trigger: Trigger): boolean => {
    if ('completed' in trigger) return isCompleted(view, trigger.completed);
    const actions = actionsOf.get(trigger.txn) ?? [];
    return actions.some((action, i) => {
      if (trigger.index !== undefined && trigger.index !== i) return false;
      const ctx = view.snapshot(action).context as TransactionActionContext;
      return ctx.phase === trigger.phase || ctx.history.some((h) => h.startsWith(`${trigger.phase}:`));
    });
  };
  /** The actors `isCompleted` and `holds` look at for a request id or a trigger (the offers' declared reads). */
  const completedReads = (id: string): string[] => {
    const owner = requestOwner.get(id);
    return owner ? [owner.client] : [];
  };
  const triggerReads = (trigger: Trigger): string[] =>
    'completed' in trigger ? completedReads(trigger.completed) : (actionsOf.get(trigger.txn) ?? []).filter((_, i) => trigger.index === undefined || trigger.index === i);
  for (const client of topology.clients) {
    const ctx = nodeCtx.get(client.node);
    if (ctx === undefined) throw new ScenarioError(`client '${client.name}': no node named '${client.node}'`);
    specs.push({
      name: clientActor(client.name),
      kind: 'external-client',
      logic: externalClientMachine,
      input: {
        name: clientActor(client.name),
        kind: client.kind,
        node: nodeActor(client.node),
        ctx: ctxActor(ctx),
        external: client.kind === 'nbd' ? protections.nbdExternal : protections.dataplaneExternal,
        // blk_exp_add: an export's BlockBackend never queues (blk_set_disable_request_queuing); the
        // NBD export quiesces through its drained callbacks alone.
        ...(era === 'now' ? { era, drainedCallbacks: protections.deviceDrainedCallbacks, queuing: protections.blockBackendQueuing && client.kind !== 'nbd' } : {}),
        // now: a virtio-scsi disk's drained callbacks go through its HBA's bus (scsi_device_drained_begin/end).
        ...(era === 'now' && client.bus !== undefined ? { bus: scsiBusActor(client.bus) } : {}),
        workload: client.workload.map((r) => (r.when ? { ...r, when: toTrigger(r.when) } : r)),
      },
      offerReads: unique(client.workload.flatMap((r) => [...(r.after ?? []).flatMap(completedReads), ...(r.when ? triggerReads(toTrigger(r.when)) : [])])),
      offers: (snapshot, view) =>
        externalClientOffers(
          snapshot.context as ExternalClientContext,
          (id) => isCompleted(view, id),
          (trigger) => holds(view, trigger),
        ),
    });
  }
  // One SCSI bus per virtio-scsi HBA the clients name, with its disks (in both eras; only the now era calls it).
  const buses = unique(topology.clients.flatMap((c) => (c.bus !== undefined ? [c.bus] : [])));
  for (const bus of buses) {
    const disks = topology.clients.filter((c) => c.bus === bus);
    const notScsi = disks.find((c) => c.kind !== 'virtio-scsi');
    if (notScsi) throw new ScenarioError(`client '${notScsi.name}': only a virtio-scsi disk sits on a SCSI bus ('${bus}'); it is ${notScsi.kind}`);
    const contextsOfBus = unique(disks.map((c) => nodeCtx.get(c.node)));
    if (contextsOfBus.length > 1) throw new ScenarioError(`bus '${bus}': its disks are on nodes of contexts ${contextsOfBus.join(' and ')}; the disks of one virtio-scsi HBA share its IOThread`);
    specs.push({
      name: scsiBusActor(bus),
      kind: 'scsi-bus',
      logic: scsiBusMachine,
      input: { name: scsiBusActor(bus), disks: disks.map((c) => clientActor(c.name)), era },
    });
  }
  for (const txn of topology.transactions ?? []) specs.push(...transactionSpecs(txn, topology, protections));
  specs.push({
    name: HOST_ACTOR,
    kind: 'host-storage',
    logic: hostStorageMachine,
    input: { name: HOST_ACTOR, latency: topology.hostLatency ?? {} },
    offers: (snapshot) => hostStorageOffers(snapshot.context as HostStorageContext),
  });
  specs.push({
    name: MONITOR_ACTOR,
    kind: 'monitor',
    logic: monitorMachine,
    input: { name: MONITOR_ACTOR, mainCtx: ctxActor(MAIN_CONTEXT), script: (topology.script ?? []).map((c) => toMonitorCommand(c, topology)) },
    offerReads: unique((topology.script ?? []).flatMap((c) => (c.when ? triggerReads(toTrigger(c.when)) : []))),
    offers: (snapshot, view) => monitorOffers(snapshot.context as MonitorContext, (trigger) => holds(view, trigger)),
  });
  return specs;
}

/** The coordinator, one actor per action, and a backup job per backup action. */
function transactionSpecs(txn: TransactionSpec, topology: Topology, protections: Protections): ActorSpec[] {
  const specs: ActorSpec[] = [];
  const nodes = new Map(topology.nodes.map((n) => [n.name, n]));
  const allNodes = topology.nodes.map((n) => ({ node: nodeActor(n.name), ctx: ctxActor(n.ctx) }));
  const namesTaken = new Map<string, Set<string>>();
  const actions = txn.actions.map((action, index): TransactionActionInput => {
    const name = actionActor(txn.name, index);
    const device = action.type === 'abort' ? '' : action.device;
    const spec = nodes.get(device);
    const base: TransactionActionInput = {
      name,
      index,
      kind: action.type,
      device,
      node: spec ? nodeActor(spec.name) : null,
      ctx: spec ? ctxActor(spec.ctx) : null,
      hasMedium: spec?.medium ?? true,
      readOnly: spec?.readOnly ?? false,
      clients: Object.fromEntries(topology.clients.filter((c) => c.node === device).map((c) => [clientActor(c.name), true])),
      allNodes,
      drains: protections.transactionDrains,
      era: topology.era ?? '2015',
    };
    switch (action.type) {
      case 'blockdev-snapshot-sync': {
        const overlay = nodes.get(action.overlay);
        const file = overlay?.file ? nodes.get(overlay.file) : overlay;
        return {
          ...base,
          overlay: {
            node: nodeActor(action.overlay),
            file: file ? nodeActor(file.name) : nodeActor(action.overlay),
            fileCtx: ctxActor(file?.ctx ?? overlay?.ctx ?? MAIN_CONTEXT),
            path: action.overlay,
            creatable: overlay !== undefined,
          },
        };
      }
      case 'blockdev-snapshot-internal-sync': {
        const taken = namesTaken.get(device) ?? new Set(spec?.snapshots ?? []);
        const nameTaken = taken.has(action.name);
        taken.add(action.name);
        namesTaken.set(device, taken);
        return { ...base, snapshotName: action.name, nameTaken, supportsSnapshots: spec?.driver === 'qcow2' };
      }
      case 'drive-backup':
      case 'blockdev-backup': {
        const target = nodes.get(action.target);
        if (action.type === 'drive-backup' && target && spec && target.ctx !== spec.ctx) {
          throw new ScenarioError(`transaction '${txn.name}' action ${index}: drive-backup target '${action.target}' must live in '${spec.ctx}', the context of '${device}' (the model does not move nodes between contexts)`);
        }
        const job = jobActor(txn.name, index);
        if (spec && target) {
          specs.push({
            name: job,
            kind: 'block-job',
            logic: backupJobMachine,
            input: { name: job, source: nodeActor(spec.name), target: nodeActor(target.name), ctx: ctxActor(spec.ctx), chunks: topology.backupChunks ?? 2, era: topology.era ?? '2015' },
          });
        }
        return {
          ...base,
          job,
          target: {
            name: action.target,
            node: target ? nodeActor(target.name) : null,
            ctx: target ? ctxActor(target.ctx) : null,
            fileNode: target?.file ? nodeActor(target.file) : null,
          },
        };
      }
      case 'abort':
        return base;
    }
  });
  specs.push({
    name: txnActor(txn.name),
    kind: 'transaction',
    logic: transactionMachine,
    input: { name: txnActor(txn.name), actions: actions.map((a) => a.name), era: topology.era ?? '2015', allNodes },
  });
  for (const input of actions) specs.push({ name: input.name, kind: 'transaction-action', logic: transactionActionMachine, input });
  return specs;
}

function toTrigger(when: TriggerSpec): Trigger {
  return 'completed' in when ? when : { ...when, txn: txnActor(when.txn) };
}

function toMonitorCommand(cmd: ScriptCommand, topology: Topology): MonitorCommand {
  const timing = { at: cmd.at, ...(cmd.when ? { when: toTrigger(cmd.when) } : {}) };
  return { ...toMonitorAction(cmd, topology), ...timing } as MonitorCommand;
}

function toMonitorAction(cmd: ScriptCommand, topology: Topology): MonitorCommand {
  const ctxOf = (node: string) => {
    const spec = topology.nodes.find((n) => n.name === node);
    if (!spec) throw new ScenarioError(`script: no node named '${node}'`);
    return ctxActor(spec.ctx);
  };
  switch (cmd.do) {
    case 'drain_all_begin':
    case 'drain_all_end':
      return { do: cmd.do, at: cmd.at, nodes: topology.nodes.map((n) => ({ node: nodeActor(n.name), ctx: ctxActor(n.ctx) })), ...(topology.era === 'now' ? { era: 'now' as const } : {}) };
    case 'drain_all':
      return { do: 'drain_all', at: cmd.at, nodes: topology.nodes.map((n) => ({ node: nodeActor(n.name), ctx: ctxActor(n.ctx) })), ...(topology.era === 'now' ? { era: 'now' as const } : {}) };
    case 'poll':
      return { do: 'poll', ctx: ctxActor(cmd.ctx), blocking: cmd.blocking ?? false, at: cmd.at };
    case 'stop':
    case 'cont':
      return { do: cmd.do, at: cmd.at };
    case 'transaction':
      if (!(topology.transactions ?? []).some((t) => t.name === cmd.txn)) throw new ScenarioError(`script: no transaction named '${cmd.txn}'`);
      return { do: 'transaction', txn: txnActor(cmd.txn), at: cmd.at };
    default: {
      // A coroutine caller bounces only in the now era: 2015's drain had no coroutine variant (bdrv_co_drain came in 2016).
      const bounces = cmd.do !== 'drain' && cmd.coroutine === true && topology.era === 'now';
      return { do: cmd.do, node: nodeActor(cmd.node), ctx: ctxOf(cmd.node), at: cmd.at, ...(bounces ? { coroutine: true } : {}) };
    }
  }
}

function unique<T>(items: readonly T[]): T[] {
  return [...new Set(items)];
}
