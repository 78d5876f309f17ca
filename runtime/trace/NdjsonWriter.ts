/**
 * Streams trace events to a file, one JSON object a line, as they are produced: memory stays
 * flat however long the run. Writes are synchronous and batched, so the file is complete when
 * `close()` returns and the bytes do not depend on timing.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { ScenarioError } from '../errors.ts';
import type { TraceEvent } from './TraceEvent.ts';
import type { TraceLine } from './TraceFile.ts';

const FLUSH_AT = 1 << 16;

export class NdjsonWriter {
  private readonly fd: number;
  private buffer = '';
  lines = 0;

  constructor(readonly path: string) {
    this.fd = openForWriting(path, 'trace');
  }

  /** A trace sink: `simulate(t, { sinks: [writer.write] })`. */
  readonly write = (event: TraceLine): void => {
    this.buffer += JSON.stringify(event) + '\n';
    this.lines++;
    if (this.buffer.length >= FLUSH_AT) this.flush();
  };

  flush(): void {
    if (this.buffer.length === 0) return;
    writeSync(this.fd, this.buffer);
    this.buffer = '';
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}

/** Serializes a whole trace to NDJSON text (tests and small traces). */
export function toNdjson(events: readonly TraceEvent[]): string {
  let text = '';
  for (const e of events) text += JSON.stringify(e) + '\n';
  return text;
}

/** Opens a file the user named for writing; a path that cannot be written is their input's problem, said before any work starts. */
export function openForWriting(path: string, what: string): number {
  try {
    return openSync(path, 'w');
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    const reason = e.code === 'ENOENT' ? 'no such folder' : e.code === 'EISDIR' ? 'it is a folder' : e.code === 'EACCES' || e.code === 'EPERM' ? 'permission denied' : e.code === 'EROFS' ? 'read-only file system' : (e.code ?? e.message);
    throw new ScenarioError(`cannot write ${what} ${path}: ${reason}`);
  }
}
