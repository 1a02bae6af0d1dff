/**
 * @codeflow/core/testing: what `@codeflow/testing` is built on, kept off the adapters' entry
 * point. Writing a session takes the app's secret and store, so this makes nothing possible that
 * they do not; it is still for tests only.
 */
import { type Auth, appOf } from './auth.js'
import { epoch } from './clock.js'
import { createWebContext } from './http/context.js'
import type { SetCookie } from './http/cookies.js'
import { randomId } from './random.js'
import { rememberProviderSession } from './session/end.js'
import type { SessionData } from './session/types.js'
import { writeSession } from './session/write.js'

/**
 * Writes `data` as a new session of `auth`, as a login does (in its server-side store too, with
 * one), under an id of its own (a store entry of another session is never written over), and
 * returns the session written and the cookies a browser would be given. A `createdAt` or
 * `updatedAt` in the future (beyond `clockTolerance`) is refused: it would outlive the lifetimes
 * and the logouts by `sub`.
 */
export async function mintSessionCookies(
  auth: Auth,
  data: Omit<SessionData, 'id'>,
): Promise<{ readonly session: SessionData; readonly cookies: readonly SetCookie[] }> {
  const app = appOf(auth)
  const latest = epoch(app.settings) + app.settings.clockTolerance
  if (data.createdAt > latest || data.updatedAt > latest) {
    throw new TypeError('mintSession: "createdAt" and "updatedAt" must not be in the future')
  }
  if (data.updatedAt < data.createdAt) {
    throw new TypeError('mintSession: "updatedAt" must not be before "createdAt"')
  }
  const session: SessionData = { ...data, id: randomId() }
  const ctx = createWebContext(new Request(app.settings.homeUrl))
  // as a login does: a logout that names only the provider session finds its user
  await rememberProviderSession(app, session)
  await writeSession(app, ctx, session)
  return { session, cookies: ctx.cookies }
}

/**
 * What a session of `auth` signed in at its provider `provider` (an id; default the first) is
 * made of: that provider's issuer as the app wrote it, its client id, and its id with
 * `providers`.
 */
export function sessionOrigin(
  auth: Auth,
  provider?: string,
): { readonly iss: string; readonly clientId: string; readonly provider?: string } {
  const app = appOf(auth)
  const settings = provider === undefined ? app.providers.default : app.providers.byId(provider)
  if (settings === undefined) {
    throw new TypeError(
      `"provider" ${JSON.stringify(provider)} is not the "id" of one of "providers"`,
    )
  }
  return {
    iss: settings.issuerName,
    clientId: settings.clientId,
    ...(settings.multipleProviders ? { provider: settings.providerId } : {}),
  }
}

/** Now by the app's `clock`, in epoch seconds. */
export function appNow(auth: Auth): number {
  return epoch(appOf(auth).settings)
}
