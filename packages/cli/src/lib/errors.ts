/** An expected failure: main prints its one-line message (what is wrong, what to do) and exits 1. */
export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliError';
  }
}
