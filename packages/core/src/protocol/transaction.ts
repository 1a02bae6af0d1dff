/**
 * Login transactions: one sealed cookie per login, keyed by its `state` so several tabs can log in
 * at once, short-lived, bound to the browser that started it, and deleted on first use so that a
 * replayed callback fails (RFC 9700 §2.1.1).
 */
import type { App } from '../auth.js'
import { epoch } from '../clock.js'
import { MissingTransactionError, StateMismatchError } from '../errors.js'
import type { HttpContext } from '../http/context.js'
import { seal, unseal } from '../seal/seal.js'
import type { DPoPKey } from './dpop.js'

/** What one login transaction remembers between /login and /callback. */
export interface Transaction {
  readonly state: string
  readonly nonce: string
  readonly codeVerifier: string
  /** the absolute, already validated URL to return to */
  readonly returnTo: string
  /** when the login started, epoch seconds */
  readonly iat: number
  /** the issuer the login was sent to: its callback is checked against it (RFC 9207) */
  readonly iss?: string | undefined
  /** the `id` of its provider (an app with `providers`) */
  readonly provider?: string | undefined
  /** the DPoP key the login's tokens are bound to (`dpop`), kept by the session it makes */
  readonly dpopKey?: DPoPKey | undefined
  /** a silent login (`prompt=none`): a login the provider cannot do silently lands anonymous */
  readonly silent?: true | undefined
  /** the `max_age` asked: the ID token's `auth_time` must be at most this old */
  readonly maxAge?: number | undefined
  /** the `acr` values one of which the ID token's `acr` must be (a step-up) */
  readonly acr?: readonly string[] | undefined
}

/** openid-client's random values are base64url: anything else cannot be one of our states. */
const STATE = /^[A-Za-z0-9_-]{16,128}$/

async function openTransaction(app: App, value: string): Promise<Transaction | undefined> {
  const { settings } = app
  const rejected = (reason: string, error?: unknown) =>
    app.report({
      level: reason === 'expired' ? 'debug' : 'warn',
      code: 'transaction_cookie_rejected',
      message: `a login transaction cookie was rejected (${reason})`,
      error,
    })
  const transaction = await unseal<Transaction & Record<string, unknown>>(
    'transaction',
    value,
    settings.sealKeys.transaction,
    rejected,
  )
  if (!transaction) return undefined
  // the seal expires too, by the system's clock and with Iron's skew; the app's clock decides
  if (
    typeof transaction.iat !== 'number' ||
    epoch(settings) >= transaction.iat + settings.transactionTtl
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
async function pruneTransactions(app: App, ctx: HttpContext): Promise<void> {
  const names = app.cookies.transactions(ctx)
  const { maxTransactions } = app.settings
  if (names.length < maxTransactions) return
  const aged = await Promise.all(
    names.map(async (name) => ({
      name,
      iat: (await openTransaction(app, app.cookies.get(ctx, name) ?? ''))?.iat ?? -1,
    })),
  )
  aged.sort((a, b) => a.iat - b.iat)
  const excess = aged.slice(0, aged.length - maxTransactions + 1)
  app.cookies.delete(
    ctx,
    excess.map(({ name }) => name),
  )
}

/** Seals a new transaction into its own cookie. */
export async function startTransaction(
  app: App,
  ctx: HttpContext,
  transaction: Transaction,
): Promise<void> {
  await pruneTransactions(app, ctx)
  const { sealKeys, transactionTtl } = app.settings
  const value = await seal('transaction', { ...transaction }, sealKeys.transaction, transactionTtl)
  app.cookies.writeTransaction(ctx, transaction.state, value, transactionTtl)
}

/**
 * Finds the transaction of `state` and deletes its cookie, whatever happens next: a transaction is
 * used at most once. Throws `MissingTransactionError` when this browser has no login in progress
 * and `StateMismatchError` when none of its logins has this state.
 */
export async function takeTransaction(
  app: App,
  ctx: HttpContext,
  state: string | null,
): Promise<Transaction> {
  if (app.cookies.transactions(ctx).length === 0) {
    const { origin } = app.settings
    throw new MissingTransactionError(undefined, {
      hint: `the callback came without a login transaction cookie: the login took longer than "transactionTtl", or it started at another address than ${origin} ("baseUrl"; cookies do not cross hosts, 127.0.0.1 and localhost included)`,
    })
  }
  if (state === null || !STATE.test(state)) throw new StateMismatchError()
  const name = app.cookies.transactionName(state)
  const value = app.cookies.get(ctx, name)
  if (value === undefined) throw new StateMismatchError()
  app.cookies.delete(ctx, [name])
  const transaction = await openTransaction(app, value)
  if (!transaction) throw new MissingTransactionError()
  // the cookie name is not sealed: the sealed state must be the one asked for
  if (transaction.state !== state) throw new StateMismatchError()
  return transaction
}
