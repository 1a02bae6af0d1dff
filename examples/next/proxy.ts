import { codeflow } from './lib/codeflow'

/** Serves /login, /callback and /logout, guards /profile, refreshes expiring access tokens. */
export const proxy = codeflow.proxy

export const config = {
  matcher: ['/((?!_next/static|_next/image|favicon.ico).*)'],
}
