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

/** Reports an event to the configured logger, swallowing anything the logger throws. */
export function report(logger: AuthLogger | undefined, event: AuthLogEvent): void {
  if (!logger) return
  try {
    logger(event)
  } catch {
    // a logger that throws must never turn a request into a 500
  }
}
