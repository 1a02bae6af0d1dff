/**
 * Node's built-in modules without a static import, so that an edge bundle never sees `node:*`:
 * the module, or `undefined` where the runtime has none (an edge runtime, a browser).
 */
export function builtin<T>(id: string): T | undefined {
  const get = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process
    ?.getBuiltinModule
  try {
    return get ? (get(id) as T | undefined) : undefined
  } catch {
    return undefined
  }
}
