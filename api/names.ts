// Branded names: a value of these types has been checked, so an unchecked string cannot pass for one.
import * as t from 'io-ts';

// `.` and `..` are excluded: as a KV key segment, URL path segment or file name they mean "here" and
// "parent", so Consul (Go's path cleaning) and URL parsers would address another key than the name says.
// `.` and `..` are excluded: as a KV key segment, URL path segment or file name they mean "here" and
// "parent", so Consul (Go's path cleaning) and URL parsers would address another key than the name says.
const NAME_PATTERN = /^(?!\.{1,2}$)[A-Za-z0-9_.-]{1,128}$/;

interface AppNameBrand {
  readonly AppName: unique symbol;
}
/** A local application's name (also its output file name and REST path segment). */
export const AppName = t.brand(
  t.string,
  (s): s is t.Branded<string, AppNameBrand> => NAME_PATTERN.test(s),
  'AppName',
);
export type AppName = t.TypeOf<typeof AppName>;

interface NodeNameBrand {
  readonly NodeName: unique symbol;
}
/** A node (host) name as it appears in KV keys. */
export const NodeName = t.brand(
  t.string,
  (s): s is t.Branded<string, NodeNameBrand> => NAME_PATTERN.test(s),
  'NodeName',
);
export type NodeName = t.TypeOf<typeof NodeName>;

interface TaskNameBrand {
  readonly TaskName: unique symbol;
}
/** A cluster task name (`appmesh/cluster/tasks/<task>`). */
export const TaskName = t.brand(
  t.string,
  (s): s is t.Branded<string, TaskNameBrand> => NAME_PATTERN.test(s),
  'TaskName',
);
export type TaskName = t.TypeOf<typeof TaskName>;

interface PortBrand {
  readonly Port: unique symbol;
}
/** A TCP port, 1..65535. */
export const Port = t.brand(
  t.number,
  (n): n is t.Branded<number, PortBrand> => Number.isInteger(n) && n >= 1 && n <= 65535,
  'Port',
);
export type Port = t.TypeOf<typeof Port>;

interface NonNegativeIntBrand {
  readonly NonNegativeInt: unique symbol;
}
/** A whole number >= 0 (replica counts, sizes). */
export const NonNegativeInt = t.brand(
  t.number,
  (n): n is t.Branded<number, NonNegativeIntBrand> => Number.isInteger(n) && n >= 0,
  'NonNegativeInt',
);
export type NonNegativeInt = t.TypeOf<typeof NonNegativeInt>;
