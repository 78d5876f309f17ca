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

/**
 * A library scenario's small configuration, for proofs in the test suite: the scenario itself,
 * except that periodic driver timers fire once, a backup copies one chunk, the host has no
 * minimum service time (the explorer then chooses only the order of completions, which allows
 * every order a latency allows, and more), and the reference family keeps its first client
 * with its first write (its full sizes are the benchmark's).
 */
export function smallConfiguration(name: string): Topology {
  const topology = resolveScenario(name).topology;
  const reference = name.startsWith('reference-');
  const { hostLatency: _latency, ...rest } = topology;
  return {
    ...rest,
    backupChunks: 1,
    nodes: topology.nodes.map((n) => (n.timers ? { ...n, timers: n.timers.map((t) => ({ ...t, firings: Math.min(t.firings, 1) })) } : n)),
    clients: reference ? [{ ...topology.clients[0], workload: topology.clients[0].workload.slice(0, 1) }] : topology.clients,
  };
}
