import { type AuthOptions, type ResolvedOptions, resolveOptions } from './options.js'
import { ProviderCache } from './provider.js'

/**
 * The opaque configuration every codeflow function takes, made once per app by `createAuth`.
 */
export interface Auth {
  /** the validated options, defaults applied */
  readonly options: ResolvedOptions
  /** the provider's discovery, lazy and cached */
  readonly provider: ProviderCache
}

/**
 * Validates `options` eagerly (a `ConfigurationError` names the option at fault) and returns the
 * configuration for the other functions. Nothing is fetched yet: discovery happens on the first
 * request that needs the provider, so the app starts even while the provider is down.
 */
export function createAuth(options: AuthOptions): Auth {
  const resolved = resolveOptions(options)
  return Object.freeze({ options: resolved, provider: new ProviderCache(resolved) })
}
