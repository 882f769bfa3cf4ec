// Codecs for the Consul HTTP API responses appmesh reads. Only the fields we use are declared;
// io-ts `type` codecs ignore extra fields, so newer Consul versions that add fields still decode.
import * as t from 'io-ts';

const optional = <C extends t.Mixed>(codec: C) => t.union([codec, t.undefined, t.null]);

/** One entry of `GET /v1/kv/<key>` (Value is base64, or null for an empty value). */
export const KvEntryWire = t.intersection([
  t.type({
    Key: t.string,
    Flags: t.number,
    Value: t.union([t.string, t.null]),
    CreateIndex: t.number,
    ModifyIndex: t.number,
    LockIndex: t.number,
  }),
  t.partial({ Session: t.string }),
]);
export type KvEntryWire = t.TypeOf<typeof KvEntryWire>;
export const KvEntryListWire = t.array(KvEntryWire);

/** A KV entry with its value decoded from base64 to UTF-8 text. */
export interface KvEntry {
  readonly key: string;
  readonly value: string | null;
  readonly flags: number;
  readonly createIndex: number;
  readonly modifyIndex: number;
  readonly lockIndex: number;
  readonly session?: string;
}

export const KeyListWire = t.array(t.string);

/** `GET /v1/session/info/<id>` and `PUT /v1/session/renew/<id>` return a list of these. */
export const SessionInfoWire = t.intersection([
  t.type({ ID: t.string, Node: t.string, Behavior: t.string, CreateIndex: t.number }),
  t.partial({
    Name: t.string,
    TTL: t.string,
    LockDelay: t.number,
    NodeChecks: optional(t.array(t.string)),
    ServiceChecks: optional(t.array(t.type({ ID: t.string }))),
  }),
]);
export type SessionInfoWire = t.TypeOf<typeof SessionInfoWire>;
export const SessionInfoListWire = t.array(SessionInfoWire);
export const SessionCreatedWire = t.type({ ID: t.string });

/** `PUT /v1/txn`: 200 carries Results, 409 carries Errors. */
export const TxnResponseWire = t.type({
  Results: optional(t.array(t.partial({ KV: KvEntryWire }))),
  Errors: optional(t.array(t.type({ OpIndex: t.number, What: t.string }))),
});
export type TxnResponseWire = t.TypeOf<typeof TxnResponseWire>;

/** The parts of `GET /v1/agent/self` we read. */
export const AgentSelfWire = t.type({
  Config: t.type({ NodeName: t.string, Datacenter: t.string }),
});
export type AgentSelfWire = t.TypeOf<typeof AgentSelfWire>;

/** One service of `GET /v1/agent/services` (a map by service ID). */
export const AgentServiceWire = t.intersection([
  t.type({ ID: t.string, Service: t.string }),
  t.partial({
    Tags: optional(t.array(t.string)),
    Port: t.number,
    Address: t.string,
    Meta: optional(t.record(t.string, t.string)),
  }),
]);
export type AgentServiceWire = t.TypeOf<typeof AgentServiceWire>;
export const AgentServicesWire = t.record(t.string, AgentServiceWire);

/** One check of `GET /v1/agent/checks` (a map by check ID). */
export const AgentCheckWire = t.intersection([
  t.type({ CheckID: t.string, Status: t.string }),
  t.partial({ Name: t.string, ServiceID: t.string, ServiceName: t.string, Output: t.string }),
]);
export type AgentCheckWire = t.TypeOf<typeof AgentCheckWire>;
export const AgentChecksWire = t.record(t.string, AgentCheckWire);

/** One entry of `GET /v1/health/service/<name>`. */
export const HealthServiceEntryWire = t.type({
  Node: t.type({ Node: t.string, Address: t.string }),
  Service: AgentServiceWire,
  Checks: t.array(AgentCheckWire),
});
export type HealthServiceEntryWire = t.TypeOf<typeof HealthServiceEntryWire>;
export const HealthServiceListWire = t.array(HealthServiceEntryWire);

/** `GET /v1/catalog/services`: service name to its tags. */
export const CatalogServicesWire = t.record(t.string, t.array(t.string));

/** `GET /v1/status/leader`: the raft leader's address, or "" while there is none. */
export const StatusLeaderWire = t.string;
