/** SIGINT / SIGTERM for commands that drain before they exit: the first stops cleanly, another Ctrl-C exits at once. */

/**
 * A SIGINT this soon after the one before is the same Ctrl-C: a terminal signals the whole foreground process
 * group, and bin/sightline.js forwards the signal it gets as well, so one key press arrives twice.
 */
export const SAME_CTRL_C_MS = 250;

export interface StopSignalsOptions {
  /** Where the two notices go. Default process.stderr. */
  out?: { write(text: string): unknown };
  /** Ends the process at a second Ctrl-C. Default: die of SIGINT (exit status 130), without waiting for anything. */
  exitNow?: () => void;
  /** Clock in ms. Default performance.now. */
  now?: () => number;
  /** Where the signals are listened to. Default process. */
  signals?: Pick<NodeJS.EventEmitter, 'on' | 'off'>;
}

export interface StopSignals {
  /** Resolves at the first SIGINT or SIGTERM with why: 'interrupted' or 'terminated'. */
  readonly requested: Promise<string>;
  /** Remove the handlers (SIGINT and SIGTERM get their default action back). */
  dispose(): void;
}

/**
 * Install the handlers. The first SIGINT or SIGTERM resolves `requested` and prints that the command is stopping;
 * from then on a further SIGTERM changes nothing (a supervisor may signal the process group and the wrapper both),
 * while a further Ctrl-C (SIGINT, at least SAME_CTRL_C_MS after the last) prints one line and ends the process at once.
 */
export function handleStopSignals(options: StopSignalsOptions = {}): StopSignals {
  const out = options.out ?? process.stderr;
  const exitNow = options.exitNow ?? dieOfSigint;
  const now = options.now ?? (() => performance.now());
  const signals = options.signals ?? process;
  let resolve!: (why: string) => void;
  const requested = new Promise<string>((r) => {
    resolve = r;
  });
  let stopping = false;
  let lastSigint = Number.NEGATIVE_INFINITY;
  const onSignal = (signal: 'SIGINT' | 'SIGTERM') => {
    const at = now();
    const repeat = signal === 'SIGINT' && at - lastSigint < SAME_CTRL_C_MS;
    if (signal === 'SIGINT') lastSigint = at;
    if (!stopping) {
      stopping = true;
      out.write('sightline: stopping; finishing the frames in flight (Ctrl-C again to quit at once)\n');
      resolve(signal === 'SIGINT' ? 'interrupted' : 'terminated');
      return;
    }
    if (signal !== 'SIGINT' || repeat) return;
    out.write('sightline: interrupted again; quitting now without finishing the shutdown\n');
    exitNow();
  };
  const onSigint = () => onSignal('SIGINT');
  const onSigterm = () => onSignal('SIGTERM');
  signals.on('SIGINT', onSigint);
  signals.on('SIGTERM', onSigterm);
  return {
    requested,
    dispose() {
      signals.off('SIGINT', onSigint);
      signals.off('SIGTERM', onSigterm);
    },
  };
}

/**
 * Die of SIGINT, as a program interrupted by Ctrl-C should (shells and bin/sightline.js report exit status 130).
 * process.exit() is not enough: it waits for the libuv thread pool, where a write stuck on a hung disk or pipe
 * would hold it for good.
 */
function dieOfSigint(): void {
  process.removeAllListeners('SIGINT');
  process.kill(process.pid, 'SIGINT');
  setTimeout(() => process.exit(130), 1000); // only if something keeps SIGINT from ending the process
}
