/** Starting an example app as its own process, the way a user does, and stopping it by PID. */
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'

/** A running child process and what it printed. */
export interface RunningProcess {
  readonly child: ChildProcess
  output(): string
  /** resolves with the exit code once the process ended */
  readonly exited: Promise<number | null>
  stop(): Promise<void>
}

/**
 * Spawns `command` with `env` added to a minimal environment, capturing its output; with `ipc`,
 * also with an IPC channel (`child.send`, e.g. for a test clock).
 */
export function spawnProcess(
  command: string,
  args: string[],
  options: { cwd: string; env: Record<string, string>; ipc?: boolean },
): RunningProcess {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...options.env },
    stdio: options.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString()
  })
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString()
  })
  const exited = once(child, 'exit').then(([code]) => code as number | null)
  return {
    child,
    output: () => output,
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(timer)
    },
  }
}

/** Waits until the process printed `pattern`, or fails with its output. */
export async function waitForOutput(
  running: RunningProcess,
  pattern: RegExp,
  timeoutMs = 30_000,
): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const match = pattern.exec(running.output())
    if (match) return match
    if (running.child.exitCode !== null) break
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`process did not print ${pattern}:\n${running.output()}`)
}

/**
 * The addresses the sockets listening on TCP `port` are bound to (IPv4 as dotted quads, IPv6 as
 * `::` or `::1`), from Linux's /proc/net/tcp and tcp6.
 */
export function listeningAddresses(port: number): string[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0')
  const found = new Set<string>()
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let table: string
    try {
      table = readFileSync(file, 'utf8')
    } catch {
      continue
    }
    for (const line of table.split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/)
      if (!local || state !== '0A') continue
      const [address, localPort] = local.split(':')
      if (localPort !== hexPort || address === undefined) continue
      found.add(address.length === 8 ? ipv4(address) : ipv6(address))
    }
  }
  return [...found].sort()
}

function ipv4(hex: string): string {
  // little-endian: 0100007F is 127.0.0.1
  return [6, 4, 2, 0].map((i) => Number.parseInt(hex.slice(i, i + 2), 16)).join('.')
}

function ipv6(hex: string): string {
  if (/^0+$/.test(hex)) return '::'
  if (hex === '00000000000000000000000001000000') return '::1'
  return hex
}
