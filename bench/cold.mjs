// The cold path on its own (not part of `pnpm bench`; run `pnpm build` first):
//
//   node bench/cold.mjs [--cookies 4000] [--rounds 5] [--cpu-prof]
//
// A cold read is the session read of a cookie never seen before: one unseal (two PBKDF2 key
// derivations, an HMAC, an AES-CBC decryption), the payload's unpacking, the session's view (the
// ID token's claims) and the checks every read makes. Measured on two kinds of cookie of the
// HTTP benchmarks' size: sealed by iron-session's sealData, as bench/inprocess.mjs makes them
// (plain JSON), and sealed by codeflow itself, as a login writes them (tokens decoded, deflated).
// Reported per read: the main thread's CPU (process.threadCpuUsage), the process's (every
// thread), and the wall time; then the same for each stage alone, on the same cookies. The median
// of `rounds` rounds, each over fresh cookies. With --cpu-prof, the reads of the last round are
// profiled (node:inspector) and summed by function.
import { Session } from 'node:inspector/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { auth, benchSession, read } from './session.mjs'

const { values: flags } = parseArgs({
  options: {
    cookies: { type: 'string', default: '4000' },
    rounds: { type: 'string', default: '5' },
    'cpu-prof': { type: 'boolean', default: false },
  },
})
const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const module = (path) => import(pathToFileURL(join(root, 'packages/core', path)).href)
const { sealData } = await module('node_modules/iron-session/dist/index.js')
// the core's own modules, as the ones '@codeflow/core' resolves to
const { appOf } = await module('dist/auth.js')
const { seal, unseal } = await module('dist/seal/seal.js')
const { ironUnseal } = await module('dist/seal/iron.js')
const { packSession, unpackSession } = await module('dist/session/compact.js')
const { claimsOf } = await module('dist/session/view.js')
const nodeCrypto = await import('node:crypto')

const keys = { ...appOf(auth).settings.sealKeys.session }
const session = benchSession

const kinds = {
  /** as bench/inprocess.mjs: iron-session's sealData, the payload as it is */
  'iron-session': (n) => sealData({ ...session(n), k: 'session' }, { password: keys, ttl: 86_400 }),
  /** as a login: codeflow's seal of the packed session */
  codeflow: async (n) => seal('session', await packSession(session(n)), keys, 86_400),
}

/** µs per call of `run` over `values`: main thread CPU, every thread's CPU, wall. */
async function measure(values, run) {
  const thread = process.threadCpuUsage()
  const all = process.cpuUsage()
  const start = process.hrtime.bigint()
  for (const value of values) await run(value)
  const wall = Number(process.hrtime.bigint() - start) / 1000
  const t = process.threadCpuUsage(thread)
  const a = process.cpuUsage(all)
  const n = values.length
  return { main: (t.user + t.system) / n, all: (a.user + a.system) / n, wall: wall / n }
}

const stages = {
  'whole read (authenticate)': (value) => read(`codeflow=${value}`),
  'iron unseal (ironUnseal)': (value) => ironUnseal(nodeCrypto, value, keys),
  'unseal + JSON.parse': (value) => unseal('session', value, keys, () => undefined),
  'unpackSession (inflate)': async (value) => {
    await unpackSession(await unseal('session', value, keys, () => undefined))
  },
  'claims (ID token decode)': async (value) => {
    claimsOf(await unpackSession(await unseal('session', value, keys, () => undefined)))
  },
}

const count = Number(flags.cookies)
const rounds = Number(flags.rounds)
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
const profiler = flags['cpu-prof'] ? new Session() : undefined
profiler?.connect()
for (const [kind, make] of Object.entries(kinds)) {
  const results = {}
  for (let round = 0; round < rounds; round++) {
    // fresh cookies each round: the whole read caches what it unseals
    const values = []
    for (let n = 0; n < count; n++) values.push((await make(round * count + n)).toString())
    // JIT warm-up on other cookies
    const warm = []
    for (let n = 0; n < 300; n++) warm.push((await make(1e6 + round * 300 + n)).toString())
    for (const run of Object.values(stages)) {
      for (const value of warm.slice(0, 100)) await run(value)
    }
    const last = profiler && round === rounds - 1
    if (last) {
      await profiler.post('Profiler.enable')
      await profiler.post('Profiler.setSamplingInterval', { interval: 50 })
      await profiler.post('Profiler.start')
    }
    for (const [stage, run] of Object.entries(stages)) {
      results[stage] = results[stage] ?? []
      results[stage].push(await measure(values, run))
      if (last && stage === 'whole read (authenticate)') {
        const { profile } = await profiler.post('Profiler.stop')
        summarize(profile, count)
      }
    }
  }
  console.log(`${kind} cookie (${(await make(0)).length + 'codeflow='.length} bytes), µs per read:`)
  for (const [stage, samples] of Object.entries(results)) {
    const m = (key) =>
      median(samples.map((s) => s[key]))
        .toFixed(1)
        .padStart(6)
    console.log(
      `  ${stage.padEnd(28)} main ${m('main')}  all threads ${m('all')}  wall ${m('wall')}`,
    )
  }
}

/** Self time by function of the profiled whole reads, µs per read. */
function summarize(profile, reads) {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]))
  const self = new Map()
  for (let i = 0; i < profile.samples.length; i++) {
    const { functionName, url, lineNumber } = nodes.get(profile.samples[i]).callFrame
    if (functionName === '(idle)') continue
    const key = `${functionName || '(anonymous)'} ${url.split('/').slice(-2).join('/')}:${lineNumber + 1}`
    self.set(key, (self.get(key) ?? 0) + (profile.timeDeltas[i + 1] ?? 0))
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0)
  console.log(
    `profile of the whole reads: ${(total / reads).toFixed(1)} µs per read sampled; self:`,
  )
  for (const [key, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) {
    console.log(`  ${(us / reads).toFixed(2).padStart(7)} µs  ${key}`)
  }
}
