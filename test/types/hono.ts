/**
 * Type test (compiled by `pnpm typecheck`, never run): `c.var.auth` is typed through Hono's
 * variables (`AuthEnv`), and narrowed to a signed-in `SignedInAuth` behind `requireAuth()`.
 */
import {
  type AuthEnv,
  auth,
  authErrorHandler,
  login,
  logout,
  type RequestAuth,
  requireAuth,
  type SignedInAuth,
} from '@codeflow/hono'
import { Hono } from 'hono'

const app = new Hono<AuthEnv>()
app.use(
  auth({
    issuer: 'https://op.example',
    clientId: 'app',
    baseUrl: 'https://app.example',
    secret: 'a-secret-of-at-least-thirty-two-characters',
  }),
)

// every request: signed in or not, to be narrowed
app.get('/', (c) => {
  const state: RequestAuth = c.get('auth')
  // @ts-expect-error anonymous requests have no user
  const sub: string = c.var.auth.user.sub
  void sub
  return c.text(state.isAuthenticated ? state.user.sub : 'anonymous')
})

// behind requireAuth(): signed in, no `!` or `?.`
app.get('/me', requireAuth({ unauthenticated: 'json' }), (c) => {
  const signedIn: SignedInAuth = c.var.auth
  const sub: string = c.get('auth').user.sub
  return c.json({ sub, idToken: signedIn.session.idToken })
})

// the helpers answer a Response for the app's own handlers
app.get('/signup', (c) => login(c, { authorizationParams: { screen_hint: 'signup' } }))
app.post('/signout', (c) => logout(c, { returnTo: '/' }))

// authErrorHandler composes with the app's own handler, or stands alone
app.onError(authErrorHandler((error, c) => c.text(error.message, 500)))
app.onError(authErrorHandler())

// @ts-expect-error requireAuth's options are GuardOptions
requireAuth({ unauthenticated: 'sometimes' })
