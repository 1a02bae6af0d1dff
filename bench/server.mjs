// One benchmark scenario in its own process: `node bench/server.mjs <scenario>`, configured by
// BENCH_* environment variables, listening on 127.0.0.1:BENCH_PORT. Prints "ready" when it
// listens. Every scenario answers GET /api/me with the same JSON body (the user's claims).

// Every Iron seal or unseal derives keys with pbkdf2Sync (two per seal, two per unseal): counted
// here, so that the orchestrator sees how many a warm request costs (a cache hit: none).
const nodeCrypto = process.getBuiltinModule('node:crypto')
const pbkdf2Sync = nodeCrypto.pbkdf2Sync
let derivations = 0
nodeCrypto.pbkdf2Sync = (...args) => {
  derivations++
  return pbkdf2Sync(...args)
}

const scenario = process.argv[2]
const port = Number(process.env.BENCH_PORT)
const baseUrl = `http://127.0.0.1:${port}`
const claims = JSON.parse(process.env.BENCH_CLAIMS ?? '{}')
const authOptions = {
  issuer: process.env.BENCH_ISSUER,
  clientId: process.env.BENCH_CLIENT_ID,
  clientSecret: process.env.BENCH_CLIENT_SECRET,
  baseUrl,
  secret: process.env.BENCH_SECRET,
  scope: 'openid profile email offline_access',
  // the dev provider is http on loopback
  allowInsecureRequests: true,
}

async function redisStores() {
  const { createClient } = await import('redis')
  const { createRedisRevocationStore, createRedisStore } = await import('@codeflow/redis')
  const client = createClient({
    url: process.env.BENCH_REDIS_URL,
    disableOfflineQueue: true,
    socket: { reconnectStrategy: false },
  })
  client.on('error', () => undefined)
  await client.connect()
  return {
    store: createRedisStore(client),
    revocationStore: createRedisRevocationStore(client),
  }
}

async function expressApp() {
  const { default: express } = await import('express')
  const app = express()
  app.disable('x-powered-by')
  app.disable('etag')
  if (scenario === 'express-bare') {
    app.get('/api/me', (_req, res) => {
      res.json(claims)
    })
    return app
  }
  if (scenario === 'express-eoc') {
    const { auth, requiresAuth } = (await import('express-openid-connect')).default
    app.use(
      auth({
        authRequired: false,
        auth0Logout: false,
        issuerBaseURL: authOptions.issuer,
        baseURL: baseUrl,
        clientID: authOptions.clientId,
        clientSecret: authOptions.clientSecret,
        secret: authOptions.secret,
        idpLogout: false,
        authorizationParams: { response_type: 'code', scope: 'openid profile email' },
      }),
    )
    app.get('/api/me', requiresAuth(), (req, res) => {
      const { sub, name, email } = req.oidc.user
      res.json({ ...claims, sub, name, email })
    })
    return app
  }
  const { auth, requireAuth } = await import('@codeflow/express')
  // express-fapi: the login with private_key_jwt, a pushed authorization request and DPoP
  const fapi =
    scenario === 'express-fapi'
      ? {
          clientSecret: undefined,
          clientAuth: 'private_key_jwt',
          clientPrivateKey: JSON.parse(process.env.BENCH_CLIENT_KEY),
          pushedAuthorizationRequests: true,
          dpop: true,
        }
      : {}
  const extra =
    scenario === 'express-redis'
      ? { session: await redisStores() }
      : scenario === 'express-dpop'
        ? { dpop: true }
        : fapi
  app.use(auth({ ...authOptions, ...extra }))
  app.get('/api/me', requireAuth({ unauthenticated: 'json' }), (req, res) => {
    res.json(req.auth.user)
  })
  return app
}

async function koaApp() {
  const { default: Koa } = await import('koa')
  const app = new Koa()
  if (scenario === 'koa-app-bare' || scenario === 'koa-app-codeflow') {
    return koaExampleApp(app, scenario === 'koa-app-codeflow')
  }
  if (scenario === 'koa-bare') {
    app.use((ctx) => {
      if (ctx.path === '/api/me') ctx.body = claims
    })
    return app
  }
  const { auth, requireAuth } = await import('@codeflow/koa')
  const guard = requireAuth({ unauthenticated: 'json' })
  const extra = scenario === 'koa-redis' ? { session: await redisStores() } : {}
  app.use(auth({ ...authOptions, ...extra }))
  // the bare app's route behind requireAuth(), and nothing else (no async layer of its own)
  app.use((ctx, next) => {
    if (ctx.path !== '/api/me') return next()
    return guard(ctx, () => {
      ctx.body = ctx.state.auth.user
    })
  })
  return app
}

/**
 * An app shaped like examples/koa, as a user builds it: @koa/router, a last-resort error
 * middleware and an error-rendering one, the route's guard before its handler, the handler
 * setting Cache-Control; with codeflow, or with the same layers doing nothing in its place.
 */
async function koaExampleApp(app, withCodeflow) {
  const { default: Router } = await import('@koa/router')
  const codeflow = withCodeflow ? await import('@codeflow/koa') : undefined
  const router = new Router()
  const guard = codeflow
    ? codeflow.requireAuth({ unauthenticated: 'json' })
    : (_ctx, next) => next()
  router.get('/api/me', guard, (ctx) => {
    ctx.set('Cache-Control', 'no-store')
    ctx.body = codeflow ? ctx.state.auth.user : claims
  })
  app.use(async (ctx, next) => {
    try {
      await next()
    } catch (error) {
      console.error(error)
      ctx.status = 500
      ctx.type = 'html'
      ctx.body = '<!doctype html><title>Error</title><p>Something went wrong.</p>'
    }
  })
  app.use(
    codeflow
      ? codeflow.authErrorHandler()
      : async (_ctx, next) => {
          await next()
        },
  )
  if (codeflow) app.use(codeflow.auth(authOptions))
  app.use(router.routes())
  return app
}

/** Fastify, with no logger (its default): the bare route, or the same behind requireAuth(). */
async function fastifyApp() {
  const { default: Fastify } = await import('fastify')
  const app = Fastify({ keepAliveTimeout: 60_000 })
  if (scenario === 'fastify-bare') {
    app.get('/api/me', () => claims)
    return app
  }
  const { codeflow, requireAuth } = await import('@codeflow/fastify')
  app.register(codeflow, authOptions)
  app.get(
    '/api/me',
    { preHandler: requireAuth({ unauthenticated: 'json' }) },
    (request) => request.auth.user,
  )
  return app
}

/**
 * Hono on Node (@hono/node-server's request listener, as examples/hono serves it): the bare app's
 * route, or the same route behind auth() and requireAuth().
 */
async function honoApp() {
  const { Hono } = await import('hono')
  const { getRequestListener } = await import('@hono/node-server')
  const app = new Hono()
  if (scenario === 'hono-bare') {
    app.get('/api/me', (c) => c.json(claims))
    return getRequestListener(app.fetch)
  }
  const { auth, requireAuth } = await import('@codeflow/hono')
  app.use(auth(authOptions))
  app.get('/api/me', requireAuth({ unauthenticated: 'json' }), (c) => c.json(c.var.auth.user))
  return getRequestListener(app.fetch)
}

const { createServer } = await import('node:http')
let handler
if (scenario.startsWith('express')) handler = await expressApp()
else if (scenario.startsWith('koa')) handler = (await koaApp()).callback()
else if (scenario.startsWith('hono')) handler = await honoApp()
else if (!scenario.startsWith('fastify')) throw new Error(`unknown scenario ${scenario}`)
if (handler) {
  const server = createServer({ keepAliveTimeout: 60_000 }, handler)
  server.listen(port, '127.0.0.1', () => console.log('ready'))
} else {
  // Fastify makes its own server
  await (await fastifyApp()).listen({ port, host: '127.0.0.1' })
  console.log('ready')
}
// the CPU this process has used and its key derivations so far (the orchestrator reads them)
process.on('message', (message) => {
  if (message === 'cpu') {
    const { minorPageFault, voluntaryContextSwitches, involuntaryContextSwitches } =
      process.resourceUsage()
    process.send?.({
      cpu: process.cpuUsage(),
      derivations,
      usage: { minorPageFault, voluntaryContextSwitches, involuntaryContextSwitches },
      memory: process.memoryUsage(),
    })
  }
})
process.on('SIGINT', () => process.exit(0))
