// `appmesh watch [prefix]`: prints a JSON line for every change under a KV prefix, using the same
// blocking-query watch the agent's controllers use. Handy to see what the cluster writes.
import { watchPrefix } from '../consul/watch.js';
import { withConsul, type GlobalOptions } from './global-options.js';
import { untilInterrupted } from './signals.js';

export async function watchCommand(prefix: string, globals: GlobalOptions): Promise<void> {
  await withConsul(globals, async (consul) => {
    const watch = watchPrefix(consul, prefix, {
      onRetry: (error, attempt, delayMs) =>
        console.error(`watch ${prefix}: ${(error as Error).message} (retry ${attempt} in ${delayMs} ms)`),
    });
    const subscription = watch.snapshots.subscribe((entries) => {
      const values = Object.fromEntries([...entries].map(([key, entry]) => [key, entry.value]));
      console.log(JSON.stringify({ at: new Date().toISOString(), prefix, entries: values }));
    });
    await untilInterrupted();
    subscription.unsubscribe();
  });
}
