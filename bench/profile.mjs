// One scenario of bench/server.mjs on its own, to look into it (not part of `pnpm bench`):
//
//   node bench/profile.mjs express-codeflow                 # load /api/me: req/s, app CPU µs/request
//   node bench/profile.mjs express-codeflow --logins 200    # sequential logins: app CPU ms/login
//   node bench/profile.mjs koa-codeflow --cpu-prof          # the same under `node --cpu-prof`
//   node bench/profile.mjs express-redis                    # starts a redis-server for it
//   node bench/profile.mjs koa-codeflow --node-flags=--trace-gc   # the app's output on stderr
//
// Starts the dev provider, the scenario (pinned to the last CPU when taskset is there), signs in,
// then loads it with wrk (pinned to the first CPU) or autocannon. Run `pnpm build` first.
// --cpu-prof writes the app's profile to bench/results/ (git-ignored).
import { execFileSync, fork } from 'node:child_process'
import { cpus } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { startDevProvider } from '@codeflow/dev-provider'
import autocannon from 'autocannon'
import { login } from './login.mjs'
import { startRedis } from './redis.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const { values: flags, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '2' },
    connections: { type: 'string', default: '10' },
    logins: { type: 'string' },
    'cpu-prof': { type: 'boolean', default: false },
    'node-flags': { type: 'string', default: '' },
  },
})
const scenario = positionals[0] ?? 'express-codeflow'
const has = (command) => {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}
const pinned = cpus().length >= 2 && has('taskset')
const port = 40_000 + Math.floor(Math.random() * 10_000)
const secret = 'a-benchmark-secret-of-at-least-32-characters'
const provider = await startDevProvider({
  clients: [
    {
      clientId: 'profile',
      clientSecret: 'profile-secret',
      redirectUris: [`http://127.0.0.1:${port}/callback`],
    },
  ],
  claims: { org: 'Example Organisation', roles: ['reader', 'writer', 'reviewer'] },
})
// the -redis scenarios keep their sessions and revocations in a redis-server of their own
const redis = scenario.endsWith('-redis') ? await startRedis({ pinned }) : undefined
const execArgv = [
  ...(flags['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${join(here, 'results')}`] : []),
  ...flags['node-flags'].split(' ').filter(Boolean),
]
const child = fork(join(here, 'server.mjs'), [scenario], {
  ...(pinned
    ? {
        execPath: 'taskset',
        execArgv: ['-c', String(cpus().length - 1), process.execPath, ...execArgv],
      }
    : { execArgv }),
  env: {
    ...process.env,
    BENCH_PORT: String(port),
    NODE_ENV: 'production',
    BENCH_ISSUER: provider.issuer,
    BENCH_CLIENT_ID: 'profile',
    BENCH_CLIENT_SECRET: 'profile-secret',
    BENCH_SECRET: secret,
    ...(redis ? { BENCH_REDIS_URL: redis.url } : {}),
    BENCH_CLAIMS: JSON.stringify({ sub: 'alice', name: 'Alice', org: 'Example Organisation' }),
  },
  stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
})
let output = ''
child.stdout.on('data', (chunk) => {
  output += chunk
  // what the app prints after it listens (e.g. --trace-gc) goes to stderr
  if (flags['node-flags'] && output.includes('ready')) process.stderr.write(chunk)
})
const ready = Date.now() + 30_000
while (!output.includes('ready')) {
  if (child.exitCode !== null || Date.now() > ready) throw new Error(`${scenario} did not start`)
  await new Promise((resolve) => setTimeout(resolve, 20))
}
const cpu = () =>
  new Promise((resolve) => {
    child.once('message', (message) =>
      resolve({ ...message.cpu, ...message.usage, memory: message.memory }),
    )
    child.send('cpu')
  })
const used = (before, after) => after.user - before.user + after.system - before.system
const url = `http://127.0.0.1:${port}`
// the bare scenarios have no login: they get a cookie of the same size, which they ignore
const cookie = scenario.endsWith('-bare') ? `codeflow=${'x'.repeat(2200)}` : await login(url)

try {
  if (flags.logins) {
    const n = Number(flags.logins)
    for (let i = 0; i < Math.min(n, 20); i++) await login(url)
    const before = await cpu()
    const started = performance.now()
    for (let i = 0; i < n; i++) await login(url)
    const seconds = (performance.now() - started) / 1000
    const ms = used(before, await cpu()) / 1000 / n
    console.log(
      `${scenario}: ${(n / seconds).toFixed(1)} logins/s, app CPU ${ms.toFixed(2)} ms/login`,
    )
  } else {
    for (let round = 1; round <= Number(flags.rounds); round++) {
      const before = await cpu()
      const { rps, total } = await load()
      const after = await cpu()
      const per = (key) => ((after[key] - before[key]) / total).toFixed(3)
      console.log(
        `${scenario}: ${Math.round(rps)} req/s, app CPU ${(used(before, after) / total).toFixed(1)} µs/request (${((after.user - before.user) / total).toFixed(1)} user), per request: ${per('minorPageFault')} page faults, ${per('voluntaryContextSwitches')} + ${per('involuntaryContextSwitches')} context switches; heap ${(after.memory.heapUsed / 2 ** 20).toFixed(1)} of ${(after.memory.heapTotal / 2 ** 20).toFixed(1)} MiB, RSS ${(after.memory.rss / 2 ** 20).toFixed(0)} MiB`,
      )
    }
  }
} finally {
  child.kill('SIGINT')
  await new Promise((resolve) => child.once('exit', resolve))
  await provider.close()
  redis?.stop()
}

async function load() {
  const target = `${url}/api/me`
  const seconds = Number(flags.seconds)
  if (has('wrk')) {
    const args = [
      '-t1',
      `-c${flags.connections}`,
      `-d${seconds}s`,
      '-H',
      `cookie: ${cookie}`,
      target,
    ]
    const text = execFileSync(
      pinned ? 'taskset' : 'wrk',
      pinned ? ['-c', '0', 'wrk', ...args] : args,
    ).toString()
    if (/Non-2xx/.test(text)) throw new Error(text)
    return {
      rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1]),
      total: Number(/(\d+) requests in/.exec(text)?.[1]),
    }
  }
  const result = await autocannon({
    url: target,
    connections: Number(flags.connections),
    duration: seconds,
    headers: { cookie },
  })
  if (result.non2xx > 0) throw new Error(`${result.non2xx} answers were not 2xx`)
  return { rps: result.requests.average, total: result.requests.total }
}
