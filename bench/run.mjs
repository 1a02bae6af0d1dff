// `pnpm bench`: every HTTP scenario runs in its own process on 127.0.0.1 and is loaded by wrk
// (Debian's package; autocannon from this process where wrk is missing) for a bounded time, in
// interleaved rounds; with two CPUs or more and taskset, the app is pinned to one CPU and the load
// to another, so that they do not take turns on the same one. Medians and ratios go to
// bench/results/latest.md and latest.json. Flags: --rounds N (5), --duration S (5),
// --connections C (10), --sessions N (1000000: the memory measurement), --flows N (40: logins).
import { execFile, execFileSync, fork, spawn } from 'node:child_process'
import { generateKeyPairSync } from 'node:crypto'
import { once } from 'node:events'
import { mkdirSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { cpus } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { startDevProvider } from '@codeflow/dev-provider'
import autocannon from 'autocannon'
import { login } from './login.mjs'
import { startRedis } from './redis.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..')
const { values: flags } = parseArgs({
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  options: {
    rounds: { type: 'string', default: '5' },
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '10' },
    sessions: { type: 'string', default: '1000000' },
    flows: { type: 'string', default: '40' },
  },
})
const rounds = Number(flags.rounds)
const duration = Number(flags.duration)
const connections = Number(flags.connections)
const SECRET = 'a-benchmark-secret-of-at-least-32-characters'
const CLIENT_SECRET = 'a-benchmark-client-secret'
const EXTRA_CLAIMS = {
  org: 'Example Organisation',
  roles: ['reader', 'writer', 'reviewer'],
  department: 'Research and Development',
  locale: 'en-GB',
  zoneinfo: 'Europe/London',
  picture: 'https://example.com/avatars/alice-example-profile.png',
}

const log = (line) => process.stderr.write(`${line}\n`)

function hasCommand(command) {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}
const useWrk = hasCommand('wrk')
// the app on the last CPU, the load generator on the first
const pinned = cpus().length >= 2 && hasCommand('taskset')
const appCpu = String(cpus().length - 1)
/** Unmeasured logins before the measured ones. */
const LOGIN_WARMUP = 30
/** The pause before each measured run (see the rounds below). */
const SETTLE_MS = 2000
const children = []
const cleanups = []

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

async function waitFor(check, what, ms = 30_000) {
  const deadline = Date.now() + ms
  for (;;) {
    if (
      await check().catch((error) => (/exited/.test(error.message) ? Promise.reject(error) : false))
    )
      return
    if (Date.now() > deadline) throw new Error(`${what} did not start`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** Starts `bench/server.mjs <scenario>` on a free port and waits for it. */
async function startServer(scenario, port, env) {
  const child = fork(join(here, 'server.mjs'), [scenario], {
    // `taskset -c N node server.mjs`: the IPC channel survives the exec
    ...(pinned ? { execPath: 'taskset', execArgv: ['-c', appCpu, process.execPath] } : {}),
    env: { ...process.env, ...env, BENCH_PORT: String(port), NODE_ENV: 'production' },
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  })
  children.push(child)
  let output = ''
  child.stdout.on('data', (chunk) => {
    output += chunk
  })
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`${scenario} exited with ${child.exitCode}`)
    return output.includes('ready')
  }, scenario)
  return { child, url: `http://127.0.0.1:${port}` }
}

async function startNext(port, env) {
  const dir = join(root, 'examples/next')
  const next = [join(dir, 'node_modules/.bin/next'), 'start', '-H', '127.0.0.1', '-p', String(port)]
  const child = spawn(
    pinned ? 'taskset' : next[0],
    pinned ? ['-c', appCpu, ...next] : next.slice(1),
    {
      cwd: dir,
      env: { ...process.env, ...env, PORT: String(port), NEXT_TELEMETRY_DISABLED: '1' },
      stdio: ['ignore', 'ignore', 'inherit'],
      detached: true,
    },
  )
  children.push(child)
  const url = `http://127.0.0.1:${port}`
  await waitFor(async () => (await fetch(`${url}/api/public`)).ok, 'next start', 60_000)
  return { child, url }
}

/** A Cookie header as long as `cookieHeader`, holding one cookie that is not codeflow's. */
function fillerCookie(cookieHeader) {
  const name = 'bench-filler='
  return name + 'x'.repeat(Math.max(1, cookieHeader.length - name.length))
}

/** Stops a server started by `startServer` and waits for it to exit (its port is free again). */
async function stopServer({ child }) {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  child.kill('SIGKILL')
  await exited
}

/** The app's CPU time so far (`process.cpuUsage()`), with its key derivations (Iron seals). */
function cpuOf(child) {
  return new Promise((resolve) => {
    child.once('message', (message) =>
      resolve({ ...message.cpu, ...message.usage, derivations: message.derivations }),
    )
    child.send('cpu')
  })
}

/**
 * One load run: requests per second (over the run) and how many requests were answered; fails on
 * any non-2xx answer or socket error.
 */
async function load(target, seconds) {
  return useWrk ? wrk(target, seconds) : autocannonLoad(target, seconds)
}

async function wrk(target, seconds) {
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`]
  if (target.cookie) args.push('-H', `cookie: ${target.cookie}`)
  args.push(`${target.url}${target.path}`)
  const command = pinned ? ['taskset', ['-c', '0', 'wrk', ...args]] : ['wrk', args]
  const output = await new Promise((resolve, reject) =>
    execFile(command[0], command[1], { maxBuffer: 1 << 20 }, (error, stdout) =>
      error ? reject(error) : resolve(stdout),
    ),
  )
  const total = Number(/(\d+) requests in/.exec(output)?.[1])
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(output)?.[1])
  const bad = /Non-2xx or 3xx responses: (\d+)/.exec(output)?.[1]
  const socketErrors = /Socket errors: (.*)/.exec(output)?.[1]
  if (bad || socketErrors || !(total > 0) || !(rps > 0)) {
    throw new Error(`${target.name}: wrk says ${output}`)
  }
  return { rps, total }
}

async function autocannonLoad(target, seconds) {
  const result = await autocannon({
    url: `${target.url}${target.path}`,
    connections,
    duration: seconds,
    headers: target.cookie ? { cookie: target.cookie } : {},
  })
  const bad = result.non2xx + result.errors + result.timeouts
  if (bad > 0 || result.requests.total === 0) {
    throw new Error(`${target.name}: ${bad} failed of ${result.requests.total} requests`)
  }
  return { rps: result.requests.average, total: result.requests.total }
}

const median = (list) => {
  const sorted = [...list].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

async function inProcess(sessions) {
  const child = spawn(
    process.execPath,
    ['--expose-gc', join(here, 'inprocess.mjs'), String(sessions)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  )
  let output = ''
  child.stdout.on('data', (chunk) => {
    output += chunk
  })
  const [code] = await once(child, 'exit')
  if (code !== 0) throw new Error(`inprocess.mjs exited with ${code}`)
  return JSON.parse(output)
}

async function main() {
  const started = Date.now()
  const names = [
    'express',
    'express-redis',
    'koa',
    'koa-redis',
    'koa-app',
    'fastify',
    'hono',
    'next',
    'express-fapi',
    'express-dpop',
  ]
  const ports = Object.fromEntries(await Promise.all(names.map(async (n) => [n, await freePort()])))
  // the FAPI-grade login's client: private_key_jwt with an ES256 key, PAR, DPoP-bound tokens
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const clientKey = { ...privateKey.export({ format: 'jwk' }), kid: 'bench', alg: 'ES256' }
  const { d: _d, ...clientPublicKey } = clientKey
  const clients = names.map((n) => ({
    clientId: `bench-${n}`,
    clientSecret: CLIENT_SECRET,
    redirectUris: [`http://127.0.0.1:${ports[n]}/callback`],
    ...(n === 'express-fapi'
      ? { tokenEndpointAuthMethod: 'private_key_jwt', jwks: { keys: [clientPublicKey] } }
      : {}),
    ...(n === 'express-dpop' || n === 'express-fapi' ? { dpopBoundAccessTokens: true } : {}),
  }))
  const provider = await startDevProvider({ clients, claims: EXTRA_CLAIMS })
  cleanups.push(() => provider.close())
  const redis = await startRedis({ pinned })
  cleanups.push(redis.stop)
  const redisUrl = redis.url
  const env = (n) => ({
    BENCH_ISSUER: provider.issuer,
    BENCH_CLIENT_ID: `bench-${n}`,
    BENCH_CLIENT_SECRET: CLIENT_SECRET,
    BENCH_SECRET: SECRET,
    BENCH_REDIS_URL: redisUrl,
  })

  // the Node apps: started afresh for every round (below), so that one process's luck (where its
  // code and heap landed, what its JIT settled on) is one sample, not the whole result; the
  // codeflow apps keep their ports (the provider knows their redirect URIs), and a session cookie
  // stays valid across restarts (same secret; the Redis sessions live in Redis)
  const apps = {
    express: { scenario: 'express-codeflow', port: ports.express, env: env('express') },
    'express-redis': {
      scenario: 'express-redis',
      port: ports['express-redis'],
      env: env('express-redis'),
    },
    koa: { scenario: 'koa-codeflow', port: ports.koa, env: env('koa') },
    'koa-redis': { scenario: 'koa-redis', port: ports['koa-redis'], env: env('koa-redis') },
    'koa-app': { scenario: 'koa-app-codeflow', port: ports['koa-app'], env: env('koa-app') },
    fastify: { scenario: 'fastify-codeflow', port: ports.fastify, env: env('fastify') },
    hono: { scenario: 'hono-codeflow', port: ports.hono, env: env('hono') },
    'express-dpop': {
      scenario: 'express-dpop',
      port: ports['express-dpop'],
      env: env('express-dpop'),
    },
    'express-fapi': {
      scenario: 'express-fapi',
      port: ports['express-fapi'],
      env: { ...env('express-fapi'), BENCH_CLIENT_KEY: JSON.stringify(clientKey) },
    },
  }
  const startApp = (name) => startServer(apps[name].scenario, apps[name].port, apps[name].env)

  log('starting the apps')
  const [express, expressRedis, koa, koaRedis, koaApp, expressDpop, fastify, hono, next] =
    await Promise.all([
      startApp('express'),
      startApp('express-redis'),
      startApp('koa'),
      startApp('koa-redis'),
      startApp('koa-app'),
      startApp('express-dpop'),
      startApp('fastify'),
      startApp('hono'),
      startNext(ports.next, {
        OIDC_ISSUER: provider.issuer,
        OIDC_CLIENT_ID: 'bench-next',
        OIDC_CLIENT_SECRET: CLIENT_SECRET,
        OIDC_SCOPE: 'openid profile email offline_access',
        SESSION_SECRET: SECRET,
        APP_BASE_URL: `http://127.0.0.1:${ports.next}`,
      }),
    ])
  const cookies = {
    express: await login(express.url),
    'express-redis': await login(expressRedis.url),
    koa: await login(koa.url),
    'koa-redis': await login(koaRedis.url),
    'koa-app': await login(koaApp.url),
    hono: await login(hono.url),
    'express-dpop': await login(expressDpop.url),
    fastify: await login(fastify.url),
    next: await login(next.url),
  }
  const me = await fetch(`${express.url}/api/me`, { headers: { cookie: cookies.express } })
  if (!me.ok) throw new Error(`/api/me answered ${me.status}`)
  const claimsText = await me.text()
  await Promise.all(
    [express, expressRedis, koa, koaRedis, koaApp, expressDpop, fastify, hono].map(stopServer),
  )

  // express-openid-connect's own cookie (its appSession JWE, made by its own crypto module) for
  // the same tokens as the codeflow session
  const session = await sessionTokens(cookies.express)
  const eocCookie = await eocSessionCookie(session)

  const bareEnv = { BENCH_CLAIMS: claimsText }
  apps['express-bare'] = { scenario: 'express-bare', port: await freePort(), env: bareEnv }
  apps['koa-bare'] = { scenario: 'koa-bare', port: await freePort(), env: bareEnv }
  apps['koa-app-bare'] = { scenario: 'koa-app-bare', port: await freePort(), env: bareEnv }
  apps['fastify-bare'] = { scenario: 'fastify-bare', port: await freePort(), env: bareEnv }
  apps['hono-bare'] = { scenario: 'hono-bare', port: await freePort(), env: bareEnv }
  apps.eoc = {
    scenario: 'express-eoc',
    port: await freePort(),
    env: { ...env('express'), ...bareEnv },
  }

  // the bare servers get the same request (the same Cookie header) and ignore it; Next's
  // /api/public gets a Cookie header of the same length without a session (its proxy reads it)
  const targets = [
    { name: 'express bare', app: 'express-bare', path: '/api/me', cookie: cookies.express },
    { name: 'express codeflow', app: 'express', path: '/api/me', cookie: cookies.express },
    // the same route with a DPoP session (its key sealed in the cookie); no API call
    {
      name: 'express codeflow dpop',
      app: 'express-dpop',
      path: '/api/me',
      cookie: cookies['express-dpop'],
    },
    { name: 'express express-openid-connect', app: 'eoc', path: '/api/me', cookie: eocCookie },
    {
      name: 'express codeflow redis',
      app: 'express-redis',
      path: '/api/me',
      cookie: cookies['express-redis'],
    },
    { name: 'koa bare', app: 'koa-bare', path: '/api/me', cookie: cookies.koa },
    { name: 'koa codeflow', app: 'koa', path: '/api/me', cookie: cookies.koa },
    // the example's shape (router, error handling), with and without codeflow
    { name: 'koa app bare', app: 'koa-app-bare', path: '/api/me', cookie: cookies['koa-app'] },
    { name: 'koa app codeflow', app: 'koa-app', path: '/api/me', cookie: cookies['koa-app'] },
    {
      name: 'koa codeflow redis',
      app: 'koa-redis',
      path: '/api/me',
      cookie: cookies['koa-redis'],
    },
    { name: 'fastify bare', app: 'fastify-bare', path: '/api/me', cookie: cookies.fastify },
    { name: 'fastify codeflow', app: 'fastify', path: '/api/me', cookie: cookies.fastify },
    { name: 'hono bare', app: 'hono-bare', path: '/api/me', cookie: cookies.hono },
    { name: 'hono codeflow', app: 'hono', path: '/api/me', cookie: cookies.hono },
    // a cookie of another app, as long as the session cookie: the same request, no session
    { name: 'next public', server: next, path: '/api/public', cookie: fillerCookie(cookies.next) },
    { name: 'next codeflow', server: next, path: '/api/me', cookie: cookies.next },
  ]
  const bodies = {}
  const samples = Object.fromEntries(targets.map((t) => [t.name, []]))
  const cpuSamples = Object.fromEntries(targets.map((t) => [t.name, []]))
  const derivationSamples = Object.fromEntries(targets.map((t) => [t.name, []]))
  const splitSamples = Object.fromEntries(targets.map((t) => [t.name, []]))
  for (let round = 1; round <= rounds; round++) {
    log(`round ${round}/${rounds}: starting the apps afresh, checking and warming them up`)
    const running = Object.fromEntries(
      await Promise.all(Object.keys(apps).map(async (name) => [name, await startApp(name)])),
    )
    for (const target of targets) {
      target.server = target.app ? running[target.app] : target.server
      target.url = target.server.url
      const response = await fetch(`${target.url}${target.path}`, {
        headers: target.cookie ? { cookie: target.cookie } : {},
      })
      if (!response.ok) throw new Error(`${target.name} answered ${response.status}`)
      bodies[target.name] = (await response.text()).length
    }
    for (const target of targets) await load(target, 1)
    // interleaved, and in a different order each round
    const order = round % 2 ? targets : [...targets].reverse()
    for (const target of order) {
      // the app loaded just before shares the app CPU: let its after-load work (GC, V8's
      // background tasks) end first, or it shows up in this target's numbers
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS))
      // the app's own CPU time per request (its process.cpuUsage(); not for next start)
      const child = target.server.child.connected ? target.server.child : undefined
      const before = child && (await cpuOf(child))
      const { rps, total } = await load(target, duration)
      if (child) {
        const after = await cpuOf(child)
        const us = after.user - before.user + after.system - before.system
        cpuSamples[target.name].push(us / total)
        splitSamples[target.name].push({
          user: (after.user - before.user) / total,
          system: (after.system - before.system) / total,
          pageFaults: (after.minorPageFault - before.minorPageFault) / total,
        })
        // key derivations per request: 0 when every read hits the session cache
        derivationSamples[target.name].push((after.derivations - before.derivations) / total)
      }
      samples[target.name].push(rps)
      const split = splitSamples[target.name].at(-1)
      log(
        `round ${round}/${rounds} ${target.name}: ${Math.round(rps)} req/s${split && child ? `, app CPU ${split.user.toFixed(1)} user + ${split.system.toFixed(1)} system µs/request, ${split.pageFaults.toFixed(3)} page faults/request` : ''}`,
      )
    }
    await Promise.all(Object.values(running).map(stopServer))
  }
  const rps = Object.fromEntries(targets.map((t) => [t.name, median(samples[t.name])]))
  const derivationsPerRequest = Object.fromEntries(
    targets.map((t) => [
      t.name,
      derivationSamples[t.name].length ? derivationSamples[t.name] : null,
    ]),
  )
  const cpuPerRequest = Object.fromEntries(
    targets.map((t) => [t.name, cpuSamples[t.name].length ? median(cpuSamples[t.name]) : null]),
  )

  // a full login, sequentially: the app's CPU per flow (its process's cpuUsage) and flows/s;
  // the same for the FAPI-grade login (private_key_jwt, PAR) beside it
  const flows = Number(flags.flows)
  async function measureLogins(name) {
    const loginApp = await startApp(name)
    // warm-up, as for the HTTP rounds: the login path's code is optimized before it is measured
    // (in a fresh process, V8's compilations would otherwise count against the first flows)
    for (let i = 0; i < Math.min(flows, LOGIN_WARMUP); i++) await login(loginApp.url)
    const before = await cpuOf(loginApp.child)
    const t0 = performance.now()
    for (let i = 0; i < flows; i++) await login(loginApp.url)
    const wall = performance.now() - t0
    const after = await cpuOf(loginApp.child)
    await stopServer(loginApp)
    return {
      cpuMs: (after.user - before.user + after.system - before.system) / 1000 / flows,
      flowsPerSecond: flows / (wall / 1000),
    }
  }
  const plainLogin = await measureLogins('express')
  const fapiLogin = await measureLogins('express-fapi')
  const loginCpuMs = plainLogin.cpuMs

  log('in-process: cold path and memory')
  const memory = await inProcess(Number(flags.sessions))

  // paired: each round's ratio of two runs made one after the other (the machine's slow drifts
  // cancel out), then the median over rounds
  const ratio = (a, b) => median(perRoundRatios(a, b))
  const perRoundRatios = (a, b) => samples[a].map((value, i) => value / samples[b][i])
  const results = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
    settings: { rounds, duration, connections, flows, sessions: Number(flags.sessions) },
    responseBytes: bodies,
    sessionCookieBytes: cookies.express.length,
    eocCookieBytes: eocCookie.length,
    loadGenerator: useWrk ? 'wrk' : 'autocannon',
    pinned: pinned ? { app: Number(appCpu), load: 0 } : false,
    requestsPerSecond: rps,
    samples,
    appCpuMicrosecondsPerRequest: cpuPerRequest,
    appCpuSamples: cpuSamples,
    appCpuUserSystemSamples: splitSamples,
    keyDerivationsPerRequest: derivationsPerRequest,
    roundRatios: {
      expressCodeflowVsBare: perRoundRatios('express codeflow', 'express bare'),
      koaCodeflowVsBare: perRoundRatios('koa codeflow', 'koa bare'),
      nextCodeflowVsPublic: perRoundRatios('next codeflow', 'next public'),
      expressCodeflowVsExpressOpenidConnect: perRoundRatios(
        'express codeflow',
        'express express-openid-connect',
      ),
      expressOpenidConnectVsBare: perRoundRatios('express express-openid-connect', 'express bare'),
      expressRedisVsBare: perRoundRatios('express codeflow redis', 'express bare'),
      koaRedisVsBare: perRoundRatios('koa codeflow redis', 'koa bare'),
      koaAppCodeflowVsBare: perRoundRatios('koa app codeflow', 'koa app bare'),
      fastifyCodeflowVsBare: perRoundRatios('fastify codeflow', 'fastify bare'),
      honoCodeflowVsBare: perRoundRatios('hono codeflow', 'hono bare'),
      expressDpopVsBearer: perRoundRatios('express codeflow dpop', 'express codeflow'),
    },
    ratios: {
      expressCodeflowVsBare: ratio('express codeflow', 'express bare'),
      koaCodeflowVsBare: ratio('koa codeflow', 'koa bare'),
      nextCodeflowVsPublic: ratio('next codeflow', 'next public'),
      expressCodeflowVsExpressOpenidConnect: ratio(
        'express codeflow',
        'express express-openid-connect',
      ),
      expressOpenidConnectVsBare: ratio('express express-openid-connect', 'express bare'),
      expressRedisVsBare: ratio('express codeflow redis', 'express bare'),
      koaRedisVsBare: ratio('koa codeflow redis', 'koa bare'),
      koaAppCodeflowVsBare: ratio('koa app codeflow', 'koa app bare'),
      fastifyCodeflowVsBare: ratio('fastify codeflow', 'fastify bare'),
      honoCodeflowVsBare: ratio('hono codeflow', 'hono bare'),
      expressDpopVsBearer: ratio('express codeflow dpop', 'express codeflow'),
    },
    cpuOverheadMicroseconds: {
      express: cpuPerRequest['express codeflow'] - cpuPerRequest['express bare'],
      koa: cpuPerRequest['koa codeflow'] - cpuPerRequest['koa bare'],
      fastify: cpuPerRequest['fastify codeflow'] - cpuPerRequest['fastify bare'],
      hono: cpuPerRequest['hono codeflow'] - cpuPerRequest['hono bare'],
    },
    login: { flows, appCpuMsPerFlow: loginCpuMs, flowsPerSecond: plainLogin.flowsPerSecond },
    loginFapi: {
      flows,
      appCpuMsPerFlow: fapiLogin.cpuMs,
      flowsPerSecond: fapiLogin.flowsPerSecond,
    },
    coldPath: {
      usPerColdRead: memory.coldUs,
      cpuUsPerColdRead: memory.coldCpuUs,
      usPerWarmRead: memory.warmUs,
      cookieBytes: memory.cookieBytes,
    },
    memory: {
      sessions: memory.sessions,
      heapBeforeMiB: memory.heapBeforeMiB,
      heapAfterMiB: memory.heapAfterMiB,
      rssAfterMiB: memory.rssAfterMiB,
    },
    seconds: (Date.now() - started) / 1000,
  }
  mkdirSync(join(here, 'results'), { recursive: true })
  writeFileSync(join(here, 'results/latest.json'), `${JSON.stringify(results, null, 2)}\n`)
  writeFileSync(join(here, 'results/latest.md'), markdown(results))
  process.stdout.write(markdown(results))
}

/** The tokens inside a codeflow session cookie, opened with the core's own modules and keys. */
async function sessionTokens(cookieHeader) {
  const core = (path) => import(pathToFileURL(join(root, 'packages/core/dist', path)).href)
  const { createAuth } = await core('index.js')
  const { appOf } = await core('auth.js')
  const { unseal } = await core('seal/seal.js')
  const { unpackSession } = await core('session/compact.js')
  const keys = appOf(
    createAuth({
      issuer: 'https://bench.example',
      clientId: 'bench',
      baseUrl: 'http://127.0.0.1',
      secret: SECRET,
    }),
  ).settings.sealKeys.session
  const jar = new Map(cookieHeader.split('; ').map((pair) => pair.split(/=(.*)/s).slice(0, 2)))
  let value = jar.get('codeflow')
  if (value === undefined) {
    value = ''
    for (let i = 0; jar.has(`codeflow.${i}`); i++) value += jar.get(`codeflow.${i}`)
  }
  if (!value) throw new Error(`no session cookie after login: ${cookieHeader.slice(0, 200)}`)
  const sealed = await unseal('session', value, keys, () => undefined)
  const data = sealed && (await unpackSession(sealed))
  if (!data?.idToken) throw new Error(`no ID token in the session (${Object.keys(data ?? {})})`)
  return data
}

/** An express-openid-connect `appSession` cookie for `tokens`, made with its own crypto module. */
async function eocSessionCookie(tokens) {
  const { createRequire } = await import('node:module')
  const require = createRequire(join(here, 'package.json'))
  const crypto = require('express-openid-connect/lib/crypto.js')
  const [key] = crypto.getKeyStore(SECRET, true)
  const now = Math.floor(Date.now() / 1000)
  const value = crypto.encryptSync(
    JSON.stringify({
      id_token: tokens.idToken,
      access_token: tokens.accessToken,
      refresh_token: tokens.refreshToken,
      token_type: tokens.tokenType,
      expires_at: tokens.expiresAt,
    }),
    key,
    { iat: now, uat: now, exp: now + 86_400 },
  )
  return `appSession=${value}`
}

function markdown(r) {
  const cpu = (name) => {
    const us = r.appCpuMicrosecondsPerRequest[name]
    return us === null ? '' : us.toFixed(1)
  }
  const row = (name) =>
    `| ${name} | ${Math.round(r.requestsPerSecond[name])} | ${r.samples[name].map(Math.round).join(', ')} | ${cpu(name)} | ${r.responseBytes[name]} |`
  const x = (value) => `${value.toFixed(2)}×`
  const ratioRows = [
    ['expressCodeflowVsBare', 'Express: codeflow / bare', '≥ 0.9×'],
    ['koaCodeflowVsBare', 'Koa: codeflow / bare', '≥ 0.9×'],
    ['fastifyCodeflowVsBare', 'Fastify: codeflow / bare', '≥ 0.9×'],
    ['honoCodeflowVsBare', 'Hono (on Node): codeflow / bare', '≥ 0.9×'],
    ['nextCodeflowVsPublic', 'Next: /api/me (proxy + requireAuth) / /api/public', '≥ 0.85×'],
    [
      'expressCodeflowVsExpressOpenidConnect',
      'Express: codeflow / express-openid-connect requiresAuth()',
      '≥ 3×',
    ],
    ['expressOpenidConnectVsBare', 'Express: express-openid-connect / bare', ''],
    [
      'expressRedisVsBare',
      'Express: codeflow with Redis sessions and revocations / bare',
      '≥ 0.8×',
    ],
    ['koaRedisVsBare', 'Koa: codeflow with Redis sessions and revocations / bare', '≥ 0.8×'],
    [
      'koaAppCodeflowVsBare',
      'Koa, an app like examples/koa (router, error handling): with codeflow / without',
      '≥ 0.9×',
    ],
    [
      'expressDpopVsBearer',
      'Express: codeflow with DPoP sessions / with Bearer sessions',
      '≥ 0.95×',
    ],
  ]
  return `# codeflow benchmarks

${r.date} — ${r.machine.cpus} × ${r.machine.model}, Node ${r.machine.node}; ${r.settings.rounds} interleaved rounds of ${r.settings.duration} s (the Node apps started afresh for each), ${r.settings.connections} connections (${r.loadGenerator}, another process${r.pinned ? `; the app on CPU ${r.pinned.app}, the load on CPU ${r.pinned.load}` : ''}).

| scenario | req/s (median) | rounds | app CPU µs/request (median) | body bytes |
| --- | ---: | --- | ---: | ---: |
${Object.keys(r.requestsPerSecond).map(row).join('\n')}

| ratio (median of the rounds' ratios) | value | rounds | goal |
| --- | ---: | --- | --- |
${ratioRows
  .map(
    ([key, label, goal]) =>
      `| ${label} | ${x(r.ratios[key])} | ${r.roundRatios[key].map((v) => v.toFixed(2)).join(', ')} | ${goal} |`,
  )
  .join('\n')}

codeflow's own CPU per request (codeflow minus bare, medians): Express ${r.cpuOverheadMicroseconds.express.toFixed(1)} µs, Koa ${r.cpuOverheadMicroseconds.koa.toFixed(1)} µs, Fastify ${r.cpuOverheadMicroseconds.fastify.toFixed(1)} µs, Hono ${r.cpuOverheadMicroseconds.hono.toFixed(1)} µs. Iron key derivations per request, every round (0: every session read hit the cache): Express ${r.keyDerivationsPerRequest['express codeflow'].map((n) => n.toFixed(3)).join(', ')}; Koa ${r.keyDerivationsPerRequest['koa codeflow'].map((n) => n.toFixed(3)).join(', ')}; Fastify ${r.keyDerivationsPerRequest['fastify codeflow'].map((n) => n.toFixed(3)).join(', ')}; Hono ${r.keyDerivationsPerRequest['hono codeflow'].map((n) => n.toFixed(3)).join(', ')}.

| measurement | value | goal |
| --- | ---: | --- |
| full login: app CPU per flow | ${r.login.appCpuMsPerFlow.toFixed(2)} ms | ≤ 2 ms |
| full login: flows/s (sequential, provider included) | ${r.login.flowsPerSecond.toFixed(1)} | |
| full login with private_key_jwt (ES256), PAR and DPoP: app CPU per flow | ${r.loginFapi.appCpuMsPerFlow.toFixed(2)} ms | beside the plain login's |
| cold read (unseal of a never-seen ${r.coldPath.cookieBytes}-byte cookie), in-process: main-thread CPU | ${r.coldPath.cpuUsPerColdRead.toFixed(0)} µs | ≤ 50 µs |
| cold read, wall time (the awaits included) | ${r.coldPath.usPerColdRead.toFixed(0)} µs | |
| warm read (cache hit), in-process | ${r.coldPath.usPerWarmRead.toFixed(1)} µs | |
| heap after ${r.memory.sessions} distinct sessions (before: ${r.memory.heapBeforeMiB.toFixed(0)} MiB) | ${r.memory.heapAfterMiB.toFixed(0)} MiB | bounded |

Session cookie ${r.sessionCookieBytes} bytes; express-openid-connect cookie ${r.eocCookieBytes} bytes. Run took ${r.seconds.toFixed(0)} s.
`
}

function stopAll() {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null && child.pid) {
      try {
        // next start was started detached: its group holds the server it forks
        if (child.spawnargs.includes('start')) process.kill(-child.pid, 'SIGKILL')
        else child.kill('SIGKILL')
      } catch {}
    }
  }
}

try {
  await main()
} catch (error) {
  console.error(error)
  process.exitCode = 1
} finally {
  stopAll()
  for (const cleanup of cleanups) await Promise.resolve(cleanup()).catch(() => undefined)
}
