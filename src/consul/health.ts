// Read-only cluster views: service health (blocking-capable), the catalog and the raft leader.
import {
  CatalogServicesWire,
  HealthServiceListWire,
  StatusLeaderWire,
  type HealthServiceEntryWire,
} from '../../api/consul.js';
import type { ConsulClient } from './client.js';
import { blockingParams, type Indexed, type ReadOptions } from './kv.js';

export class HealthApi {
  constructor(private readonly client: ConsulClient) {}

  /** Instances of a service with their checks; `passing` keeps only healthy ones. */
  async service(
    name: string,
    options: ReadOptions & { readonly passing?: boolean } = {},
  ): Promise<Indexed<HealthServiceEntryWire[]>> {
    const blocking = blockingParams(options);
    const response = await this.client.request({
      method: 'GET',
      endpoint: '/v1/health/service/:name',
      path: `/v1/health/service/${encodeURIComponent(name)}`,
      query: {
        passing: options.passing === true,
        ...blocking.query,
      },
      signal: options.signal,
      blockingWaitSeconds: blocking.waitSeconds,
    });
    const entries = this.client.decode(HealthServiceListWire, response, 'GET /v1/health/service/:name');
    entries.sort((a, b) => (a.Service.ID < b.Service.ID ? -1 : a.Service.ID > b.Service.ID ? 1 : 0));
    return { index: response.index ?? 0, value: entries };
  }

  /** Every service name in the catalog with its tags. */
  catalogServices(signal?: AbortSignal): Promise<Record<string, string[]>> {
    return this.client.getJson(CatalogServicesWire, '/v1/catalog/services', '/v1/catalog/services', signal);
  }

  /** The raft leader's address, or "" while the cluster has none. */
  leader(signal?: AbortSignal): Promise<string> {
    return this.client.getJson(StatusLeaderWire, '/v1/status/leader', '/v1/status/leader', signal);
  }
}
