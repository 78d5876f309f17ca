import { resolveScenario } from './runtime/cli/scenarioCommands.ts';
import { createActorSpecs } from './actors/createSystem.ts';
import { Engine } from './runtime/engine/Engine.ts';
const sc = resolveScenario(process.argv[2]);
const engine = new Engine(createActorSpecs(sc.topology), { memoize: true });
const seen = new Set<string>();
let frontier = [engine.initial];
seen.add(engine.hash(engine.initial, true));
for (let d = 0; d < Number(process.argv[3] ?? 40) && frontier.length; d++) {
  const next = [];
  const kinds: Record<string, number> = {};
  for (const w of frontier) {
    const en = engine.enabledSteps(w);
    for (const st of en) {
      const k = st.kind === 'advance' ? 'advance' : `${st.kind}:${st.actor}`;
      kinds[k] = (kinds[k] ?? 0) + 1;
      const n = engine.apply(w, st);
      const h = engine.hash(n, true);
      if (!seen.has(h)) { seen.add(h); next.push(n); }
    }
  }
  console.log(d, frontier.length, JSON.stringify(kinds));
  frontier = next;
}
