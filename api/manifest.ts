// The YAML manifest envelope users apply (kubectl-style): apiVersion, kind, metadata.name, spec.
// The spec is decoded by the codec of its kind after the envelope is checked.
import * as t from 'io-ts';
import { strictObject } from './strict.js';

export const ManifestKind = t.keyof({ Application: null, ClusterTask: null }, 'ManifestKind');
export type ManifestKind = t.TypeOf<typeof ManifestKind>;

export const Manifest = strictObject(
  'Manifest',
  {
    apiVersion: t.literal('appmesh/v1'),
    kind: ManifestKind,
    metadata: strictObject('Metadata', { name: t.string }, { labels: t.record(t.string, t.string) }),
    spec: t.UnknownRecord,
  },
  {},
);
export type Manifest = t.TypeOf<typeof Manifest>;
