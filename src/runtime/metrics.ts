// The agent's own prom-client registry (never the global one), with default process metrics
// under the `appmesh_` prefix. Components add their metrics to the registry they are given.
import { collectDefaultMetrics, Registry } from 'prom-client';

export function createMetricsRegistry(options: { readonly defaultMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'appmesh_' });
  return registry;
}
