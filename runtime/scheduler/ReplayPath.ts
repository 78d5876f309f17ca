/**
 * A choice path: the index picked at every step where more than one step was enabled.
 * Written as dot-separated tokens, a run of equal choices folded as `index*count`:
 * `0*12.3.0*4.1` means twelve 0s, a 3, four 0s, a 1.
 */
import { ScenarioError } from '../errors.ts';

export function encodeReplayPath(choices: readonly number[]): string {
  const tokens: string[] = [];
  let i = 0;
  while (i < choices.length) {
    let j = i;
    while (j < choices.length && choices[j] === choices[i]) j++;
    const count = j - i;
    tokens.push(count === 1 ? `${choices[i]}` : `${choices[i]}*${count}`);
    i = j;
  }
  return tokens.join('.');
}

export function decodeReplayPath(path: string, where = 'replay path'): number[] {
  const trimmed = path.trim();
  if (trimmed === '') return [];
  const choices: number[] = [];
  for (const [position, token] of trimmed.split('.').entries()) {
    const match = /^(\d+)(?:\*(\d+))?$/.exec(token);
    if (!match) {
      throw new ScenarioError(
        `${where}: token ${position + 1} '${token}' is not a choice; expected INDEX or INDEX*COUNT, e.g. 0*12.3.1`,
      );
    }
    const count = match[2] === undefined ? 1 : Number(match[2]);
    if (count < 1) throw new ScenarioError(`${where}: token ${position + 1} '${token}' repeats a choice 0 times`);
    for (let k = 0; k < count; k++) choices.push(Number(match[1]));
  }
  return choices;
}
