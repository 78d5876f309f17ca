/* Actors: topologies, the actors they make, and the I/O streams between them. */
export { createActorSpecs } from './createSystem.ts';
export { ioStreams, IoLedger, type IoMessage } from './ioStreams.ts';
export { allProtections, type Protections, type Topology, type ScriptCommand, type ActionSpec } from './topology.ts';
