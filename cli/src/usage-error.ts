/** A command line the CLI cannot act on (missing or contradictory arguments): exit code 2 and a pointer to the help. */
export class UsageError extends Error {
  /** The command whose help explains the right usage, e.g. "edge". */
  readonly command: string | undefined;
  constructor(message: string, command?: string) {
    super(message);
    this.name = 'UsageError';
    this.command = command;
  }
}
