// The adapters' own cost on a cached cookie session, in-process and without sockets:
// `node bench/hot-path.mjs [repo]` prints the nanoseconds Express's auth() + requireAuth(), Koa's,
// and Fastify's plugin hook + requireAuth() take per request beyond building Node's request and response objects (median of 5
// rounds of 200,000 requests; the adapters must call next() at once, or it fails). A second
// repository path compares another checkout (built with `pnpm build`) on the same machine.
import { IncomingMessage, ServerResponse } from 'node:http'
import { Socket } from 'node:net'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const repo = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..'))
const load = (path) => import(pathToFileURL(join(repo, path)).href)
const core = await load('packages/core/dist/index.js')
const kit = await load('packages/core/dist/adapter.js')
const express = await load('packages/express/dist/index.js')
const koa = await load('packages/koa/dist/index.js')
// an older checkout may have no Fastify adapter
const fastify = await load('packages/fastify/dist/index.js').catch(() => undefined)
// the core's own session writer, from the same build (an Auth belongs to the copy that made it)
const { writeSession } = await load('packages/core/dist/session/write.js')
const { appOf } = await load('packages/core/dist/auth.js')

const auth = core.createAuth({
  issuer: 'https://op.example.com',
  clientId: 'bench',
  clientSecret: 'bench-secret',
  baseUrl: 'http://localhost:3000',
  secret: 'a-benchmark-secret-of-at-least-32-characters',
  logger: false,
})
const now = Math.floor(Date.now() / 1000)
const claims = {
  sub: 'alice',
  name: 'Alice Example',
  email: 'alice@example.com',
  roles: ['a', 'b'],
}
const idToken = `eyJhbGciOiJSUzI1NiJ9.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.c2ln`
const written = kit.createWebContext(new Request('http://localhost:3000/'))
await writeSession(appOf(auth), written, {
  id: 'bench-session',
  iss: 'https://op.example.com',
  sub: 'alice',
  idToken,
  accessToken: 'a'.repeat(800),
  tokenType: 'bearer',
  refreshToken: 'r'.repeat(40),
  createdAt: now,
  updatedAt: now,
})
const cookie = written.cookies.map((c) => `${c.name}=${c.value}`).join('; ')

function request() {
  const req = new IncomingMessage(new Socket())
  req.method = 'GET'
  req.url = '/api/me'
  req.headers = { host: 'localhost:3000', cookie, accept: 'application/json' }
  return { req, res: new ServerResponse(req) }
}

const expressAuth = express.auth(auth)
const expressGuard = express.requireAuth()
const koaAuth = koa.auth(auth)
const koaGuard = koa.requireAuth()
// Fastify's plugin, registered on a stand-in for the instance: it hands over its onRequest hook
// (its onSend hook, which only keeps headers, is not measured)
let fastifyHook
fastify?.codeflow(
  {
    prefix: '',
    hasRequestDecorator: () => true,
    all: () => {},
    addHook: (name, hook) => {
      if (name === 'onRequest') fastifyHook = hook
    },
  },
  auth,
  (error) => {
    if (error) throw error
  },
)
const fastifyGuard = fastify?.requireAuth()
/** What the adapter uses of Fastify's reply. */
class Reply {
  constructor(raw) {
    this.raw = raw
  }
  getHeader(name) {
    return this.raw.getHeader(name)
  }
  header(name, value) {
    this.raw.setHeader(name, value)
    return this
  }
}
const N = 200_000

function bare() {
  const start = process.hrtime.bigint()
  for (let i = 0; i < N; i++) request()
  return Number(process.hrtime.bigint() - start) / N
}

function viaExpress() {
  let calls = 0
  const next = () => {
    calls++
  }
  const start = process.hrtime.bigint()
  for (let i = 0; i < N; i++) {
    const { req, res } = request()
    expressAuth(req, res, next)
    expressGuard(req, res, next)
  }
  const ns = Number(process.hrtime.bigint() - start) / N
  if (calls !== 2 * N) throw new Error('Express did not call next() at once')
  return ns
}

function viaKoa() {
  let calls = 0
  const next = () => {
    calls++
    return Promise.resolve()
  }
  const start = process.hrtime.bigint()
  for (let i = 0; i < N; i++) {
    const { req, res } = request()
    const ctx = { req, res, originalUrl: '/api/me', request: {}, state: {}, onerror() {} }
    koaAuth(ctx, next)
    koaGuard(ctx, next)
  }
  const ns = Number(process.hrtime.bigint() - start) / N
  if (calls !== 2 * N) throw new Error('Koa did not call next() at once')
  return ns
}

function viaFastify() {
  let calls = 0
  const next = () => {
    calls++
  }
  const start = process.hrtime.bigint()
  for (let i = 0; i < N; i++) {
    const { req, res } = request()
    const fastifyRequest = { raw: req, originalUrl: '/api/me', body: undefined, auth: null }
    const reply = new Reply(res)
    fastifyHook(fastifyRequest, reply, next)
    fastifyGuard(fastifyRequest, reply, next)
  }
  const ns = Number(process.hrtime.bigint() - start) / N
  if (calls !== 2 * N) throw new Error('Fastify did not call done() at once')
  return ns
}

// warm-up: the session cache and the JIT
for (let i = 0; i < 5000; i++) {
  const { req, res } = request()
  expressAuth(req, res, () => {})
}
const rounds = { bare: [], express: [], koa: [], fastify: [] }
for (let round = 0; round < 5; round++) {
  rounds.bare.push(bare())
  rounds.express.push(viaExpress())
  rounds.koa.push(viaKoa())
  if (fastify) rounds.fastify.push(viaFastify())
  await new Promise((resolve) => setTimeout(resolve, 20))
}
const median = (values) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]
const base = median(rounds.bare)
console.log(
  JSON.stringify({
    repo,
    requestObjectsNs: Math.round(base),
    expressNs: Math.round(median(rounds.express) - base),
    koaNs: Math.round(median(rounds.koa) - base),
    ...(fastify ? { fastifyNs: Math.round(median(rounds.fastify) - base) } : {}),
  }),
)
