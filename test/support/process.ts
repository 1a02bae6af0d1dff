/** Starting an example app as its own process, the way a user does, and stopping it by PID. */
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'

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
