// Reads manifests (YAML with several documents, or JSON; files, directories or stdin) and validates every
// document before anything is sent, so one bad document means nothing is written. Each problem is one
// line `FILE[:doc N]: path: message`.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isLeft } from 'fp-ts/lib/Either.js';
import * as t from 'io-ts';
import { parseAllDocuments } from 'yaml';
import { decodeAppSpec, type AppSpec } from '../../api/app.js';
import { decodeClusterTask } from '../../api/cluster.js';
import { decode, describeValue } from '../../api/decode.js';
import { Manifest } from '../../api/manifest.js';
import { TaskName } from '../../api/names.js';
import { ManifestError } from './manifest-error.js';

export { ManifestError };

interface ManifestOrigin {
  /** `FILE` or `FILE:doc N` (when the file holds several documents), as messages show it. */
  readonly source: string;
  /** App Mesh fields that are accepted but ignored, one line each. */
  readonly warnings: readonly string[];
}

export type ResourceManifest =
  | (ManifestOrigin & { readonly kind: 'Application'; readonly name: string; readonly spec: AppSpec })
  | (ManifestOrigin & {
      readonly kind: 'ClusterTask';
      readonly name: string;
      /** The JSON stored at `cluster/tasks/<name>`: the spec with `content.name` set to the task's name. */
      readonly spec: Readonly<Record<string, unknown>>;
    });

/** `clustertask/web`, `application/hello`: how every command names a resource. */
export function resourceName(manifest: { readonly kind: string; readonly name: string }): string {
  return `${manifest.kind.toLowerCase()}/${manifest.name}`;
}

const MANIFEST_EXTENSIONS = ['.yaml', '.yml', '.json'];

/** A directory stands for its *.yaml, *.yml and *.json files (not recursive), in name order. */
async function expandPaths(paths: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const path of paths) {
    if (path === '-') {
      files.push(path);
      continue;
    }
    const info = await stat(path).catch((err: unknown) => {
      throw new Error(`${path} could not be read: ${(err as Error).message}`);
    });
    if (!info.isDirectory()) {
      files.push(path);
      continue;
    }
    const names = (await readdir(path))
      .filter((name) => MANIFEST_EXTENSIONS.some((ext) => name.endsWith(ext)))
      .sort();
    if (names.length === 0) throw new Error(`${path} holds no .yaml, .yml or .json manifests`);
    files.push(...names.map((name) => join(path, name)));
  }
  return files;
}

async function readSource(path: string, stdin: () => Promise<string>): Promise<string> {
  if (path === '-') return stdin();
  return readFile(path, 'utf8').catch((err: unknown) => {
    throw new Error(`${path} could not be read: ${(err as Error).message}`);
  });
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

type DocumentResult = { readonly manifest: ResourceManifest } | { readonly problems: readonly string[] };

/** A raw App Mesh task JSON (no `kind`, no `apiVersion`): a ClusterTask named by `content.name`. */
function decodeRawTask(value: Record<string, unknown>, source: string): DocumentResult {
  const content = value['content'];
  const name = t.UnknownRecord.is(content) ? content['name'] : undefined;
  if (typeof name !== 'string' || !TaskName.is(name)) {
    return {
      problems: [
        `${source}: content.name: a task JSON without \`kind\` is a ClusterTask named by content.name; expected a task name, got ${describeValue(name)}`,
      ],
    };
  }
  const decoded = decodeClusterTask(value, name, source);
  if (isLeft(decoded)) return { problems: decoded.left.problems.map((p) => `${source}: ${p}`) };
  return {
    manifest: {
      kind: 'ClusterTask',
      name,
      spec: storedTaskSpec(value, name),
      source,
      warnings: decoded.right.warnings,
    },
  };
}

/** The ClusterTask JSON as stored: App Mesh readers expect `content.name`, so it is always set. */
function storedTaskSpec(spec: Record<string, unknown>, name: string): Record<string, unknown> {
  const content = t.UnknownRecord.is(spec['content']) ? spec['content'] : {};
  return { ...spec, content: { name, ...content } };
}

function decodeDocument(value: unknown, source: string): DocumentResult {
  if (t.UnknownRecord.is(value) && value['kind'] === undefined && value['apiVersion'] === undefined) {
    return decodeRawTask(value, source);
  }
  const envelope = decode(Manifest, value, source);
  if (isLeft(envelope)) return { problems: envelope.left.message.split('\n') };
  const { kind, metadata, spec } = envelope.right;
  if (kind === 'Application') {
    const app = decodeAppSpec({ ...spec, name: metadata.name }, source);
    if (isLeft(app)) return { problems: app.left.problems.map((p) => `${source}: spec.${p}`) };
    return {
      manifest: { kind, name: metadata.name, spec: app.right.spec, source, warnings: app.right.warnings },
    };
  }
  if (!TaskName.is(metadata.name)) {
    return {
      problems: [
        `${source}: metadata.name: expected 1-128 letters, digits, '.', '_' or '-', got ${describeValue(metadata.name)}`,
      ],
    };
  }
  const task = decodeClusterTask(spec, metadata.name, source);
  if (isLeft(task)) return { problems: task.left.problems.map((p) => `${source}: spec.${p}`) };
  const warnings = task.right.warnings.map((line) =>
    line.startsWith(`${source}: `) ? `${source}: spec.${line.slice(source.length + 2)}` : line,
  );
  return {
    manifest: { kind, name: metadata.name, spec: storedTaskSpec(spec, metadata.name), source, warnings },
  };
}

/**
 * Decodes every document of every file (a directory means its manifest files; `-` is stdin). Throws one
 * DecodeError listing every problem of every document if any is bad, so callers write all or nothing.
 */
export async function loadManifests(
  paths: readonly string[],
  stdin: () => Promise<string> = readStdin,
): Promise<ResourceManifest[]> {
  const decoded: ResourceManifest[] = [];
  const problems: string[] = [];
  const seen = new Map<string, string>();
  for (const path of await expandPaths(paths)) {
    const file = path === '-' ? 'stdin' : path;
    const documents = parseAllDocuments(await readSource(path, stdin));
    for (const [index, document] of documents.entries()) {
      const source = documents.length > 1 ? `${file}:doc ${index + 1}` : file;
      if (document.errors.length > 0) {
        problems.push(
          ...document.errors.map((e) => `${source}: (root): not valid YAML (${e.message.split('\n')[0]})`),
        );
        continue;
      }
      const value: unknown = document.toJS();
      if (value === null || value === undefined) continue; // an empty document (e.g. a trailing ---)
      const result = decodeDocument(value, source);
      if ('problems' in result) {
        problems.push(...result.problems);
        continue;
      }
      const id = resourceName(result.manifest);
      const earlier = seen.get(id);
      if (earlier !== undefined) {
        problems.push(`${source}: metadata.name: ${id} is already defined in ${earlier}`);
        continue;
      }
      seen.set(id, source);
      decoded.push(result.manifest);
    }
  }
  if (problems.length > 0) throw new ManifestError(problems);
  return decoded;
}
