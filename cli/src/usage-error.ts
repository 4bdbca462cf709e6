import { SightlineError } from '@sightline/shared';

/**
 * A command line the CLI cannot act on (missing or contradictory arguments): code USAGE_INVALID, exit code 2 and a
 * pointer to the help (the CLI prints the message without the code).
 */
export class UsageError extends SightlineError {
  /** The command whose help explains the right usage, e.g. "edge". */
  readonly command: string | undefined;
  constructor(message: string, command?: string) {
    super('USAGE_INVALID', message);
    this.command = command;
  }
}
