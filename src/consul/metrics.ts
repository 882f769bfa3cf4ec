// Consul-facing metrics. Endpoint labels are route templates (`/v1/kv/:key`), never raw keys,
// so the label set stays bounded however many keys exist.
import { Counter, Histogram, type Registry } from 'prom-client';

export class ConsulMetrics {
  readonly requests: Counter<'method' | 'endpoint' | 'code'>;
  readonly requestDuration: Histogram<'method' | 'endpoint'>;
  readonly watchRestarts: Counter<'watch'>;

  constructor(registry: Registry) {
    this.requests = new Counter({
      name: 'appmesh_consul_requests_total',
      help: 'Consul HTTP requests by method, endpoint template and status code (0 = no response).',
      labelNames: ['method', 'endpoint', 'code'],
      registers: [registry],
    });
    this.requestDuration = new Histogram({
      name: 'appmesh_consul_request_duration_seconds',
      help: 'Consul HTTP request latency; blocking queries included, so expect long tails on watch endpoints.',
      labelNames: ['method', 'endpoint'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 120, 330],
      registers: [registry],
    });
    this.watchRestarts = new Counter({
      name: 'appmesh_watch_restarts_total',
      help: 'Watch loops that failed and were restarted after a backoff.',
      labelNames: ['watch'],
      registers: [registry],
    });
  }
}
