/**
 * Login transactions: one sealed cookie per login, keyed by its `state` so several tabs can log in
 * at once, short-lived, bound to the browser that started it, and deleted on first use so that a
 * replayed callback fails (RFC 9700 §2.1.1, SECURITY.md "The login transaction").
 */
import { type HttpContext, requestCookies, writeCookies } from './context.js'
import { deletionCookie, makeCookie } from './cookies.js'
import { MissingTransactionError, StateMismatchError } from './errors.js'
import { report } from './logger.js'
import type { ResolvedOptions } from './options.js'
import { seal, unseal } from './seal.js'
import { epoch } from './session.js'

/** What one login transaction remembers between /login and /callback. */
export interface Transaction {
  readonly state: string
  readonly nonce: string
  readonly codeVerifier: string
  /** the absolute, already validated URL to return to */
  readonly returnTo: string
  /** when the login started, epoch seconds */
  readonly iat: number
}

/** openid-client's random values are base64url: anything else cannot be one of our states. */
const STATE = /^[A-Za-z0-9_-]{16,128}$/

function transactionNames(ctx: HttpContext, options: ResolvedOptions): string[] {
  const names: string[] = []
  for (const name of requestCookies(ctx).keys()) {
    if (name.startsWith(options.transactionCookiePrefix)) names.push(name)
  }
  return names
}

async function openTransaction(
  options: ResolvedOptions,
  value: string,
): Promise<Transaction | undefined> {
  const rejected = (reason: string, error?: unknown) =>
    report(options.logger, {
      level: reason === 'expired' ? 'debug' : 'warn',
      code: 'transaction_cookie_rejected',
      message: `a login transaction cookie was rejected (${reason})`,
      error,
    })
  const transaction = await unseal<Transaction & Record<string, unknown>>(
    'transaction',
    value,
    options.passwords,
    rejected,
  )
  if (!transaction) return undefined
  // the seal expires too, by the system's clock and with Iron's skew; the app's clock decides
  if (
    typeof transaction.iat !== 'number' ||
    epoch(options) >= transaction.iat + options.transactionTtl
  ) {
    rejected('expired')
    return undefined
  }
  return transaction
}

/**
 * Makes room for a new transaction: at most `maxTransactions` may be pending, so the oldest (and
 * any that no longer unseal) are deleted. Stacking them would end in HTTP 431.
 */
async function pruneTransactions(ctx: HttpContext, options: ResolvedOptions): Promise<void> {
  const names = transactionNames(ctx, options)
  if (names.length < options.maxTransactions) return
  const cookies = requestCookies(ctx)
  const aged = await Promise.all(
    names.map(async (name) => ({
      name,
      iat: (await openTransaction(options, cookies.get(name) ?? ''))?.iat ?? -1,
    })),
  )
  aged.sort((a, b) => a.iat - b.iat)
  const excess = aged.slice(0, aged.length - options.maxTransactions + 1)
  writeCookies(
    ctx,
    excess.map(({ name }) => deletionCookie(name, options.secure)),
  )
}

/** Seals a new transaction into its own cookie. */
export async function startTransaction(
  ctx: HttpContext,
  options: ResolvedOptions,
  transaction: Transaction,
): Promise<void> {
  await pruneTransactions(ctx, options)
  const value = await seal(
    'transaction',
    { ...transaction },
    options.passwords,
    options.transactionTtl,
  )
  writeCookies(ctx, [
    makeCookie(
      options.transactionCookiePrefix + transaction.state,
      value,
      options.secure,
      options.transactionTtl,
    ),
  ])
}

/**
 * Finds the transaction of `state` and deletes its cookie, whatever happens next: a transaction is
 * used at most once. Throws `MissingTransactionError` when this browser has no login in progress
 * and `StateMismatchError` when none of its logins has this state.
 */
export async function takeTransaction(
  ctx: HttpContext,
  options: ResolvedOptions,
  state: string | null,
): Promise<Transaction> {
  const pending = transactionNames(ctx, options)
  if (pending.length === 0) throw new MissingTransactionError()
  if (state === null || !STATE.test(state)) throw new StateMismatchError()
  const name = options.transactionCookiePrefix + state
  const value = requestCookies(ctx).get(name)
  if (value === undefined) throw new StateMismatchError()
  writeCookies(ctx, [deletionCookie(name, options.secure)])
  const transaction = await openTransaction(options, value)
  if (!transaction) throw new MissingTransactionError()
  // the cookie name is not sealed: the sealed state must be the one asked for
  if (transaction.state !== state) throw new StateMismatchError()
  return transaction
}
