/**
 * Type test (compiled by `pnpm typecheck`, never run): what `@codeflow/fastify` declares on
 * Fastify's types: `request.auth` on every request, signed in behind `requireAuth(handler)`,
 * the plugin's options, and the error handler.
 */
import { createAuth, type RequestAuth, type SignedInAuth } from '@codeflow/core'
import {
  type AuthenticatedRequest,
  authErrorHandler,
  codeflow,
  login,
  logout,
  requireAuth,
} from '@codeflow/fastify'
import Fastify, { type FastifyRequest } from 'fastify'

const options = {
  issuer: 'https://op.example',
  clientId: 'app',
  baseUrl: 'https://app.example',
  secret: 'a-secret-of-at-least-thirty-two-characters',
}

const app = Fastify()
// the options of createAuth, or an Auth
app.register(codeflow, options)
app.register(codeflow, createAuth(options))
app.register(codeflow, () => options)

// declaration merging: request.auth on every request, not optional
app.get('/', (request) => {
  const auth: RequestAuth = request.auth
  // anonymous or signed in: user may be undefined until isAuthenticated narrows it
  // @ts-expect-error user may be undefined
  const anonymousSub: string = auth.user.sub
  void anonymousSub
  return auth.isAuthenticated ? auth.user.sub : 'anonymous'
})

// the preHandler form: no narrowing in the handler's types
app.get('/me', { preHandler: requireAuth({ unauthenticated: 'json' }) }, (request) => {
  return request.auth.user?.sub
})
// the hook form, for every route of a plugin
app.register(async (child) => {
  child.addHook('preHandler', requireAuth())
})

// the handler form: signed in, with the route's own generic
app.get(
  '/orders/:id',
  requireAuth<{ Params: { id: string } }>(
    (request, reply) => {
      const signedIn: SignedInAuth = request.auth
      const id: string = request.params.id
      return reply.send({ id, sub: signedIn.user.sub, endsAt: request.auth.session.endsAt })
    },
    { claims: { email_verified: true } },
  ),
)
export const typed = (request: AuthenticatedRequest): string => request.auth.user.sub
// @ts-expect-error a plain request is not known to be signed in
export const untyped = (request: FastifyRequest): SignedInAuth => request.auth

// login and logout from the app's own handlers
app.get('/signup', (request, reply) =>
  login(request, reply, { authorizationParams: { screen_hint: 'signup' } }),
)
app.post('/signout', (request, reply) => logout(request, reply, { returnTo: '/bye' }))

// the error handler, alone or with a fallback of the app's
app.setErrorHandler(authErrorHandler())
app.setErrorHandler(
  authErrorHandler((error, _request, reply) => reply.code(error.statusCode ?? 500).send('failed')),
)
