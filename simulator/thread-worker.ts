import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import type { InjectedFault, SimulatorOptions } from './operations';
import { type PushMode, startSimulator } from './server';
import type { SimulatorCall } from './thread';

/** The simulator thread (simulator/thread.ts): starts one simulator and answers the host's calls on it. */
const { options, port, answered } = workerData as {
  options: SimulatorOptions;
  port: MessagePort;
  answered: Int32Array;
};
const simulator = await startSimulator(options);

port.on('message', async ({ method, arg }: { method: SimulatorCall; arg?: unknown }) => {
  let reply: { value?: unknown; error?: string };
  try {
    reply = { value: await answer(method, arg) };
  } catch (error) {
    reply = { error: error instanceof Error ? error.message : String(error) };
  }
  port.postMessage(reply);
  Atomics.store(answered, 0, 1);
  Atomics.notify(answered, 0);
});

function answer(method: SimulatorCall, arg: unknown): unknown {
  switch (method) {
    case 'stats':
      return simulator.stats;
    case 'requests':
      return simulator.requests;
    case 'callbacks':
      return simulator.callbacks;
    case 'pushes':
      return simulator.pushes;
    case 'setPushes':
      simulator.pushes = arg as PushMode;
      return undefined;
    case 'injectFault':
      return simulator.injectFault(arg as InjectedFault);
    case 'generations':
      return simulator.generations();
    case 'down':
      return simulator.down();
    case 'up':
      return simulator.up();
    case 'isDown':
      return simulator.isDown;
    case 'stop':
      return simulator.stop();
  }
}

parentPort?.postMessage({ url: simulator.url });
