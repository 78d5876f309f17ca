/**
 * Two classes of failure (STYLE.md habit 13): a ScenarioError is the user's input (a scenario,
 * a flag, a trace, a replay path) and maps to exit code 2; an InternalError is a bug in drainlab
 * and carries the line that replays it (exit code 3).
 */
export class ScenarioError extends Error {
  override readonly name = 'ScenarioError';
  readonly exitCode = 2;
}

export class InternalError extends Error {
  override readonly name = 'InternalError';
  readonly exitCode = 3;
  constructor(
    message: string,
    readonly replay?: string,
  ) {
    super(message);
  }
}
