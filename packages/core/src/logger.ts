/** One thing codeflow reports: a rejected cookie, a provider fault, a failed login. */
export interface AuthLogEvent {
  /** how much it matters */
  level: 'debug' | 'info' | 'warn' | 'error'
  /** a stable code, e.g. `session_cookie_rejected` */
  code: string
  /** a human-readable line; never contains tokens or cookie values */
  message: string
  /** the underlying error, if any */
  error?: unknown
}

/** Reports why a cookie or seal was refused; the request goes on without it. */
export type Rejected = (reason: string, error?: unknown) => void

/** The logger hook: called synchronously; it must not throw. */
export type AuthLogger = (event: AuthLogEvent) => void

/** The console logger prints one line per code per minute: junk cookies cannot flood a log. */
const QUIET_MS = 60_000

/**
 * The logger of an app that configures none (one per app): warnings and errors, one line each,
 * on the console, at most one per code and minute (`logger: false` silences it). What codeflow
 * reports never holds tokens, secrets, codes or cookie values; the underlying error
 * (`event.error`) is not printed, since a provider's response in it might.
 */
export function consoleLogger(): AuthLogger {
  const printed = new Map<string, { at: number; more: number }>()
  return (event) => {
    if (event.level !== 'warn' && event.level !== 'error') return
    const now = Date.now()
    const seen = printed.get(event.code)
    if (seen && now - seen.at < QUIET_MS) {
      seen.more++
      return
    }
    const more = seen?.more ? ` (and ${seen.more} more like it in the last minute)` : ''
    printed.set(event.code, { at: now, more: 0 })
    const line = `codeflow: ${event.message} [${event.code}]${more}`
    if (event.level === 'error') console.error(line)
    else console.warn(line)
  }
}

const REPORTED = Symbol('codeflow.reported')

/**
 * Reports an event to the configured logger, swallowing anything the logger throws. Its error is
 * marked as reported: an error shared by the requests it fails is reported once, where it arose.
 */
export function report(logger: AuthLogger | undefined, event: AuthLogEvent): void {
  const { error } = event
  if (error !== null && typeof error === 'object' && Object.isExtensible(error)) {
    Object.defineProperty(error, REPORTED, { value: true, configurable: true })
  }
  if (!logger) return
  try {
    logger(event)
  } catch {
    // a logger that throws must never turn a request into a 500
  }
}

/** Whether `error` was reported already (see `report`). */
export function wasReported(error: unknown): boolean {
  return error !== null && typeof error === 'object' && REPORTED in error
}
