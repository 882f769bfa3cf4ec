// Reads manifest files (YAML, several documents per file) and decodes every document before anything
// is sent, so one bad document means nothing is applied. Errors name file, document and field path.
import { readFile } from 'node:fs/promises';
import { isLeft } from 'fp-ts/lib/Either.js';
import { parseAllDocuments } from 'yaml';
import { decodeAppSpec, type AppSpec } from '../../api/app.js';
import { decode, DecodeError } from '../../api/decode.js';
import { Manifest } from '../../api/manifest.js';

export type DecodedManifest =
  | {
      readonly kind: 'Application';
      readonly name: string;
      readonly spec: AppSpec;
      readonly warnings: readonly string[];
    }
  | { readonly kind: 'ClusterTask'; readonly name: string; readonly spec: Readonly<Record<string, unknown>> };

async function readSource(path: string): Promise<string> {
  if (path !== '-') return readFile(path, 'utf8');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Decodes every document of every file; throws one DecodeError listing all problems if any is bad. */
export async function loadManifests(paths: readonly string[]): Promise<DecodedManifest[]> {
  const decoded: DecodedManifest[] = [];
  const problems: string[] = [];
  for (const path of paths) {
    const text = await readSource(path).catch((err: unknown) => {
      throw new Error(`${path} could not be read: ${(err as Error).message}`);
    });
    const documents = parseAllDocuments(text);
    for (const [index, document] of documents.entries()) {
      const where = documents.length > 1 ? `${path} (document ${index + 1})` : path;
      if (document.errors.length > 0) {
        problems.push(
          ...document.errors.map((e) => `${where}: (root): not valid YAML (${e.message.split('\n')[0]})`),
        );
        continue;
      }
      const value: unknown = document.toJS();
      if (value === null || value === undefined) continue; // an empty document (e.g. a trailing ---)
      const envelope = decode(Manifest, value, where);
      if (isLeft(envelope)) {
        problems.push(...envelope.left.message.split('\n'));
        continue;
      }
      const { kind, metadata, spec } = envelope.right;
      if (kind === 'Application') {
        const app = decodeAppSpec({ ...spec, name: metadata.name }, `${where} ${kind} ${metadata.name}`);
        if (isLeft(app)) problems.push(...app.left.problems.map((p) => `${where}: spec.${p}`));
        else decoded.push({ kind, name: metadata.name, spec: app.right.spec, warnings: app.right.warnings });
      } else {
        decoded.push({ kind, name: metadata.name, spec });
      }
    }
  }
  if (problems.length > 0) throw new DecodeError('manifest', problems);
  return decoded;
}
