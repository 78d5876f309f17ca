// A worker thread of `drainlab explore --workers N`: loads the TypeScript worker through tsx's
// loader (a worker does not inherit the parent's loader hooks), then runs it.
import { register } from 'tsx/esm/api';

register();
await import('./exploreWorker.ts');
