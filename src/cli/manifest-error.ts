// The error a manifest set fails with: every problem, one line each. Kept apart from the manifest reader
// so that `main` can recognise it without loading the reader (and YAML) for commands that read no manifests.
import { DecodeError } from '../../api/decode.js';

/** Every problem of a manifest set; each line already names its file, document and field path. */
export class ManifestError extends DecodeError {
  /** The closing line: how many problems, and that nothing was written. */
  readonly summary: string;
  constructor(problems: readonly string[]) {
    super('manifest', problems);
    this.summary = `${problems.length} problem${problems.length === 1 ? '' : 's'} in the manifests; nothing was written`;
    this.message = [...problems, this.summary].join('\n');
  }
}
