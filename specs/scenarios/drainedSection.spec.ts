import { describe, expect, it } from 'vitest';
import type { Protections } from '../../actors/topology.ts';
import type { ClientKind } from '../../machines/externalClientMachine.ts';
import { libraryTopology, withClientKind } from '../helpers/library.ts';

const guestWritesDuringDrainedSection = (protections: Partial<Protections> = {}, kind: ClientKind = 'virtio-blk') =>
  withClientKind(libraryTopology('drained-section-dataplane', protections), kind);
import { simulate } from '../../runtime/simulate.ts';

const violated = (protections: Partial<Protections>, kind: ClientKind, seed = 0, strategy: 'fifo' | 'random' = 'fifo') => {
  const result = simulate(guestWritesDuringDrainedSection(protections, kind), { seed, strategy });
  expect(result.unfinished).toEqual([]);
  return [...new Set(result.violations.map((v) => v.invariant))].sort();
};

describe('scenario: a guest writes while its node is drained', () => {
  it.each(['virtio-blk', 'virtio-scsi', 'nbd'] as const)('should hold every invariant with the series for a %s client', (kind) => {
    expect(violated({}, kind)).toEqual([]);
  });

  it('should hold every invariant with the series on 100 random interleavings', () => {
    const broken: string[] = [];
    for (let seed = 0; seed < 100; seed++) {
      const found = violated({}, 'virtio-blk', seed, 'random');
      if (found.length) broken.push(`seed ${seed}: ${found.join(', ')}`);
    }
    expect(broken).toEqual([]);
  });

  it('should break I1, I5 and I7 with external gating switched off (patches 1, 2, 5)', () => {
    expect(violated({ externalGating: false }, 'virtio-blk')).toEqual(['I1', 'I5', 'I7']);
  });

  it('should break I5 but not I1 when dataplane registers its notifier as internal (patch 4)', () => {
    expect(violated({ dataplaneExternal: false }, 'virtio-blk')).toEqual(['I5']);
    expect(violated({ dataplaneExternal: false }, 'virtio-scsi')).toEqual(['I5']);
  });

  it('should break I5 when the NBD server registers its socket as internal (patch 3)', () => {
    expect(violated({ nbdExternal: false }, 'nbd')).toEqual(['I5']);
  });

  it('should leave an NBD client protected when only the dataplane flag is off', () => {
    expect(violated({ dataplaneExternal: false }, 'nbd')).toEqual([]);
  });

  it('should admit W2 only after the section ends with the series, and inside it without gating', () => {
    const admittedAt = (protections: Partial<Protections>) => {
      const result = simulate(guestWritesDuringDrainedSection(protections), { collectTrace: true });
      const submit = result.trace!.find((e) => e.type === '@trace.io.submit' && e.id === 'W2' && e.node === 'node:drive0')!;
      return submit.time / 1e6;
    };
    expect(admittedAt({})).toBe(3);
    expect(admittedAt({ externalGating: false })).toBe(2);
  });
});
