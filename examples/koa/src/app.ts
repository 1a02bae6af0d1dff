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
import { auth, authErrorHandler, requireAuth } from '@codeflow/koa'
import Router from '@koa/router'
import Koa, { type Middleware } from 'koa'

/** The Koa example app (examples/README.md), for the given codeflow options. */
export function createApp(options: AuthOptions, example: ExampleOptions = {}): Koa {
  const app = new Koa()
  const router = new Router()

  router.get('/', (ctx) => {
    ctx.type = 'html'
    ctx.body = homePage(ctx.state.auth?.user)
  })

  router.get('/profile', requireAuth({ unauthenticated: 'redirect' }), (ctx) => {
    ctx.set('Cache-Control', 'no-store')
    ctx.type = 'html'
    ctx.body = profilePage(ctx.state.auth.user)
  })

  router.get(
    '/admin',
    requireAuth({ unauthenticated: 'redirect', ...adminGuard(example) }),
    (ctx) => {
      ctx.set('Cache-Control', 'no-store')
      ctx.type = 'html'
      ctx.body = adminPage(ctx.state.auth.user)
    },
  )

  router.get(
    '/api/admin',
    requireAuth({ unauthenticated: 'json', ...adminGuard(example) }),
    (ctx) => {
      ctx.set('Cache-Control', 'no-store')
      ctx.body = { sub: ctx.state.auth.user.sub }
    },
  )

  router.get(
    '/step-up',
    requireAuth({ unauthenticated: 'redirect', ...stepUpGuard(example) }),
    (ctx) => {
      ctx.set('Cache-Control', 'no-store')
      ctx.type = 'html'
      ctx.body = stepUpPage(ctx.state.auth.session)
    },
  )

  router.get('/api/me', requireAuth({ unauthenticated: 'json' }), (ctx) => {
    ctx.set('Cache-Control', 'no-store')
    ctx.body = ctx.state.auth.user
  })

  router.get(
    '/api/call',
    requireAuth(
      async (ctx) => {
        const answer = await callApi(example.apiUrl, (url) => ctx.state.auth.fetch(url))
        ctx.set('Cache-Control', 'no-store')
        ctx.status = answer.status
        ctx.body = answer.body
      },
      { unauthenticated: 'json' },
    ),
  )

  router.get(
    '/api/token',
    requireAuth(
      async (ctx) => {
        const token = await ctx.state.auth.accessToken()
        ctx.set('Cache-Control', 'no-store')
        ctx.body = { expiresAt: token.expiresAt ?? null }
      },
      { unauthenticated: 'json' },
    ),
  )

  const lastResort: Middleware = async (ctx, next) => {
    try {
      await next()
    } catch (error) {
      console.error(error)
      ctx.status = 500
      ctx.type = 'html'
      ctx.body = internalErrorPage()
    }
  }
  app.use(lastResort)
  app.use(authErrorHandler())
  app.use(auth(options))
  app.use(router.routes())
  return app
}
