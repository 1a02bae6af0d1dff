import type { AuthOptions } from '@codeflow/core'
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
import { type AuthEnv, auth, authErrorHandler, requireAuth } from '@codeflow/hono'
import { Hono } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'

/** The Hono example app (examples/README.md), for the given codeflow options. */
export function createApp(options: AuthOptions, example: ExampleOptions = {}): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>()
  app.use(auth(options))

  app.get('/', (c) => c.html(homePage(c.var.auth.user)))

  app.get('/profile', requireAuth({ unauthenticated: 'redirect' }), (c) => {
    c.header('Cache-Control', 'no-store')
    return c.html(profilePage(c.var.auth.user))
  })

  app.get('/admin', requireAuth({ unauthenticated: 'redirect', ...adminGuard(example) }), (c) => {
    c.header('Cache-Control', 'no-store')
    return c.html(adminPage(c.var.auth.user))
  })

  app.get('/api/admin', requireAuth({ unauthenticated: 'json', ...adminGuard(example) }), (c) => {
    c.header('Cache-Control', 'no-store')
    return c.json({ sub: c.var.auth.user.sub })
  })

  app.get(
    '/step-up',
    requireAuth({ unauthenticated: 'redirect', ...stepUpGuard(example) }),
    (c) => {
      c.header('Cache-Control', 'no-store')
      return c.html(stepUpPage(c.var.auth.session))
    },
  )

  app.get('/api/me', requireAuth({ unauthenticated: 'json' }), (c) => {
    c.header('Cache-Control', 'no-store')
    return c.json(c.var.auth.user)
  })

  app.get('/api/token', requireAuth({ unauthenticated: 'json' }), async (c) => {
    const token = await c.var.auth.accessToken()
    c.header('Cache-Control', 'no-store')
    return c.json({ expiresAt: token.expiresAt ?? null })
  })

  app.get('/api/call', requireAuth({ unauthenticated: 'json' }), async (c) => {
    const answer = await callApi(example.apiUrl, (url) => c.var.auth.fetch(url))
    c.header('Cache-Control', 'no-store')
    return c.json(answer.body, answer.status as ContentfulStatusCode)
  })

  app.onError(
    authErrorHandler((error, c) => {
      console.error(error)
      return c.html(internalErrorPage(), 500)
    }),
  )
  return app
}
