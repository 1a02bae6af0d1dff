/**
 * The providers one app signs in with: one, or several (`providers`), each with its own client,
 * found by id, by issuer (a logout token's, a front-channel logout's, `/login?iss=`), by the
 * request (`resolveProvider`), or by a session. Discovery and keys are cached per provider, for at
 * most `maxCachedProviders` at once: the least recently used are dropped and discovered again
 * when next needed.
 */
import { AuthError } from '../errors.js'
import type { HttpContext } from '../http/context.js'
import type { Settings } from '../options.js'
import { type Provider, ProviderCache } from './provider.js'

/** The settings of one provider: the app's own, with that provider's client. */
export type ProviderSettings = Settings

/** What names a session's or a transaction's provider. */
export interface ProviderRef {
  /** the issuer of its tokens */
  readonly iss: string
  /** the provider's id, kept when the app has `providers` */
  readonly provider?: string | undefined
  /** the client the session was made for */
  readonly clientId?: string | undefined
}

/** The most issuer spellings kept normalised (a bound: a logout token's `iss` is anyone's to choose). */
const MAX_SPELLINGS = 256

/** The providers of one app. */
export class Providers {
  /** every provider's settings, the app's default first */
  readonly all: readonly ProviderSettings[]
  readonly #byId = new Map<string, ProviderSettings>()
  /** providers by their issuer, normalised (`URL.href`) */
  readonly #byIssuer = new Map<string, ProviderSettings[]>()
  /** issuer spellings met so far and their normal form */
  readonly #spellings = new Map<string, string>()
  /** discovery caches, least recently used first */
  readonly #caches = new Map<ProviderSettings, ProviderCache>()
  readonly #max: number
  readonly #resolve: Settings['resolveProvider']

  constructor(settings: Settings) {
    this.all = settings.providers
    this.#max = settings.maxCachedProviders
    this.#resolve = settings.resolveProvider
    for (const provider of this.all) {
      this.#byId.set(provider.providerId, provider)
      const list = this.#byIssuer.get(provider.issuer.href) ?? []
      list.push(provider)
      this.#byIssuer.set(provider.issuer.href, list)
    }
  }

  /** the app's first provider: the one of an app with a single one */
  get default(): ProviderSettings {
    return this.all[0] as ProviderSettings
  }

  /**
   * The provider, discovered: lazily, once, and kept while it is among the `maxCachedProviders`
   * most recently used (a `DiscoveryError` when it cannot be).
   */
  get(provider: ProviderSettings = this.default): Promise<Provider> {
    let cache = this.#caches.get(provider)
    if (cache !== undefined) {
      if (this.#caches.size > 1) {
        // most recently used last
        this.#caches.delete(provider)
        this.#caches.set(provider, cache)
      }
      return cache.get()
    }
    cache = new ProviderCache(provider)
    this.#caches.set(provider, cache)
    if (this.#caches.size > this.#max) {
      const oldest = this.#caches.keys().next().value as ProviderSettings
      this.#caches.delete(oldest)
    }
    return cache.get()
  }

  /** how many providers' discovery is cached now */
  get cached(): number {
    return this.#caches.size
  }

  /** The provider of `id`, if the app has one. */
  byId(id: string): ProviderSettings | undefined {
    return this.#byId.get(id)
  }

  /** The providers whose issuer is `issuer` (two clients at one issuer are both). */
  byIssuer(issuer: string): readonly ProviderSettings[] {
    return this.#byIssuer.get(this.#normal(issuer)) ?? []
  }

  /**
   * The provider `resolveProvider` picks for the request, or `undefined` when the app has no
   * resolver or it does not decide. A resolver that names no provider of the app is the app's
   * mistake: a 500 whose hint names the id.
   */
  forRequest(ctx: HttpContext): ProviderSettings | undefined {
    const resolve = this.#resolve
    if (resolve === undefined) return undefined
    const id = resolve({ url: ctx.url, headers: ctx.headers })
    if (id === undefined) return undefined
    const provider = typeof id === 'string' ? this.#byId.get(id) : undefined
    if (provider === undefined) {
      throw new AuthError('sign-in is not configured for this address', 'unknown_provider', 500, {
        hint: `"resolveProvider" answered ${JSON.stringify(id)}, which is not the "id" of one of "providers": return an id of one of them, or undefined`,
      })
    }
    return provider
  }

  /**
   * The provider of a signed-in session (a session read finds its provider, or reads anonymous);
   * a 401 when the app no longer signs in there.
   */
  ofSession(ref: ProviderRef): ProviderSettings {
    const provider = this.of(ref)
    if (provider === undefined) {
      throw new AuthError(
        'the session is from a provider this app no longer signs in with',
        'unknown_provider',
        401,
      )
    }
    return provider
  }

  /**
   * The provider a session (or a transaction) is of: the one it names, if its issuer is still
   * that provider's, else, for one made before the app had `providers`, the provider of its
   * issuer; `undefined` when the app no longer signs in there.
   */
  of(ref: ProviderRef): ProviderSettings | undefined {
    const issuer = this.#normal(ref.iss)
    const provider =
      ref.provider !== undefined ? this.#byId.get(ref.provider) : this.#byIssuer.get(issuer)?.[0]
    if (provider === undefined || provider.issuer.href !== issuer) return undefined
    // a session of another client at the same issuer (another app sealed with the same secret)
    if (ref.clientId !== undefined && ref.clientId !== provider.clientId) return undefined
    return provider
  }

  /** Whether two spellings name one issuer (as discovery compares them: `URL.href`). */
  sameIssuer(a: string, b: string): boolean {
    return a === b || this.#normal(a) === this.#normal(b)
  }

  /**
   * An issuer identifier as the configured ones are kept: the provider's own spelling (its
   * metadata's `issuer`, its tokens' `iss`) may differ from `issuer.href` as URLs do (a missing
   * final slash, the host's case), which discovery accepts.
   */
  #normal(issuer: string): string {
    let normal = this.#spellings.get(issuer)
    if (normal === undefined) {
      normal = URL.canParse(issuer) ? new URL(issuer).href : issuer
      if (this.#spellings.size >= MAX_SPELLINGS) this.#spellings.clear()
      this.#spellings.set(issuer, normal)
    }
    return normal
  }
}
