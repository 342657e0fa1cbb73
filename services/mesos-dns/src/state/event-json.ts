/** Reading the Operator API's JSON events from `unknown`, without trusting their shape. */

export type Obj = Record<string, unknown>;

export const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** `o[key]` when `o` is an object. */
export const field = (o: unknown, key: string): unknown => (isObj(o) ? o[key] : undefined);

export const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

/** An id message's `value` (`{value: "..."}`), `""` when absent. */
export const idValue = (v: unknown): string => str(field(v, "value")) ?? "";

/** Tasks are keyed by framework and task id: task ids are unique within a framework only. */
export const taskKey = (frameworkId: unknown, taskId: unknown): string => `${idValue(frameworkId)}/${idValue(taskId)}`;
