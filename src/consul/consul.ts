// The typed Consul API in one object: KV, transactions, sessions, the local agent and health.
import { ConsulClient } from './client.js';
import { AgentApi } from './agent.js';
import { HealthApi } from './health.js';
import { KvApi } from './kv.js';
import type { ConsulMetrics } from './metrics.js';
import type { ConsulConnectionOptions } from './options.js';
import { SessionApi } from './session.js';
import { TxnApi } from './txn.js';

export class Consul {
  readonly kv: KvApi;
  readonly txn: TxnApi;
  readonly session: SessionApi;
  readonly agent: AgentApi;
  readonly health: HealthApi;

  constructor(readonly client: ConsulClient) {
    this.kv = new KvApi(client);
    this.txn = new TxnApi(client);
    this.session = new SessionApi(client);
    this.agent = new AgentApi(client);
    this.health = new HealthApi(client);
  }

  static connect(options: ConsulConnectionOptions, deps: { readonly metrics?: ConsulMetrics } = {}): Consul {
    return new Consul(new ConsulClient(options, deps));
  }

  /** The address as shown in messages. */
  get address(): string {
    return this.client.endpoint.display;
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
