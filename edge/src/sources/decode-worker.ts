/** Worker-thread entry: runs blocking node-av sessions off the main thread and posts frames with their pixels transferred. */
import { parentPort, workerData } from 'node:worker_threads';
import { AV_LOG_FATAL } from 'node-av/constants';
import { Log } from 'node-av/lib';
import { NodeAvSession } from './node-av-session.ts';
import type { BackendMessage, WorkerCommand } from './protocol.ts';

const port = parentPort;
if (!port) throw new Error('decode-worker.ts must run in a worker thread');
const control = (workerData as { control: Int32Array }).control;
// FFmpeg's own log lines would bypass pino; problems reach the StreamSource as errors instead.
Log.setLevel(AV_LOG_FATAL);

let posted = 0;
const post = (message: BackendMessage, transfer?: ArrayBuffer[]) => port.postMessage(message, transfer ?? []);

port.on('message', (command: WorkerCommand) => {
  if (command.type === 'close') {
    port.close(); // nothing else keeps this thread alive, so it exits
    return;
  }
  const session = new NodeAvSession(command.request, control, post, posted);
  session.run(); // blocks this thread until the session ends; 'stop' in the control block ends it early
  posted = session.posted;
});
