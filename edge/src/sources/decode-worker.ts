/** Worker-thread entry: runs blocking node-av sessions off the main thread and posts frames with their pixels transferred. */
import { parentPort, workerData } from 'node:worker_threads';
import { AV_LOG_FATAL } from 'node-av/constants';
import { Log } from 'node-av/lib';
import { releaseHwDevices } from './node-av-hwaccel.ts';
import { NodeAvSession } from './node-av-session.ts';
import type { BackendMessage, WorkerCommand } from './protocol.ts';

const port = parentPort;
if (!port) throw new TypeError('decode-worker.ts must run in a worker thread');
const control = (workerData as { control: Int32Array }).control;
// FFmpeg's own log lines would bypass pino; problems reach the StreamSource as errors instead.
Log.setLevel(AV_LOG_FATAL);

let posted = 0;
const post = (message: BackendMessage, transfer?: ArrayBuffer[]) => port.postMessage(message, transfer ?? []);
/** The session in progress (or queued): its FFmpeg calls block this thread, but it lets the event loop turn between packets. */
let sessions: Promise<void> | undefined;
let closing = false;

/** Let the thread end: free its hardware devices (a CUDA context each) and close the port. */
function finish(): void {
  releaseHwDevices();
  port!.close();
}

port.on('message', (command: WorkerCommand) => {
  if (command.type === 'close') {
    // Nothing else keeps this thread alive, so it exits once the port is closed; a running session (told to
    // stop through the control block) finishes first, so its demuxer and decoder are closed, not abandoned.
    closing = true;
    if (!sessions) finish();
    return;
  }
  const request = command.request;
  const previous = sessions ?? Promise.resolve();
  const current = previous.then(async () => {
    const session = new NodeAvSession(request, control, post, posted);
    await session.run(); // never rejects; 'stop' in the control block ends it early
    posted = session.posted;
  });
  sessions = current;
  void current.then(() => {
    if (sessions !== current) return;
    sessions = undefined;
    if (closing) finish();
  });
});
