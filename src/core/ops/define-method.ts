/**
 * `defineMethod`, in a module that depends on nothing but `tensor.ts`, so that any op module may register its
 * method aliases at load time whatever the import order.
 * @module
 */
import { Tensor } from "../tensor.js";

/** @internal Attaches a method `name` to the Tensor prototype, calling `fn(this, ...args)`. */
export function defineMethod(name: string, fn: (self: Tensor, ...args: never[]) => unknown): void {
  Object.defineProperty(Tensor.prototype, name, {
    value: function (this: Tensor, ...args: never[]) {
      return fn(this, ...args);
    },
    writable: true,
    configurable: true,
  });
}
