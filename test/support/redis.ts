/**
 * A real redis-server for the tests: started on 127.0.0.1 and a free port, with no persistence,
 * and stopped by its PID (never a mock, never left running).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './stack.js'

/** A running redis-server. */
export interface RedisServer {
  readonly url: string
  readonly port: number
  readonly pid: number
  /** stops the server (SIGKILL: it has nothing to save) */
  stop(): Promise<void>
}

/**
 * Spawns `redis-server <args>` without persistence and waits until it accepts connections; fails
 * with a clear message when redis-server is not installed, and with its output when it does not
 * start (it is killed then).
 */
export async function spawnRedis(args: readonly string[]): Promise<ChildProcess & { pid: number }> {
  const child: ChildProcess = spawn('redis-server', [...args, '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  const collect = (chunk: Buffer) => {
    output += chunk.toString()
  }
  child.stdout?.on('data', collect)
  child.stderr?.on('data', collect)
  const spawned = await Promise.race([
    once(child, 'spawn').then(() => true),
    once(child, 'error').then(() => false),
  ])
  if (!spawned || child.pid === undefined) {
    throw new Error('redis-server is not installed: run `apt-get install -y redis-server`')
  }
  const deadline = Date.now() + 10_000
  while (!/Ready to accept connections/.test(output)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`redis-server did not start:\n${output}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return child as ChildProcess & { pid: number }
}

/** Starts redis-server; fails with a clear message when it is not installed. */
export async function startRedis(): Promise<RedisServer> {
  const port = await freePort()
  const dir = await mkdtemp(join(tmpdir(), 'codeflow-redis-'))
  const child = await spawnRedis(['--port', String(port), '--bind', '127.0.0.1', '--dir', dir])
  const pid = child.pid
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, 'exit')
        process.kill(pid, 'SIGKILL')
        await exited
      }
      await rm(dir, { recursive: true, force: true })
    },
  }
}
