/**
 * Checks of the arguments every public entry point shares: that a function is a function, and that an options
 * object names only options that exist. A misspelled option (`maxiter` for `maxIter`) would otherwise be ignored
 * and its default silently used, so each entry point lists its valid keys and unknown ones throw a `ValueError`
 * naming them and the valid ones.
 *
 * How a new entry point (a solver, a layer) declares its options: keep the valid keys next to the options
 * interface, as a `satisfies` list the compiler ties to it, and check once in the constructor:
 *
 * ```
 * const MY_SOLVER_KEYS = [...SOLVER_OPTION_KEYS, "fun", "stepsize"] as const satisfies readonly (keyof MyOptions)[];
 * constructor(opts: MyOptions) { checkOptions("MySolver", opts, MY_SOLVER_KEYS); super("MySolver", opts); … }
 * ```
 *
 * @internal
 * @module
 */
import { ValueError } from "./errors.js";

/**
 * @internal Throws a `ValueError` naming `who` and `name` unless `f` is a function.
 */
export function checkFunction(f: unknown, who: string, name: string): void {
  if (typeof f !== "function") {
    const got = f === null ? "null" : Array.isArray(f) ? "an array" : typeof f;
    throw new ValueError(`${who}: ${name} must be a function, got ${got}`);
  }
}

/**
 * @internal Throws a `ValueError` naming `who` if `options` is not a plain object (or undefined), or has a key
 * outside `validKeys`; the message lists the unknown keys, the nearest valid spelling and every valid key.
 */
export function checkOptions(who: string, options: unknown, validKeys: readonly string[], name = "options"): void {
  if (options === undefined) return;
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    const got = options === null ? "null" : Array.isArray(options) ? "an array" : typeof options;
    throw new ValueError(`${who}: ${name} must be an object, got ${got}`);
  }
  const valid = new Set(validKeys);
  const unknown = Object.keys(options).filter((k) => !valid.has(k));
  if (unknown.length === 0) return;
  const hints = unknown.map((k) => {
    const near = validKeys.find((v) => v.toLowerCase() === k.toLowerCase());
    return near === undefined ? `"${k}"` : `"${k}" (did you mean "${near}"?)`;
  });
  throw new ValueError(
    `${who}: unknown ${name} ${hints.join(", ")}; the valid ${name} are ${validKeys.map((k) => `"${k}"`).join(", ")}`,
  );
}

/**
 * @internal Throws a `ValueError` naming `who` and `name` unless `value` is undefined or one of `allowed`.
 */
export function checkChoice<T extends string>(
  value: T | undefined,
  allowed: readonly T[],
  who: string,
  name: string,
): void {
  if (value !== undefined && !allowed.includes(value)) {
    throw new ValueError(
      `${who}: ${name} must be one of ${allowed.map((a) => `"${a}"`).join(", ")}, got ${JSON.stringify(value)}`,
    );
  }
}
