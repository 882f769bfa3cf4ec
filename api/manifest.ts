// The YAML manifest envelope users apply (kubectl-style): apiVersion, kind, metadata, spec.
// The spec is decoded by the codec of its kind after the envelope is checked.
import * as t from 'io-ts';
import { strictObject } from './strict.js';

export const ManifestKind = t.keyof({ Application: null, ClusterTask: null }, 'ManifestKind');
export type ManifestKind = t.TypeOf<typeof ManifestKind>;

/**
 * `labels` and `annotations` are for the user's own tooling: the stored ClusterTask JSON is App Mesh's,
 * which has no place for them, so they are checked but not stored.
 */
export const ManifestMetadata = strictObject(
  'Metadata',
  { name: t.string },
  { labels: t.record(t.string, t.string), annotations: t.record(t.string, t.string) },
);
export type ManifestMetadata = t.TypeOf<typeof ManifestMetadata>;

export const Manifest = strictObject(
  'Manifest',
  {
    apiVersion: t.literal('appmesh/v1'),
    kind: ManifestKind,
    metadata: ManifestMetadata,
    spec: t.UnknownRecord,
  },
  {},
);
export type Manifest = t.TypeOf<typeof Manifest>;
