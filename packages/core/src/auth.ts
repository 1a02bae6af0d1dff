/**
 * `Auth`: one app's configuration and everything the app holds in memory, made once by
 * `createAuth` and opaque outside the core.
 */
import { CookieJar } from './http/jar.js'
import { type AuthLogEvent, type Rejected, report } from './logger.js'
import { type AuthOptions, resolveOptions, type Settings } from './options.js'
import { Providers } from './protocol/providers.js'
import { SessionCache } from './session/cache.js'
import { createMemoryRevocationStore, type RevocationStore } from './session/revocation.js'
import { RefreshRegistry } from './tokens/registry.js'

/** What one app holds: its settings and its state. The core's own view of an `Auth`. */
export interface App {
  readonly settings: Settings
  /** the providers it signs in with, and their discovery (lazy and cached) */
  readonly providers: Providers
  readonly cookies: CookieJar
  /** unsealed session payloads, by sealed value */
  readonly sessions: SessionCache
  /** where logouts are remembered: the app's own store, else the process's memory store */
  readonly revocations: RevocationStore
  readonly refreshes: RefreshRegistry
  /** reports an event to the app's logger (one function per app: a request makes none) */
  readonly report: (event: AuthLogEvent) => void
  /** reports a refused session cookie; the request goes on anonymous */
  readonly rejectCookie: Rejected
}

/** What every app of the same issuer, client and base URL shares in this process. */
interface Shared {
  /** the default revocation store, made for the first app without one of its own */
  revocations: RevocationStore | undefined
  readonly refreshes: RefreshRegistry
}

// Kept on globalThis: a bundler may load the core twice in one process (Next.js builds its proxy
// and its route handlers apart), and a logout or a refresh seen by one copy must count for the
// other.
const SHARED = Symbol.for('@codeflow/core.apps.v1')

function shared(appKey: string): Shared {
  const global = globalThis as { [SHARED]?: Map<string, Shared> }
  global[SHARED] ??= new Map()
  let state = global[SHARED].get(appKey)
  if (!state) {
    state = { revocations: undefined, refreshes: new RefreshRegistry() }
    global[SHARED].set(appKey, state)
  }
  return state
}

/** The revocation store of an app without one of its own: the process's memory store of it. */
function sharedRevocations(common: Shared): RevocationStore {
  common.revocations ??= createMemoryRevocationStore()
  return common.revocations
}

let appOfAuth: (auth: Auth) => App
let authOfApp: (app: App) => Auth
/** What only this module can pass to `Auth`'s constructor. */
const MAKE = Symbol('codeflow.auth')
/** What every copy of the core marks its `Auth` with, to tell another copy's from a non-`Auth`. */
const BRAND = Symbol.for('@codeflow/core.auth')

function notAnAuth(value: unknown): TypeError {
  const foreign = value !== null && typeof value === 'object' && BRAND in value
  return new TypeError(
    foreign
      ? 'this Auth was made by another copy of @codeflow/core loaded in the same process: load one copy (or pass the options instead of an Auth)'
      : 'expected an Auth made by createAuth()',
  )
}

/**
 * The opaque configuration every codeflow function takes: made by `createAuth`, one per app.
 */
export class Auth {
  readonly #app: App

  private constructor(make: symbol, app: App) {
    if (make !== MAKE) throw new TypeError('an Auth is made by createAuth()')
    this.#app = app
  }

  /** the mark of an `Auth`, on its prototype (an `Auth` has no properties of its own) */
  get [BRAND](): true {
    return true
  }

  static {
    appOfAuth = (auth) => {
      if (typeof auth !== 'object' || auth === null || !(#app in auth)) throw notAnAuth(auth)
      return auth.#app
    }
    authOfApp = (app) => {
      const auth = new Auth(MAKE, app)
      Object.freeze(auth)
      return auth
    }
  }
}

/** The state of `auth` (a TypeError for anything that is not this copy's `Auth`). */
export function appOf(auth: Auth): App {
  return appOfAuth(auth)
}

/**
 * Validates `options` eagerly (a `ConfigurationError` names the option at fault) and returns the
 * configuration for the other functions. Nothing is fetched yet: discovery happens on the first
 * request that needs the provider, so the app starts even while the provider is down.
 */
export function createAuth(options: AuthOptions): Auth {
  const settings = resolveOptions(options)
  const common = shared(settings.appKey)
  const { logger } = settings
  const app: App = {
    settings,
    providers: new Providers(settings),
    cookies: new CookieJar(settings),
    sessions: new SessionCache(),
    revocations: settings.revocationStore ?? sharedRevocations(common),
    refreshes: common.refreshes,
    report: (event) => report(logger, event),
    rejectCookie: (reason, error) =>
      report(logger, {
        level: reason === 'expired' ? 'debug' : 'warn',
        code: 'session_cookie_rejected',
        message: `a session cookie was rejected (${reason}); the request is anonymous`,
        error,
      }),
  }
  return authOfApp(Object.freeze(app))
}

/** `options` itself when it is an `Auth`, else `createAuth(options)`. */
export function toAuth(options: AuthOptions | Auth): Auth {
  if (options instanceof Auth) return options
  if (options !== null && typeof options === 'object' && BRAND in options) throw notAnAuth(options)
  return createAuth(options)
}
