/* Machines: pure statechart values, one per file. */
export { aioContextMachine, type AioContextContext, type AioContextEvent } from './aioContextMachine.ts';
export { blockNodeMachine, type BlockNodeContext, type BlockNodeEvent, type DriverName } from './blockNodeMachine.ts';
export { externalClientMachine, type ExternalClientContext, type ClientKind, type WorkloadRequest } from './externalClientMachine.ts';
export { scsiBusMachine, type ScsiBusContext } from './scsiBusMachine.ts';
export { hostStorageMachine, type HostStorageContext } from './hostStorageMachine.ts';
export { eventLoopMachine } from './eventLoopMachine.ts';
export { monitorMachine, type MonitorCommand, type MonitorContext } from './monitorMachine.ts';
export { transactionMachine, type Era } from './transactionMachine.ts';
export { transactionActionMachine, type ActionKind } from './transactionActionMachine.ts';
export { backupJobMachine } from './backupJobMachine.ts';
export { callbackProbeMachine } from './callbackProbeMachine.ts';

/* The effect and observation vocabulary */
export type { ActorName, AnyEvent, Effect, Observation, RequestOrigin, Trigger } from './effects.ts';
