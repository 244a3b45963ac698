/**
 * One key, one value, in every log line. pino appends a child's bindings to its parent's and
 * writes a call's fields after both, so a child that binds a key its parent has (a `component`
 * under the agent's `component`, a `dataSource` under an adapter's) or a call that passes a bound
 * key writes the key twice — valid JSON text that most log tools read as the last value and some
 * refuse. Here the inner value wins and the key appears once:
 *
 * - `child(bindings)`: when a binding repeats a key the parent already has, the child's bindings
 *   text is rebuilt with each key once (the child's value, in the parent's position);
 * - a log call whose fields repeat a bound key is logged through a child bound to those fields.
 *
 * Both checks are a substring test on the bindings text, so lines without a repeat cost nothing
 * more than that. Installed on the root logger; children inherit it.
 */
import { pino, type Logger } from 'pino';

type ChildFn = Logger['child'];
type Bindings = Record<string, unknown>;

const { chindingsSym } = pino.symbols;

const bindingsText = (logger: Logger): string => ((logger as unknown as Record<symbol, unknown>)[chindingsSym] as string | undefined) ?? '';

/** Might `text` (pino's `,"k":v,…` bindings) already hold one of `keys`? False positives only cost a rebuild. */
const mayHold = (text: string, keys: readonly string[]): boolean => keys.some((k) => text.includes(`${JSON.stringify(k)}:`));

/** `,"k":v,…` with each key once (JSON.parse keeps the first position and the last value). */
function unique(text: string): string {
  const merged = JSON.parse(`{${text.slice(1)}}`) as Bindings;
  return `,${JSON.stringify(merged).slice(1, -1)}`;
}

/** Makes `root` and every logger derived from it write each key once per line. */
export function withUniqueKeys(root: Logger): Logger {
  // pino's own `child`, called below with the logger it is creating a child of as `this`.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const plainChild: ChildFn = root.child;
  const child = function (this: Logger, bindings: Bindings, options?: Parameters<ChildFn>[1]): Logger {
    const made = plainChild.call(this, bindings, options) as unknown as Logger;
    if (mayHold(bindingsText(this), Object.keys(bindings))) {
      const text = unique(bindingsText(made));
      (made as unknown as Record<symbol, unknown>)[chindingsSym] = text;
    }
    return made;
  };
  Object.defineProperty(root, 'child', { value: child, writable: true, configurable: true });
  return root;
}

/**
 * pino `hooks.logMethod`: a call whose first argument is a plain object with a key the logger has
 * bound is logged through a child bound to those fields, so the call's value replaces the bound one.
 */
export function logMethodWithUniqueKeys(this: Logger, args: Parameters<Logger['info']>, method: (...a: unknown[]) => void): void {
  const fields: unknown = args[0];
  if (fields !== null && typeof fields === 'object' && !(fields instanceof Error) && !Array.isArray(fields)) {
    const text = bindingsText(this);
    const keys = Object.keys(fields);
    if (text !== '' && mayHold(text, keys)) {
      const bound = JSON.parse(`{${text.slice(1)}}`) as Bindings;
      const repeated = keys.filter((k) => Object.hasOwn(bound, k));
      if (repeated.length > 0) {
        const rest: Bindings = { ...(fields as Bindings) };
        const over: Bindings = {};
        for (const k of repeated) {
          over[k] = rest[k];
          delete rest[k];
        }
        method.apply(this.child(over), [rest, ...args.slice(1)]);
        return;
      }
    }
  }
  method.apply(this, args);
}
