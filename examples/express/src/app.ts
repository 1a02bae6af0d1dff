import type { AuthOptions } from '@codeflow/core'
import { homePage, internalErrorPage, profilePage } from '@codeflow/example-shared'
import { auth, authErrorHandler, requireAuth } from '@codeflow/express'
import express, { type ErrorRequestHandler, type Express } from 'express'

/** The Express example app of CONTRACT.md, for the given codeflow options. */
export function createApp(options: AuthOptions): Express {
  const app = express()
  app.disable('x-powered-by')
  app.use(auth(options))

  app.get('/', (req, res) => {
    res.type('html').send(homePage(req.auth?.user))
  })

  app.get('/profile', requireAuth({ unauthenticated: 'redirect' }), (req, res) => {
    res.set('Cache-Control', 'no-store').type('html').send(profilePage(req.auth!.user!))
  })

  app.get('/api/me', requireAuth({ unauthenticated: 'json' }), (req, res) => {
    res.set('Cache-Control', 'no-store').json(req.auth!.user)
  })

  app.get('/api/token', requireAuth({ unauthenticated: 'json' }), async (req, res) => {
    const token = await req.auth!.accessToken()
    res.set('Cache-Control', 'no-store').json({ expiresAt: token.expiresAt ?? null })
  })

  app.use(authErrorHandler())
  const lastResort: ErrorRequestHandler = (error, _req, res, _next) => {
    console.error(error)
    res.status(500).type('html').send(internalErrorPage())
  }
  app.use(lastResort)
  return app
}
