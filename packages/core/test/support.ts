/**
 * Helpers shared by the core unit tests: a valid configuration, request contexts, and sessions
 * written by the library itself (through its session module), read back through a Cookie header.
 */
import { createWebContext, type SetCookie, type WebContext } from '../src/adapter.js'
import { type App, appOf } from '../src/auth.js'
import { type Auth, type AuthOptions, createAuth, type SessionData } from '../src/index.js'
import type { Settings } from '../src/options.js'
import { randomId } from '../src/random.js'
import { writeSession } from '../src/session/write.js'

/** What the core holds for `auth` (its settings and state), for tests that look inside. */
export function appFor(auth: Auth): App {
  return appOf(auth)
}

/** The settings `createAuth` resolved from the options. */
export function settingsOf(auth: Auth): Settings {
  return appOf(auth).settings
}

/** The passwords `auth` seals a `kind` of seal with (each secret kept apart by purpose). */
export function sealKeysOf(
  auth: Auth,
  kind: 'session' | 'transaction' | 'logout' = 'session',
): Readonly<Record<string, string>> {
  return appOf(auth).settings.sealKeys[kind]
}

/** Writes `data` as the session of `ctx`, as the library does. */
export function storeSession(auth: Auth, ctx: WebContext, data: SessionData): Promise<void> {
  return writeSession(appOf(auth), ctx, data)
}

/** Now, in epoch seconds (Date.now, which fake timers replace). */
export function epoch(): number {
  return Math.floor(Date.now() / 1000)
}

/** A sealing secret of the minimum length. */
export const SECRET = 'test-secret-0123456789abcdefghijk'

/** The app's origin in most tests. */
export const APP = 'http://localhost:3000'

/** Options that `createAuth` accepts; each test overrides what it checks. */
export function validOptions(overrides: Partial<AuthOptions> = {}): AuthOptions {
  return {
    issuer: 'https://op.example.com',
    clientId: 'client',
    clientSecret: 'client-secret',
    baseUrl: APP,
    secret: SECRET,
    ...overrides,
  }
}

/** `createAuth` over {@link validOptions}. */
export function testAuth(overrides: Partial<AuthOptions> = {}): Auth {
  return createAuth(validOptions(overrides))
}

/** A context over a Web request to `url` (a path is taken relative to {@link APP}). */
export function context(url: string, init: RequestInit = {}): WebContext {
  return createWebContext(new Request(new URL(url, APP), init))
}

/** The Cookie header a browser would send back after these Set-Cookies (deletions dropped). */
export function cookieHeader(cookies: readonly SetCookie[], previous = ''): string {
  const jar = new Map<string, string>()
  for (const pair of previous.split(';')) {
    const eq = pair.indexOf('=')
    if (eq > 0) jar.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim())
  }
  for (const cookie of cookies) {
    if (cookie.options.maxAge !== undefined && cookie.options.maxAge <= 0) jar.delete(cookie.name)
    else jar.set(cookie.name, cookie.value)
  }
  return [...jar].map(([name, value]) => `${name}=${value}`).join('; ')
}

function base64url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url')
}

/** A JWT-shaped ID token (unsigned: the session only decodes what was verified at login). */
export function fakeIdToken(claims: Record<string, unknown> | string): string {
  const payload = typeof claims === 'string' ? claims : JSON.stringify(claims)
  return `${base64url('{"alg":"RS256"}')}.${base64url(payload)}.c2lnbmF0dXJl`
}

/** Session data as the callback would store it, with a fresh id (as every login has). */
export function sessionData(overrides: Partial<SessionData> = {}): SessionData {
  const now = epoch()
  return {
    id: randomId(),
    iss: 'https://op.example.com',
    sub: 'user-1',
    sid: 'op-session',
    idToken: fakeIdToken({
      iss: 'https://op.example.com',
      sub: 'user-1',
      aud: 'client',
      exp: now + 3600,
      iat: now,
      nonce: 'n',
      sid: 'op-session',
      email: 'user@example.com',
      name: 'User One',
    }),
    accessToken: 'access-token',
    tokenType: 'bearer',
    expiresAt: now + 3600,
    refreshToken: 'refresh-token',
    scope: 'openid profile email',
    createdAt: now,
    updatedAt: now,
    ...overrides,
  }
}

/** Stores a session the way the library does and returns the Cookie header that carries it. */
export async function sessionCookie(
  auth: Auth,
  // a session of the app's issuer (a session of another is not the app's)
  data: SessionData = sessionData({ iss: settingsOf(auth).issuer.href }),
): Promise<string> {
  const ctx = context(`${settingsOf(auth).origin}/`)
  await storeSession(auth, ctx, data)
  return cookieHeader(ctx.cookies)
}

/**
 * A client of a dev provider for an app on {@link APP}: `clientId`, its secret
 * `<clientId>-secret`, and the redirect URI `APP + callbackPath`.
 */
export function devClient(clientId: string, callbackPath = '/callback') {
  return { clientId, clientSecret: `${clientId}-secret`, redirectUris: [`${APP}${callbackPath}`] }
}

/** The client options of an app signed in at `provider` as {@link devClient}(`clientId`). */
export function clientAt(provider: { readonly issuer: string }, clientId: string) {
  return { issuer: provider.issuer, clientId, clientSecret: `${clientId}-secret` }
}
