import { describe, expect, it } from 'vitest';
import { createActorSpecs } from '../../../actors/createSystem.ts';
import { Engine } from '../../../runtime/engine/Engine.ts';
import { keepOn, keptOn } from '../../../runtime/engine/partCache.ts';
import { libraryTopology } from '../../helpers/library.ts';

describe('partCache', () => {
  const KEY = Symbol('test');

  it('should find a kept value on the object it was kept on', () => {
    const part = { a: 1 };
    expect(keptOn(part, KEY)).toBeUndefined();
    expect(keepOn(part, KEY, 42)).toBe(42);
    expect(keptOn(part, KEY)).toBe(42);
  });

  it('should not hand a kept value on to copies, nor show it to JSON or Object.keys', () => {
    const part = { a: 1 };
    keepOn(part, KEY, 42);
    const { a: _a, ...rest } = part;
    for (const copy of [{ ...part }, Object.assign({}, part), rest]) expect(keptOn(copy, KEY)).toBeUndefined();
    expect(JSON.stringify(part)).toBe('{"a":1}');
    expect(Object.keys(part)).toEqual(['a']);
  });

  it('should let a world made by spreading a hashed world be hashed afresh (Engine.inject)', () => {
    const engine = new Engine(createActorSpecs(libraryTopology('drained-section-nbd')));
    const world = engine.initial;
    engine.digest(world);
    const injected = engine.inject(world, 'monitor:qmp', { type: 'qmp.poke' });
    const fresh = engine.restore(JSON.parse(JSON.stringify(engine.serialize(injected))));
    expect(engine.digest(injected)).toBe(engine.digest(fresh));
    expect(engine.digest(injected)).not.toBe(engine.digest(world));
  });
});
