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
import { auth, authErrorHandler, requireAuth } from '@codeflow/express'
import express, { type ErrorRequestHandler, type Express } from 'express'

/**
 * The Express example app (examples/README.md), for the given codeflow options. `framework` is
 * Express itself: the tests pass Express 4 here to run the same app on it.
 */
export function createApp(
  options: AuthOptions,
  example: ExampleOptions & { framework?: typeof express } = {},
): Express {
  const app = (example.framework ?? express)()
  app.disable('x-powered-by')
  app.use(auth(options))

  app.get('/', (req, res) => {
    res.type('html').send(homePage(req.auth?.user))
  })

  app.get(
    '/profile',
    requireAuth(
      (req, res) => {
        res.set('Cache-Control', 'no-store').type('html').send(profilePage(req.auth.user))
      },
      { unauthenticated: 'redirect' },
    ),
  )

  app.get(
    '/admin',
    requireAuth(
      (req, res) => {
        res.set('Cache-Control', 'no-store').type('html').send(adminPage(req.auth.user))
      },
      { unauthenticated: 'redirect', ...adminGuard(example) },
    ),
  )

  app.get(
    '/api/admin',
    requireAuth(
      (req, res) => {
        res.set('Cache-Control', 'no-store').json({ sub: req.auth.user.sub })
      },
      { unauthenticated: 'json', ...adminGuard(example) },
    ),
  )

  app.get(
    '/step-up',
    requireAuth(
      (req, res) => {
        res.set('Cache-Control', 'no-store').type('html').send(stepUpPage(req.auth.session))
      },
      { unauthenticated: 'redirect', ...stepUpGuard(example) },
    ),
  )

  app.get('/api/me', requireAuth({ unauthenticated: 'json' }), (req, res) => {
    res.set('Cache-Control', 'no-store').json(req.auth?.user)
  })

  app.get(
    '/api/token',
    requireAuth(
      async (req, res) => {
        const token = await req.auth.accessToken()
        res.set('Cache-Control', 'no-store').json({ expiresAt: token.expiresAt ?? null })
      },
      { unauthenticated: 'json' },
    ),
  )

  app.get(
    '/api/call',
    requireAuth(
      async (req, res) => {
        const answer = await callApi(example.apiUrl, (url) => req.auth.fetch(url))
        res.set('Cache-Control', 'no-store').status(answer.status).json(answer.body)
      },
      { unauthenticated: 'json' },
    ),
  )

  app.use(authErrorHandler())
  const lastResort: ErrorRequestHandler = (error, _req, res, _next) => {
    console.error(error)
    res.status(500).type('html').send(internalErrorPage())
  }
  app.use(lastResort)
  return app
}
