/** The `sightline` command: runs the command line (cli.ts) and turns errors into clear messages and exit codes. */
import { reportError, runCli } from './cli.ts';

const argv = process.argv.slice(2);
runCli(argv).then(
  (code) => {
    process.exitCode = code;
    // Anything still holding the event loop after a command finished is a leak; do not hang on it.
    setTimeout(() => process.exit(code), 3000).unref();
  },
  (err: unknown) => {
    const { text, code } = reportError(err, argv);
    process.stderr.write(text);
    process.exitCode = code;
    // As on success: a handle a failed command left open must not keep the process alive.
    setTimeout(() => process.exit(code), 3000).unref();
  },
);
