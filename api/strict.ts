// Object codecs that reject unknown fields instead of ignoring them, so a typo in a config file or a
// manifest is an error naming its path rather than a setting silently not applied.
import * as t from 'io-ts';
import { describeValue } from './decode.js';

/**
 * Like `t.intersection([t.type(required), t.partial(optional)])`, but a key outside both is reported as
 * `<path>.<key>: unknown field` (unless `allowUnknown(key)` says it is tolerated).
 */
export function strictObject<R extends t.Props, O extends t.Props>(
  name: string,
  required: R,
  optional: O,
  allowUnknown: (key: string) => boolean = () => false,
): t.Type<t.TypeOf<t.TypeC<R>> & t.TypeOf<t.PartialC<O>>, unknown, unknown> {
  const known = new Set([...Object.keys(required), ...Object.keys(optional)]);
  const inner = t.intersection([t.type(required), t.partial(optional)]);
  return new t.Type(
    name,
    (u): u is t.TypeOf<typeof inner> => inner.is(u),
    (u, context) => {
      if (typeof u !== 'object' || u === null || Array.isArray(u)) {
        // Named by `name`: io-ts would spell out every field's type, hundreds of characters long.
        return t.failure(u, context, `expected an object (${name}), got ${describeValue(u)}`);
      }
      const fields = u as Record<string, unknown>;
      const unknownKeys = Object.keys(fields).filter((key) => !known.has(key) && !allowUnknown(key));
      if (unknownKeys.length > 0) {
        return t.failures(
          unknownKeys.map((key) => ({
            value: fields[key],
            context: [...context, { key, type: t.never, actual: fields[key] }],
            message: 'unknown field',
          })),
        );
      }
      return inner.validate(u, t.appendContext(context, '', inner, u));
    },
    (a) => inner.encode(a),
  );
}
