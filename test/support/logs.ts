/**
 * What an app under test reports by default (codeflow's console logger): for an app in this
 * process, what it writes to the console from now on; for an app in its own process, what that
 * process printed from now on.
 */
import { vi } from 'vitest'

/** Something whose own process's output can be read (a stack's instance). */
interface Printing {
  output(): string
}

/** Starts capturing; the function returned gives what was printed since, and `stop` ends it. */
export function captureLogs(instance: Printing): { lines(): string[]; stop(): void } {
  const printed: string[] = []
  const record = (...args: unknown[]) => {
    printed.push(args.map(String).join(' '))
  }
  const warn = vi.spyOn(console, 'warn').mockImplementation(record)
  const error = vi.spyOn(console, 'error').mockImplementation(record)
  const before = instance.output().length
  return {
    lines: () => [
      ...printed,
      ...instance
        .output()
        .slice(before)
        .split('\n')
        .filter((line) => line.length > 0),
    ],
    stop() {
      warn.mockRestore()
      error.mockRestore()
    },
  }
}
