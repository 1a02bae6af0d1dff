/** Guards: the session a route needs, or what to answer instead. */
import { type App, type Auth, appOf } from '../auth.js'
import { epoch } from '../clock.js'
import { AuthError, ForbiddenError, StepUpError, UnauthenticatedError } from '../errors.js'
import { answerError } from '../http/answer.js'
import type { HttpContext } from '../http/context.js'
import { type AuthResponse, errorResponse, isNavigation, redirect } from '../http/responses.js'
import { currentPath } from '../http/return-to.js'
import { chain, type MaybePromise } from '../maybe.js'
import type { Settings } from '../options.js'
import { acrList, speculative, startLoginFor } from '../routes/login.js'
import { readSession } from './read.js'
import type { Session, UserClaims } from './types.js'

/**
 * How a guard answers an anonymous request: `redirect` to login (pages), `json` 401 (APIs), or
 * `auto`: a redirect for a browser page navigation, 401 JSON otherwise.
 */
export type UnauthenticatedMode = 'auto' | 'redirect' | 'json'

/**
 * What one claim must be: a string, number or boolean it must equal; or `{ includes }`: an array
 * claim must contain the value, a string claim must be it or have it among its space-separated
 * words (as `scope` does; never a substring: `superadmin` does not include `admin`).
 */
export type ClaimMatcher = string | number | boolean | { readonly includes: string | number }

/**
 * Who may pass a guard, by the user's claims: a predicate, or matchers by claim name (all must
 * match; a missing claim, or one of another type, does not).
 */
export type ClaimsRule =
  | ((user: UserClaims) => boolean)
  | { readonly [claim: string]: ClaimMatcher }

/** Options of a guard. */
export interface GuardOptions {
  /** how to answer an anonymous request; default `auto` */
  unauthenticated?: UnauthenticatedMode
  /**
   * who may pass, by the user's claims; a signed-in user who does not match gets 403 (an HTML
   * page or JSON, never a login redirect: signing in again would not change the claims)
   */
  claims?: ClaimsRule
  /**
   * seconds: the user's authentication (the ID token's `auth_time`) must be at most this old;
   * an older one, or none, is sent to sign in again with `max_age` (a page navigation), or gets
   * 401 `insufficient_user_authentication` (an API call)
   */
  maxAge?: number
  /**
   * the session's `acr` must be one of these; another is sent to sign in again with `acr_values`
   * (a page navigation), or gets 401 `insufficient_user_authentication` (an API call)
   */
  acr?: string | readonly string[]
  /**
   * the `id` (or ids) of the providers of `providers` whose users may pass: an anonymous visitor
   * is sent to log in at that provider (the first, with several); a user of another provider
   * gets 403
   */
  provider?: string | readonly string[]
}

/** The outcome of a guard: the session, or the response to send instead. */
export type GuardResult =
  | { readonly session: Session; readonly response?: undefined }
  | { readonly session?: undefined; readonly response: AuthResponse }

/** What a step-up's login asks for: `/login` sends them and checks them in the new ID token. */
export interface StepUp {
  readonly maxAge?: number | undefined
  readonly acr?: readonly string[] | undefined
  /**
   * the `id` of the provider to log in at (the session's, for a step-up): with `providers`, sent
   * as `provider`
   */
  readonly provider?: string | readonly string[] | undefined
}

/**
 * The login URL, with `returnTo` (a path) to come back to afterwards when given, and what a
 * step-up asks for (`max_age`, `acr_values`).
 */
export function loginUrlOf(app: App, returnTo?: string, stepUp: StepUp = {}): string {
  const url = app.settings.origin + app.settings.routes.login
  const query = [
    ['returnTo', returnTo],
    ['max_age', stepUp.maxAge === undefined ? undefined : String(stepUp.maxAge)],
    ['acr_values', stepUp.acr?.join(' ')],
    ['provider', app.settings.multipleProviders ? providerOf(app, stepUp.provider) : undefined],
  ].flatMap(([name, value]) =>
    value === undefined ? [] : [`${name}=${encodeURIComponent(value)}`],
  )
  return query.length === 0 ? url : `${url}?${query.join('&')}`
}

/**
 * The provider a login URL names: `provider`'s first id (a guard's list: log in at the first),
 * when it is the id of one of the app's providers (a `TypeError` otherwise).
 */
function providerOf(app: App, provider: StepUp['provider']): string | undefined {
  const id = typeof provider === 'string' ? provider : provider?.[0]
  if (id !== undefined && app.providers.byId(id) === undefined) {
    throw new TypeError(
      `loginUrl: "provider" ${JSON.stringify(id)} is not the "id" of one of "providers"`,
    )
  }
  return id
}

/** The login URL that returns to the current page afterwards (GET and HEAD only). */
export function loginUrlFor(app: App, ctx: HttpContext, provider?: string): string {
  const back = ctx.method === 'GET' || ctx.method === 'HEAD' ? currentPath(ctx.url) : undefined
  // the page's own provider, when the resolver picks one: /login itself may not tell (a tenant
  // by path), and a login elsewhere would come back to a page that refuses its session
  const own =
    provider ??
    (app.settings.multipleProviders ? app.providers.forRequest(ctx)?.providerId : undefined)
  return loginUrlOf(app, back, { provider: own })
}

/** The session, or throws `UnauthenticatedError` (401, with the login URL). */
export async function requireSession(auth: Auth, ctx: HttpContext): Promise<Session> {
  const app = appOf(auth)
  const session = await readSession(app, ctx)
  if (!session) throw new UnauthenticatedError(loginUrlFor(app, ctx))
  return session
}

/** Whether `value` is what `matcher` asks. */
function matches(value: unknown, matcher: ClaimMatcher): boolean {
  if (typeof matcher !== 'object' || matcher === null) return value === matcher
  const wanted = matcher.includes
  if (Array.isArray(value)) return value.includes(wanted)
  if (typeof value === 'string' && typeof wanted === 'string') {
    return value.split(' ').includes(wanted)
  }
  return false
}

/** Whether `user` passes `rule`; a malformed rule is the app's mistake (a `TypeError`). */
function allowed(rule: ClaimsRule, user: UserClaims): boolean {
  if (typeof rule === 'function') return rule(user) === true
  if (rule === null || typeof rule !== 'object' || Object.keys(rule).length === 0) {
    throw new TypeError(
      'requireAuth: "claims" must be a function or an object of one or more matchers',
    )
  }
  return Object.entries(rule).every(([name, matcher]) => {
    const kind = typeof matcher
    const valid =
      kind === 'string' ||
      kind === 'number' ||
      kind === 'boolean' ||
      (kind === 'object' &&
        matcher !== null &&
        (typeof (matcher as { includes?: unknown }).includes === 'number' ||
          (typeof (matcher as { includes?: unknown }).includes === 'string' &&
            (matcher as { includes: string }).includes !== '')))
    if (!valid) {
      throw new TypeError(
        `requireAuth: "claims.${name}" must be a value to equal or { includes: value }`,
      )
    }
    return Object.hasOwn(user, name) && matches((user as Record<string, unknown>)[name], matcher)
  })
}

/** The providers a guard's `provider` names, checked (a `TypeError` for an id the app lacks). */
function guardProviders(app: App, provider: string | readonly string[]): readonly Settings[] {
  const ids = typeof provider === 'string' ? [provider] : Array.isArray(provider) ? provider : []
  if (ids.length === 0) throw new TypeError('requireAuth: "provider" must be one or more ids')
  return ids.map((id) => {
    const found = typeof id === 'string' ? app.providers.byId(id) : undefined
    if (found === undefined) {
      throw new TypeError(
        `requireAuth: "provider" ${JSON.stringify(id)} is not the "id" of one of "providers"`,
      )
    }
    return found
  })
}

/** The `acr` values of a guard, checked, or `undefined`. */
function acrValues(acr: string | readonly string[] | undefined): readonly string[] | undefined {
  return acr === undefined ? undefined : acrList(acr, 'requireAuth')
}

/** What the session's authentication lacks for `maxAge` and `acr` (`undefined`: nothing). */
function stepUpNeeded(
  app: App,
  session: Session,
  maxAge: number | undefined,
  acr: readonly string[] | undefined,
): string | undefined {
  if (maxAge !== undefined) {
    if (!Number.isInteger(maxAge) || maxAge < 0) {
      throw new TypeError('requireAuth: "maxAge" must be a whole number of seconds')
    }
    if (session.authTime === undefined) return 'the time of your sign-in is not known'
    // with the provider's clock skew, as the callback checks it: a login just made passes
    const { clockTolerance } = app.settings
    if (epoch(app.settings) - session.authTime > maxAge + clockTolerance) {
      return 'your sign-in is too old'
    }
  }
  if (acr !== undefined && (session.acr === undefined || !acr.includes(session.acr))) {
    return 'your sign-in did not use the authentication this page needs'
  }
  return undefined
}

/**
 * The session when there is one and it passes `options`; otherwise: anonymous, a 302 to login
 * with a returnTo for a page navigation, or a 401 JSON error with `WWW-Authenticate` for an API
 * call (see `GuardOptions`); claims that do not match, 403; an authentication too old or of
 * another `acr`, a new login asking for it (navigation) or 401 `insufficient_user_authentication`.
 * At once when the session read needs no I/O and nothing is to be started.
 */
export function guard(
  app: App,
  ctx: HttpContext,
  options: GuardOptions = {},
): MaybePromise<GuardResult> {
  return chain(readSession(app, ctx), (session): MaybePromise<GuardResult> => {
    // read only when a request is turned away: a signed-in request costs no header lookups
    const navigation = () => {
      const mode = options.unauthenticated ?? 'auto'
      return mode === 'redirect' || (mode === 'auto' && isNavigation(ctx) && !speculative(ctx))
    }
    const providers =
      options.provider === undefined ? undefined : guardProviders(app, options.provider)
    if (!session) {
      const url = loginUrlFor(app, ctx, providers?.[0]?.providerId)
      if (navigation()) return { response: redirect(url) }
      return { response: errorResponse(ctx, new UnauthenticatedError(url), { format: 'json' }) }
    }
    if (providers !== undefined && !providers.includes(app.providers.ofSession(session))) {
      const error = new ForbiddenError(
        'you are signed in, but not with the provider this page needs',
        'wrong_provider',
      )
      const format = navigation() ? 'html' : 'json'
      return { response: errorResponse(ctx, error, { format, home: app.settings.homeUrl }) }
    }
    if (options.claims !== undefined && !allowed(options.claims, session.user)) {
      const error = new ForbiddenError(
        'you are signed in, but not allowed here',
        'insufficient_claims',
      )
      const format = navigation() ? 'html' : 'json'
      return { response: errorResponse(ctx, error, { format, home: app.settings.homeUrl }) }
    }
    const { maxAge } = options
    const acr = acrValues(options.acr)
    const lacking = stepUpNeeded(app, session, maxAge, acr)
    if (lacking === undefined) return { session }
    const page = navigation()
    if (page && ctx.method === 'GET') {
      // a new login asking for the authentication the page needs, back to it afterwards
      return startLoginFor(app, ctx, {
        returnTo: currentPath(ctx.url),
        ...(session.provider === undefined ? {} : { provider: session.provider }),
        ...(maxAge === undefined ? {} : { maxAge }),
        ...(acr === undefined ? {} : { acr }),
      }).then(
        (response) => ({ response }),
        (error: unknown) => {
          // a provider that cannot start the login (down, refusing a push): its page, as /login's
          if (!(error instanceof AuthError)) throw error
          return { response: answerError(app, ctx, error) }
        },
      )
    }
    const back = ctx.method === 'GET' || ctx.method === 'HEAD' ? currentPath(ctx.url) : undefined
    const url = loginUrlOf(app, back, { maxAge, acr, provider: session.provider })
    const error = new StepUpError(lacking, url, { maxAge, acrValues: acr })
    return { response: errorResponse(ctx, error, { format: page ? 'html' : 'json' }) }
  })
}
