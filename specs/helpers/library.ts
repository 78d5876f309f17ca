/** Library scenarios as topologies for specs, with protections switched as a spec needs. */
import type { Protections, Topology } from '../../actors/topology.ts';
import type { ClientKind } from '../../machines/externalClientMachine.ts';
import { resolveScenario } from '../../runtime/cli/scenarioCommands.ts';

export function libraryTopology(name: string, protections: Partial<Protections> = {}): Topology {
  const topology = resolveScenario(name).topology;
  return { ...topology, protections: { ...topology.protections, ...protections } };
}

/** The same topology with every client of another kind (the protections follow the kind). */
export function withClientKind(topology: Topology, kind: ClientKind): Topology {
  return { ...topology, clients: topology.clients.map((c) => ({ ...c, kind })) };
}
