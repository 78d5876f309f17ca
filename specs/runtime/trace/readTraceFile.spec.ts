import { describe, expect, it } from 'vitest';
import { ScenarioError } from '../../../runtime/errors.ts';
import { parseTraceFile } from '../../../runtime/trace/readTraceFile.ts';

const deliver = (step: number) => JSON.stringify({ step, time: 0, vtime: 0, actor: 'ctx:main', type: '@trace.deliver', event: 'aio.poll', from: 'loop:main', detail: 'aio.poll' });
const meta = JSON.stringify({ type: '@trace.meta', format: 'drainlab.trace/1', scenario: 's', title: 't', seed: 0, strategy: 'fifo', era: '2015', protections: {}, source: 'run' });

function problemOf(text: string): string {
  try {
    parseTraceFile(text, 'bad.ndjson');
  } catch (error) {
    expect(error).toBeInstanceOf(ScenarioError);
    return (error as Error).message;
  }
  throw new Error('no problem reported');
}

describe('parseTraceFile', () => {
  it('should read a trace file back line by line', () => {
    const lines = parseTraceFile([meta, deliver(1), deliver(2), ''].join('\n'), 't.ndjson');
    expect(lines.map((l) => l.type)).toEqual(['@trace.meta', '@trace.deliver', '@trace.deliver']);
  });

  it.each([
    ['bad JSON on line 3', [meta, deliver(1), '{"step": 2,'].join('\n'), /^bad\.ndjson:3: not JSON/],
    ['a line that is not an object', [meta, '[1,2]'].join('\n'), /^bad\.ndjson:2: expected a JSON object \(a trace event\), got an array/],
    ['a line with no type', [meta, '{"step":1}'].join('\n'), /^bad\.ndjson:2: no "type"/],
    ['an unknown type', [meta, '{"type":"@trace.bogus","step":1}'].join('\n'), /^bad\.ndjson:2: unknown event type '@trace\.bogus'/],
    ['an event without its step', [meta, '{"type":"@trace.deliver","time":0,"actor":"ctx:main"}'].join('\n'), /^bad\.ndjson:2: @trace\.deliver: no "step"; expected a number/],
    ['a step that is not whole', [meta, deliver(1.5)].join('\n'), /^bad\.ndjson:2: @trace\.deliver: "step" is 1\.5/],
    ['steps that go back', [meta, deliver(3), deliver(2)].join('\n'), /^bad\.ndjson:3: @trace\.deliver: step 2 comes after step 3/],
    ['an annotation missing a field', '{"type":"@trace.actor","actor":"x"}', /^bad\.ndjson:1: @trace\.actor: no "kind"/],
    ['an empty file', '\n\n', /^bad\.ndjson:1: empty trace file/],
    ['a binary file', 'PK\u0003\u0004\u0000\u0000', /^bad\.ndjson: not a text file \(a NUL byte at offset 4\)/],
  ])('should name the line and the problem for %s', (_case, text, expected) => {
    expect(problemOf(text)).toMatch(expected);
  });

  it('should report every problem, not only the first', () => {
    expect(problemOf([meta, 'x', deliver(1), 'y'].join('\n')).split('\n').map((l) => l.split(':').slice(0, 2).join(':'))).toEqual(['bad.ndjson:2', 'bad.ndjson:4']);
  });

  it('should cut a long list of problems short', () => {
    const lines = problemOf(Array.from({ length: 30 }, () => 'x').join('\n')).split('\n');
    expect(lines).toHaveLength(21);
    expect(lines.at(-1)).toBe('bad.ndjson: ... and 10 more problems');
  });
});
