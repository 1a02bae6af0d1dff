import type { Auth, AuthOptions } from '@codeflow/core'
import {
  adminGuard,
  adminPage,
  callApi,
  type ExampleOptions,
  homePage,
  internalErrorPage,
  profilePage,
  stepUpGuard,
  stepUpPage,
} from '@codeflow/example-shared'
import { authErrorHandler, codeflow, requireAuth } from '@codeflow/fastify'
import Fastify, { type FastifyInstance } from 'fastify'

const HTML = 'text/html; charset=utf-8'

/**
 * The Fastify example app (examples/README.md), for the given codeflow options. Fastify loads
 * plugins at `ready()`: pass `createAuth(options)` to have the options checked at once.
 */
export function createApp(
  options: AuthOptions | Auth,
  example: ExampleOptions = {},
): FastifyInstance {
  const app = Fastify()
  app.register(codeflow, options)

  app.setErrorHandler(
    authErrorHandler((error, _request, reply) => {
      // Fastify's own 4xx (a malformed request) keep their status, with Fastify's rendering
      if (error.statusCode !== undefined && error.statusCode < 500) throw error
      console.error(error)
      return reply.code(500).type(HTML).send(internalErrorPage())
    }),
  )

  app.get('/', (request, reply) => reply.type(HTML).send(homePage(request.auth.user)))

  app.get(
    '/profile',
    requireAuth(
      (request, reply) =>
        reply.header('Cache-Control', 'no-store').type(HTML).send(profilePage(request.auth.user)),
      { unauthenticated: 'redirect' },
    ),
  )

  app.get(
    '/admin',
    requireAuth(
      (request, reply) =>
        reply.header('Cache-Control', 'no-store').type(HTML).send(adminPage(request.auth.user)),
      { unauthenticated: 'redirect', ...adminGuard(example) },
    ),
  )

  app.get(
    '/api/admin',
    requireAuth(
      (request, reply) =>
        reply.header('Cache-Control', 'no-store').send({ sub: request.auth.user.sub }),
      { unauthenticated: 'json', ...adminGuard(example) },
    ),
  )

  app.get(
    '/step-up',
    requireAuth(
      (request, reply) =>
        reply.header('Cache-Control', 'no-store').type(HTML).send(stepUpPage(request.auth.session)),
      { unauthenticated: 'redirect', ...stepUpGuard(example) },
    ),
  )

  app.get('/api/me', { preHandler: requireAuth({ unauthenticated: 'json' }) }, (request, reply) =>
    reply.header('Cache-Control', 'no-store').send(request.auth.user),
  )

  app.get(
    '/api/token',
    requireAuth(
      async (request, reply) => {
        const token = await request.auth.accessToken()
        return reply
          .header('Cache-Control', 'no-store')
          .send({ expiresAt: token.expiresAt ?? null })
      },
      { unauthenticated: 'json' },
    ),
  )

  app.get(
    '/api/call',
    requireAuth(
      async (request, reply) => {
        const answer = await callApi(example.apiUrl, (url) => request.auth.fetch(url))
        return reply.header('Cache-Control', 'no-store').code(answer.status).send(answer.body)
      },
      { unauthenticated: 'json' },
    ),
  )

  return app
}
