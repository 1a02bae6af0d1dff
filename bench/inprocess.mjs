// In-process measurements, in a fresh process (`node --expose-gc bench/inprocess.mjs SESSIONS`):
// the cold path (a session read of a never-seen cookie: one unseal), the warm path (the same
// cookies again: cache hits), and the heap after SESSIONS distinct sessions were read.
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { auth, benchSession, read } from './session.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const { sealData } = await import(
  pathToFileURL(join(root, 'packages/core/node_modules/iron-session/dist/index.js')).href
)
// the core's own modules, as the ones '@codeflow/core' resolves to: its Auth's seal keys, and its
// seal (the same format as iron-session's sealData, without WebCrypto's thread-pool jobs: what
// makes a million distinct cookies take minutes, not a quarter of an hour)
const { appOf } = await import(pathToFileURL(join(root, 'packages/core/dist/auth.js')).href)
const { seal } = await import(pathToFileURL(join(root, 'packages/core/dist/seal/seal.js')).href)

const sessions = Number(process.argv[2] ?? 100_000)
// the session cookie's name on http (codeflow's default)
const name = 'codeflow'
// a session is sealed with the session's own key (one key per purpose, derived from the secret)
const sessionKeys = { ...appOf(auth).settings.sealKeys.session }

/**
 * A session the size of the HTTP benchmarks' (ID, access and refresh tokens, ~300 B of claims),
 * sealed by iron-session's sealData (`fast`: by the core's seal, the same format).
 */
async function cookie(n, fast = false) {
  const data = { ...benchSession(n), k: 'session' }
  const value = fast
    ? await seal('session', data, sessionKeys, 86_400)
    : await sealData(data, { password: sessionKeys, ttl: 86_400 })
  return `${name}=${value}`
}

// cold and warm paths, on 2,000 distinct cookies
const sample = []
for (let n = 0; n < 2000; n++) sample.push(await cookie(n))
for (const header of sample.slice(0, 200)) await read(header) // JIT warm-up (then cached)
const fresh = sample.slice(200)
// wall time (the awaits included), and this thread's CPU: what a read costs the event loop
const threadCpu = () => {
  const { user, system } = process.threadCpuUsage?.() ?? process.cpuUsage()
  return user + system
}
const cpuBefore = threadCpu()
let start = process.hrtime.bigint()
for (const header of fresh) await read(header)
const coldUs = Number(process.hrtime.bigint() - start) / 1000 / fresh.length
const coldCpuUs = (threadCpu() - cpuBefore) / fresh.length
start = process.hrtime.bigint()
for (let round = 0; round < 5; round++) for (const header of fresh) await read(header)
const warmUs = Number(process.hrtime.bigint() - start) / 1000 / (fresh.length * 5)
sample.length = 0
fresh.length = 0

// memory: SESSIONS distinct sessions read once each (cookies made and dropped one at a time)
globalThis.gc?.()
const before = process.memoryUsage()
// in batches: sealing and unsealing use WebCrypto, which runs on the thread pool
for (let n = 0; n < sessions; n += 64) {
  const batch = []
  for (let i = n; i < Math.min(n + 64, sessions); i++) batch.push(cookie(2000 + i, true).then(read))
  await Promise.all(batch)
}
globalThis.gc?.()
const after = process.memoryUsage()

console.log(
  JSON.stringify({
    cookieBytes: (await cookie(0)).length,
    coldUs,
    coldCpuUs,
    warmUs,
    sessions,
    heapBeforeMiB: before.heapUsed / 2 ** 20,
    heapAfterMiB: after.heapUsed / 2 ** 20,
    rssAfterMiB: after.rss / 2 ** 20,
  }),
)
