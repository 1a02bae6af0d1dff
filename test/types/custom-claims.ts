/**
 * Type test (compiled by `pnpm typecheck`, never run): an app declares its users' claims once, by
 * augmenting `CustomClaims`, and `user` is typed so in every adapter's guards and handlers.
 */
import type { UserClaims } from '@codeflow/core'
import { requireAuth as expressGuard } from '@codeflow/express'
import { requireAuth as fastifyGuard } from '@codeflow/fastify'
import { type AuthEnv, requireAuth as honoGuard } from '@codeflow/hono'
import { requireAuth as koaGuard } from '@codeflow/koa'
import { createCodeflow } from '@codeflow/next'
import { mintSession } from '@codeflow/testing'
import { Hono } from 'hono'

declare module '@codeflow/core' {
  interface CustomClaims {
    groups?: string[]
    tenant?: string
  }
}

// the core's own type
const claims = (user: UserClaims): boolean => user.groups?.includes('admin') === true
// a declared claim has its type (undeclared, it would be `unknown`, which takes a number)
// @ts-expect-error tenant is a string
const wrong = (user: UserClaims): void => void ((tenant: typeof user.tenant = 5) => tenant)
void wrong

// Express: the guard's predicate and the handler (app.get('/admin', admin))
export const admin = expressGuard(
  (req, res) => {
    const groups: string[] | undefined = req.auth.user.groups
    res.json({ groups, tenant: req.auth.user.tenant?.toUpperCase() })
  },
  { claims },
)

// Koa
koaGuard(
  (ctx) => {
    const tenant: string | undefined = ctx.state.auth.user.tenant
    ctx.body = { tenant }
  },
  { claims: (user) => user.tenant === 'acme' },
)

// Fastify: the handler behind the guard
fastifyGuard((request) => ({ tenant: request.auth.user.tenant?.toUpperCase() }), {
  claims: (user) => user.groups?.includes('admin') === true,
})

// Hono
new Hono<AuthEnv>().get('/tenant', honoGuard({ claims: (user) => user.tenant === 'acme' }), (c) => {
  const tenant: string | undefined = c.var.auth.user.tenant
  return c.json({ tenant, groups: c.var.auth.user.groups ?? [] })
})

// Next.js: a route handler and a Server Component's session
const codeflow = createCodeflow({
  issuer: 'https://op.example',
  clientId: 'app',
  baseUrl: 'https://app.example',
  secret: 'a-secret-of-at-least-thirty-two-characters',
})
export const GET = codeflow.requireAuth(
  (_request, { session }) => Response.json({ groups: session.user.groups ?? [] }),
  { claims: { groups: { includes: 'admin' } } },
)
export async function page(): Promise<string | undefined> {
  return (await codeflow.requireAuth()).user.tenant
}

// the test kit mints users of the declared type
export const minted = mintSession(
  { issuer: 'https://op.example.com', clientId: 'c', baseUrl: 'http://localhost', secret: 's' },
  { user: { sub: 'u', groups: ['admin'], tenant: 'acme' } },
)
mintSession(createCodeflow({ issuer: 'x', clientId: 'c', baseUrl: 'x', secret: 's' }).auth, {
  // @ts-expect-error groups is a list of strings
  user: { sub: 'u', groups: 'admin' },
})
