// `appmesh watch [prefix]`: prints a JSON line for every change under a KV prefix, using the same
// blocking-query watch the agent's controllers use. Handy to see what the cluster writes.
import { Consul } from '../consul/consul.js';
import { consulOptionsFromEnv } from '../consul/options.js';
import { watchPrefix } from '../consul/watch.js';

export async function watchCommand(prefix: string, options: { readonly consulAddr?: string }): Promise<void> {
  const consul = Consul.connect(
    consulOptionsFromEnv(process.env, options.consulAddr ? { address: options.consulAddr } : {}),
  );
  const watch = watchPrefix(consul, prefix, {
    onRetry: (error, attempt, delayMs) =>
      console.error(`watch ${prefix}: ${(error as Error).message} (retry ${attempt} in ${delayMs} ms)`),
  });
  const subscription = watch.snapshots.subscribe((entries) => {
    const values = Object.fromEntries([...entries].map(([key, entry]) => [key, entry.value]));
    console.log(JSON.stringify({ at: new Date().toISOString(), prefix, entries: values }));
  });
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  subscription.unsubscribe();
  await consul.close();
}
