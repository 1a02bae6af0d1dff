// The app CPU of a full login (login + callback, cookie session), measured apart from the rest
// (not part of `pnpm bench`; run `pnpm build` first):
//
//   node bench/login-cpu.mjs [scenario] [--logins 300] [--rounds 3] [--cpu-prof]
//
// As run.mjs's measureLogins: the dev provider in this process, bench/server.mjs's scenario
// (express-codeflow by default) in a child pinned to the last CPU, a warm-up of 30 logins, then
// sequential logins by bench/login.mjs. Per login: the app's CPU (its process.cpuUsage(), every
// thread) and, from /proc, its main thread's alone (JavaScript, synchronous crypto, zlib) and
// the other threads' (libuv's pool: WebCrypto jobs; V8: GC and compilation). With --cpu-prof the
// app runs under `node --cpu-prof` and its profile is summed over the measured logins only
// (samples inside their window), by function: self and inclusive ms per login.
import { execFileSync, fork } from 'node:child_process'
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { cpus } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { startDevProvider } from '@codeflow/dev-provider'
import { login } from './login.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const { values: flags, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    logins: { type: 'string', default: '300' },
    rounds: { type: 'string', default: '3' },
    'cpu-prof': { type: 'boolean', default: false },
    top: { type: 'string', default: '30' },
  },
})
const scenario = positionals[0] ?? 'express-codeflow'
const WARMUP = 30
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
const profileDir = join(here, 'results', `login-cpu-${process.pid}`)
const execArgv = flags['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []
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
    BENCH_SECRET: 'a-benchmark-secret-of-at-least-32-characters',
    BENCH_CLAIMS: JSON.stringify({ sub: 'alice', name: 'Alice', org: 'Example Organisation' }),
  },
  stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
})
let output = ''
child.stdout.on('data', (chunk) => {
  output += chunk
})
const ready = Date.now() + 30_000
while (!output.includes('ready')) {
  if (child.exitCode !== null || Date.now() > ready) throw new Error(`${scenario} did not start`)
  await new Promise((resolve) => setTimeout(resolve, 20))
}
// under taskset, the app is taskset's child: the node process is the one that answers IPC
const appPid = await new Promise((resolve) => {
  child.once('message', () => resolve(child.pid))
  child.send('cpu')
})
const cpu = () =>
  new Promise((resolve) => {
    child.once('message', (message) => resolve(message.cpu))
    child.send('cpu')
  })
/**
 * CPU µs of the app's main thread, of all its threads, and by thread name (the other threads:
 * libuv's pool, V8's workers), from /proc (clock ticks of 10 ms).
 */
function threads() {
  const ticks = (path) => {
    const fields = readFileSync(path, 'utf8').split(') ')[1].split(' ')
    return (Number(fields[11]) + Number(fields[12])) * 10_000
  }
  try {
    const named = {}
    for (const tid of readdirSync(`/proc/${appPid}/task`)) {
      if (tid === String(appPid)) continue
      const comm = readFileSync(`/proc/${appPid}/task/${tid}/comm`, 'utf8').trim()
      named[comm] = (named[comm] ?? 0) + ticks(`/proc/${appPid}/task/${tid}/stat`)
    }
    return {
      main: ticks(`/proc/${appPid}/task/${appPid}/stat`),
      all: ticks(`/proc/${appPid}/stat`),
      named,
    }
  } catch {
    return undefined
  }
}
const url = `http://127.0.0.1:${port}`
const n = Number(flags.logins)
const windows = []
const results = []
try {
  for (let i = 0; i < WARMUP; i++) await login(url)
  for (let round = 1; round <= Number(flags.rounds); round++) {
    const before = await cpu()
    const beforeThreads = threads()
    const start = process.hrtime.bigint()
    const started = performance.now()
    for (let i = 0; i < n; i++) await login(url)
    const seconds = (performance.now() - started) / 1000
    windows.push([Number(start / 1000n), Number(process.hrtime.bigint() / 1000n)])
    const after = await cpu()
    const afterThreads = threads()
    const ms = (after.user - before.user + after.system - before.system) / 1000 / n
    const split =
      beforeThreads && afterThreads
        ? {
            main: (afterThreads.main - beforeThreads.main) / 1000 / n,
            other:
              (afterThreads.all - afterThreads.main - (beforeThreads.all - beforeThreads.main)) /
              1000 /
              n,
            named: Object.entries(afterThreads.named)
              .map(([comm, us]) => [comm, (us - (beforeThreads.named[comm] ?? 0)) / 1000 / n])
              .filter(([, ms]) => ms > 0)
              .map(([comm, ms]) => `${comm} ${ms.toFixed(2)}`)
              .join(', '),
          }
        : undefined
    results.push(ms)
    console.log(
      `${scenario} round ${round}: ${(n / seconds).toFixed(1)} logins/s, app CPU ${ms.toFixed(2)} ms/login (user ${((after.user - before.user) / 1000 / n).toFixed(2)}, system ${((after.system - before.system) / 1000 / n).toFixed(2)})${split ? `; main thread ${split.main.toFixed(2)}, other threads ${split.other.toFixed(2)} (${split.named})` : ''}`,
    )
  }
  const sorted = [...results].sort((a, b) => a - b)
  console.log(
    `${scenario}: median app CPU ${sorted[Math.floor(sorted.length / 2)].toFixed(2)} ms/login over ${results.length} rounds of ${n}`,
  )
} finally {
  child.kill('SIGINT')
  await new Promise((resolve) => child.once('exit', resolve))
  await provider.close()
}

if (flags['cpu-prof']) {
  // the profile file appears once the app has exited
  let file
  for (let i = 0; i < 100 && !file; i++) {
    file = readdirSync(profileDir, { withFileTypes: true }).find((f) =>
      f.name.endsWith('.cpuprofile'),
    )
    if (!file) await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const path = join(profileDir, file.name)
  while (statSync(path).size === 0) await new Promise((resolve) => setTimeout(resolve, 50))
  summarize(JSON.parse(readFileSync(path, 'utf8')), windows, n * windows.length, Number(flags.top))
  rmSync(profileDir, { recursive: true })
}

/** Self and inclusive time by function over the samples inside `windows`, per login. */
function summarize(profile, windows, logins, top) {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]))
  const parent = new Map()
  for (const node of profile.nodes) for (const c of node.children ?? []) parent.set(c, node.id)
  const name = (node) => {
    const { functionName, url: file, lineNumber } = node.callFrame
    return `${functionName || '(anonymous)'} ${file.split('/').slice(-2).join('/')}:${lineNumber + 1}`
  }
  const self = new Map()
  const inclusive = new Map()
  let at = profile.startTime
  let total = 0
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i]
    const next = profile.timeDeltas[i + 1] ?? 0
    if (!windows.some(([from, to]) => at >= from && at < to)) continue
    const id = profile.samples[i]
    const leaf = nodes.get(id)
    if (leaf.callFrame.functionName === '(idle)') continue
    total += next
    self.set(name(leaf), (self.get(name(leaf)) ?? 0) + next)
    const seen = new Set()
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const key = name(nodes.get(cur))
      if (seen.has(key)) continue
      seen.add(key)
      inclusive.set(key, (inclusive.get(key) ?? 0) + next)
    }
  }
  const list = (map) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([key, us]) => `  ${(us / 1000 / logins).toFixed(3).padStart(7)} ms  ${key}`)
      .join('\n')
  console.log(
    `main thread, sampled: ${(total / 1000 / logins).toFixed(2)} ms/login (idle left out)`,
  )
  console.log(`self:\n${list(self)}\ninclusive:\n${list(inclusive)}`)
}
