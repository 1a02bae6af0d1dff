import { type App, type Auth, appOf } from '../auth.js'
import { epoch } from '../clock.js'
import { LoginRequestError } from '../errors.js'
import type { HttpContext } from '../http/context.js'
import { type AuthResponse, isNavigation, redirect } from '../http/responses.js'
import { currentPath, safeReturnTo } from '../http/return-to.js'
import { RESERVED_PARAMS, type Settings } from '../options.js'
import { newDPoPKey } from '../protocol/dpop.js'
import { authorizationUrl, loginSecrets } from '../protocol/provider.js'
import { startTransaction } from '../protocol/transaction.js'
import { type Route, type RouteHandler, serve } from './route.js'

/** Options of one login request. */
export interface LoginOptions {
  /** where to go after login; checked to be same-origin; default the `returnTo` query parameter */
  returnTo?: string
  /**
   * authorization request parameters for this login (e.g. `{ prompt: 'login', login_hint }`),
   * over the `authorizationParams` option and the query's; the protocol's own are refused
   */
  authorizationParams?: Readonly<Record<string, string>>
  /**
   * seconds: the authentication must be at most this old (sent as `max_age`; the new ID token's
   * `auth_time` must be present and recent enough, else the login fails with 401)
   */
  maxAge?: number
  /**
   * the authentication context classes one of which the new ID token's `acr` must be (sent as
   * `acr_values`; another `acr` fails the login with 401)
   */
  acr?: string | readonly string[]
  /**
   * the `id` of the provider of `providers` to sign in with (over the one `resolveProvider` picks:
   * the session then reads as anonymous where the resolver picks another); default the one
   * `/login?provider=` or `?iss=` names, else the one `resolveProvider` picks, else the first
   */
  provider?: string
}

/** The parameters `/login` passes from its query to the provider (OIDC Core 3.1.2.1); no other. */
const PASSED = ['prompt', 'login_hint', 'max_age', 'acr_values', 'ui_locales'] as const
const PROMPTS = new Set(['none', 'login', 'consent', 'select_account'])
/** A space-separated value's tokens: printable ASCII without quotes or backslashes. */
const TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]{1,256}$/
const LOCALE = /^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$/

/** Whether `text` has a control character (C0 or DEL): not text a provider should be sent. */
function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code < 0x20 || code === 0x7f) return true
  }
  return false
}

function tokens(name: string, value: string, valid: RegExp): string[] {
  const list = value.split(' ').filter(Boolean)
  if (list.length === 0 || list.length > 16 || !list.every((token) => valid.test(token))) {
    throw new LoginRequestError(`the "${name}" parameter is not a list of valid values`)
  }
  return list
}

/** `max_age` as a whole number of seconds, or a `LoginRequestError`. */
function seconds(name: string, value: string): number {
  if (!/^\d{1,9}$/.test(value)) {
    throw new LoginRequestError(`the "${name}" parameter must be a whole number of seconds`)
  }
  return Number(value)
}

/** The login parameters of `/login`'s query, each checked (400 when one is wrong). */
function queryParameters(query: URLSearchParams): Record<string, string> {
  const passed: Record<string, string> = {}
  for (const name of PASSED) {
    const values = query.getAll(name)
    if (values.length === 0) continue
    if (values.length > 1) throw new LoginRequestError(`the "${name}" parameter is repeated`)
    const value = values[0] as string
    switch (name) {
      case 'prompt': {
        const prompts = tokens(name, value, TOKEN)
        if (!prompts.every((prompt) => PROMPTS.has(prompt))) {
          throw new LoginRequestError(
            'the "prompt" parameter must be none, login, consent or select_account',
          )
        }
        if (prompts.includes('none') && prompts.length > 1) {
          throw new LoginRequestError('"prompt=none" cannot be combined with another prompt')
        }
        passed.prompt = prompts.join(' ')
        break
      }
      case 'max_age':
        passed.max_age = String(seconds(name, value))
        break
      case 'login_hint':
        if (value.length === 0 || value.length > 512 || hasControl(value)) {
          throw new LoginRequestError('the "login_hint" parameter is empty, too long or not text')
        }
        passed.login_hint = value
        break
      case 'acr_values':
        passed.acr_values = tokens(name, value, TOKEN).join(' ')
        break
      case 'ui_locales':
        passed.ui_locales = tokens(name, value, LOCALE).join(' ')
        break
    }
  }
  return passed
}

/**
 * A third-party initiated login's `target_link_uri` (OIDC Core 4), which must be on the app's
 * origin (400 otherwise, not a silent landing elsewhere); `undefined` when it has none.
 */
function thirdPartyTarget(app: App, query: URLSearchParams): string | undefined {
  for (const name of ['iss', 'target_link_uri']) {
    if (query.getAll(name).length > 1) {
      throw new LoginRequestError(`the "${name}" parameter is repeated`)
    }
  }
  const target = query.get('target_link_uri')
  if (target === null) return undefined
  if (safeReturnTo(target, app.settings.baseUrl) === undefined) {
    throw new LoginRequestError('the "target_link_uri" parameter is not a page of this app')
  }
  return target
}

/** The `acr` values of `LoginOptions.acr` (or a guard's: `caller` names it in the error), checked. */
export function acrList(acr: string | readonly string[], caller = 'login'): string[] {
  const list = typeof acr === 'string' ? [acr] : Array.isArray(acr) ? [...acr] : []
  if (list.length === 0 || !list.every((value) => typeof value === 'string' && TOKEN.test(value))) {
    throw new TypeError(`${caller}: "acr" must be one or more acr values (no spaces or quotes)`)
  }
  return list
}

/**
 * The authorization request parameters of one login: the `authorizationParams` option, the
 * query's login parameters, then the app's own for this login (`options`), with what the
 * callback must check (`silent` for `prompt=none`, `maxAge`, the required `acr`).
 */
function loginParameters(
  settings: Settings,
  query: URLSearchParams | undefined,
  options: LoginOptions,
): { params: Record<string, string>; maxAge?: number; acr?: string[] } {
  const fromQuery = query ? queryParameters(query) : {}
  // the app's configured parameters are its policy: a login request cannot override them (a
  // configured max_age cannot be raised from the query, nor prompt=login turned into none)
  const params: Record<string, string> = { ...fromQuery, ...settings.authorizationParams }
  for (const [name, value] of Object.entries(options.authorizationParams ?? {})) {
    if (RESERVED_PARAMS.has(name)) {
      throw new TypeError(`login: "authorizationParams.${name}" is set by codeflow itself`)
    }
    if (typeof value !== 'string') {
      throw new TypeError(`login: "authorizationParams.${name}" must be a string`)
    }
    params[name] = value
  }
  if (options.maxAge !== undefined) {
    if (!Number.isInteger(options.maxAge) || options.maxAge < 0) {
      throw new TypeError('login: "maxAge" must be a whole number of seconds')
    }
    params.max_age = String(options.maxAge)
  }
  // the acr asked for in code, or in /login's query (what a step-up's login_url carries), must be
  // the new ID token's; a configured acr_values stays a preference
  const acr =
    options.acr !== undefined
      ? acrList(options.acr)
      : fromQuery.acr_values !== undefined && params.acr_values === fromQuery.acr_values
        ? fromQuery.acr_values.split(' ')
        : undefined
  if (acr) params.acr_values = acr.join(' ')
  if (params.max_age !== undefined && !/^\d{1,9}$/.test(params.max_age)) {
    throw new TypeError('login: "authorizationParams.max_age" must be a whole number of seconds')
  }
  const maxAge = params.max_age === undefined ? undefined : Number(params.max_age)
  return {
    params,
    ...(maxAge === undefined ? {} : { maxAge }),
    ...(acr ? { acr } : {}),
  }
}

/**
 * Starts a login: fresh PKCE verifier (S256), state and nonce, sealed in a transaction cookie of
 * their own, then a redirect to the provider's authorization endpoint.
 */
export const login: RouteHandler<LoginOptions> = (app, ctx, options = {}) =>
  beginLogin(app, ctx, options, ctx.url.searchParams)

/**
 * A login started by the app's code or a guard, not by a request to `/login`: the request's own
 * query (another page's) is not read, only `options`.
 */
export function startLoginFor(
  app: App,
  ctx: HttpContext,
  options: LoginOptions = {},
): Promise<AuthResponse> {
  return beginLogin(app, ctx, options, undefined)
}

/**
 * The provider a login signs in with: the one the app's code names (`LoginOptions.provider`);
 * else the one `/login`'s query names (`provider=<id>`, `iss=<issuer>`: a third-party initiated
 * login, OIDC Core 4, or a choice among `providers`), which must be the request's when
 * `resolveProvider` picks one; else the request's; else the first. A query naming a provider the
 * app does not have, or another than the code's or the request's, is a 400.
 */
function providerOfLogin(
  app: App,
  ctx: HttpContext,
  options: LoginOptions,
  query: URLSearchParams | undefined,
): Settings {
  const { providers } = app
  const asked = query ? queryProviders(app, query) : undefined
  if (options.provider !== undefined) {
    const named =
      typeof options.provider === 'string' ? providers.byId(options.provider) : undefined
    if (named === undefined) {
      throw new TypeError(
        `login: "provider" ${JSON.stringify(options.provider)} is not the "id" of one of "providers"`,
      )
    }
    if (asked !== undefined && !asked.includes(named)) {
      throw new LoginRequestError(
        'the login names another identity provider than this page signs in with',
        `the query of the login names ${asked.map((p) => JSON.stringify(p.providerId)).join(', ')}, but the app's code logs in with ${JSON.stringify(named.providerId)}`,
      )
    }
    return named
  }
  const resolved = providers.forRequest(ctx)
  if (asked === undefined) return resolved ?? providers.default
  if (resolved === undefined) return asked[0] as Settings
  if (!asked.includes(resolved)) {
    throw new LoginRequestError(
      'the login names another identity provider than this address signs in with',
      `the query of the login names ${asked.map((p) => JSON.stringify(p.providerId)).join(', ')}, but "resolveProvider" picks ${JSON.stringify(resolved.providerId)} for this request`,
    )
  }
  return resolved
}

/**
 * The providers `/login`'s query names, by `provider` (an id) and `iss` (an issuer: two clients
 * at one issuer are both named), both of which must hold; `undefined` when it names none.
 */
function queryProviders(app: App, query: URLSearchParams): readonly Settings[] | undefined {
  const { providers } = app
  // a repeated `iss` is refused with `target_link_uri` (thirdPartyTarget), before this
  if (query.getAll('provider').length > 1) {
    throw new LoginRequestError('the "provider" parameter is repeated')
  }
  let named: readonly Settings[] | undefined
  const id = query.get('provider')
  if (id !== null) {
    const provider = providers.byId(id)
    if (provider === undefined) {
      throw new LoginRequestError(
        'the "provider" parameter is not a provider this app signs in with',
        `a login named provider ${JSON.stringify(id)}, but the app's providers are ${providers.all.map((p) => JSON.stringify(p.providerId)).join(', ')}`,
      )
    }
    named = [provider]
  }
  const iss = query.get('iss')
  if (iss !== null) {
    const of = providers.byIssuer(iss)
    if (of.length === 0) {
      throw new LoginRequestError(
        'the "iss" parameter is not an issuer this app signs in with',
        `a login named iss ${JSON.stringify(iss)}, but the app signs in with ${providers.all.map((p) => JSON.stringify(p.issuer.href)).join(', ')}`,
      )
    }
    named = named === undefined ? of : named.filter((provider) => of.includes(provider))
    if (named.length === 0) {
      throw new LoginRequestError('the "iss" parameter is not the issuer of the "provider"')
    }
  }
  return named
}

async function beginLogin(
  app: App,
  ctx: HttpContext,
  options: LoginOptions,
  query: URLSearchParams | undefined,
): Promise<AuthResponse> {
  const initiated = query?.has('iss') === true
  const target = query && initiated ? thirdPartyTarget(app, query) : undefined
  const requested = options.returnTo ?? target ?? query?.get('returnTo')
  const returnTo = safeReturnTo(requested, app.settings.baseUrl) ?? app.settings.homeUrl
  const settings = providerOfLogin(app, ctx, options, query)
  const { params, maxAge, acr } = loginParameters(settings, query, options)
  warnOfAnotherHost(app, ctx)
  const provider = await app.providers.get(settings)
  const secrets = await loginSecrets()
  // the session's own DPoP key, made now: the code and the tokens are bound to it
  const dpopKey = settings.dpop ? await newDPoPKey() : undefined
  // first the URL (a pushed request may fail: then no transaction cookie is left behind)
  const url = await authorizationUrl(provider, settings, { ...secrets, dpopKey }, params)
  await startTransaction(app, ctx, {
    state: secrets.state,
    nonce: secrets.nonce,
    codeVerifier: secrets.codeVerifier,
    returnTo,
    iss: provider.issuer,
    ...(settings.multipleProviders ? { provider: settings.providerId } : {}),
    iat: epoch(settings),
    ...(dpopKey ? { dpopKey } : {}),
    ...(params.prompt === 'none' ? { silent: true } : {}),
    ...(maxAge === undefined ? {} : { maxAge }),
    ...(acr ? { acr } : {}),
  })
  return redirect(url)
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]'])

/**
 * A login opened at another loopback name than `baseUrl`'s (127.0.0.1 for localhost): its
 * transaction cookie is set there, the provider returns to `baseUrl`, and the callback finds no
 * login. Told to the operator; proxies that rewrite Host make other mismatches normal.
 */
function warnOfAnotherHost(app: App, ctx: HttpContext): void {
  const { baseUrl } = app.settings
  const host = ctx.headers.get('host')
  if (host === null || host === baseUrl.host || !LOOPBACK.has(baseUrl.hostname)) return
  const name = host.replace(/:\d+$/, '')
  if (!LOOPBACK.has(name)) return
  app.report({
    level: 'warn',
    code: 'host_mismatch',
    message: `this browser started a login at http://${host}, but "baseUrl" is ${baseUrl.origin}: the login's cookie stays at ${host} and the provider returns to ${baseUrl.host}, so the sign-in fails; open the app at ${baseUrl.origin}, or set "baseUrl" to the address the browser uses`,
  })
}

/** Whether the browser sent the request without the user asking for it (a prefetch, a prerender). */
export function speculative(ctx: HttpContext): boolean {
  const purpose = ctx.headers.get('sec-purpose') ?? ctx.headers.get('purpose') ?? ''
  return /prefetch|prerender/i.test(purpose) || ctx.headers.has('next-router-prefetch')
}

/**
 * With `attemptSilentLogin`, for a visitor without a session: the login with `prompt=none` that
 * this browser session tries once, at its first GET page navigation, back to that page (a user
 * signed in at the provider comes back signed in; anyone else lands anonymous, and the attempt is
 * not made again until the browser closes). `undefined` when there is nothing to try: another
 * request (an API call, a prefetch), or the attempt was made.
 */
export function silentLoginFor(app: App, ctx: HttpContext): Promise<AuthResponse> | undefined {
  if (!app.settings.attemptSilentLogin || ctx.method !== 'GET' || !isNavigation(ctx)) {
    return undefined
  }
  // a top-level page only: a frame (cross-site, it never gets the Lax cookie) would try each time
  const dest = ctx.headers.get('sec-fetch-dest')
  if ((dest !== null && dest !== 'document') || speculative(ctx)) return undefined
  if (app.cookies.silentTried(ctx)) return undefined
  // remembered first: if the provider or the callback fails, the page is not redirected again
  app.cookies.writeSilentTried(ctx)
  return startLoginFor(app, ctx, {
    returnTo: currentPath(ctx.url),
    authorizationParams: { prompt: 'none' },
  })
}

/** The login route: GET. */
export const loginRoute: Route<LoginOptions> = { methods: ['GET'], handle: login }

/**
 * Starts a login from the app's own code (not the `/login` route: the request's query is not
 * read): `options` alone say where to return and what to ask.
 */
export function startLogin(
  auth: Auth,
  ctx: HttpContext,
  options?: LoginOptions,
): Promise<AuthResponse> {
  return startLoginFor(appOf(auth), ctx, options)
}

/** The login route, for an app that mounts it itself. */
export function handleLogin(
  auth: Auth,
  ctx: HttpContext,
  options?: LoginOptions,
): Promise<AuthResponse> {
  return serve(appOf(auth), loginRoute, ctx, options)
}
