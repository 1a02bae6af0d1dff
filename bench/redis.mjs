// A throwaway redis-server for the benchmarks (bench/run.mjs, bench/profile.mjs): on 127.0.0.1, a
// free port, no persistence, pinned to CPU 0 (the load generator's, as a Redis on its own machine
// would not share the app's CPU) when `pinned`.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

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

/** Starts redis-server; resolves to its URL and a `stop()` that kills it and removes its folder. */
export async function startRedis({ pinned }) {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'codeflow-bench-redis-'))
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']
  const child = spawn(
    pinned ? 'taskset' : 'redis-server',
    [...(pinned ? ['-c', '0', 'redis-server'] : []), ...args, '--dir', dir],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  const stop = () => {
    child.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  }
  const [spawned] = await Promise.race([
    once(child, 'spawn').then(() => [true]),
    once(child, 'error').then(() => [false]),
  ])
  if (!spawned) {
    stop()
    throw new Error('redis-server is not installed: apt-get install -y redis-server')
  }
  let output = ''
  child.stdout.on('data', (chunk) => {
    output += chunk
  })
  const deadline = Date.now() + 10_000
  while (!/Ready to accept connections/.test(output)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      stop()
      throw new Error(`redis-server did not start:\n${output}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return { url: `redis://127.0.0.1:${port}`, stop }
}
