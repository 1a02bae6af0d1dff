import { sealData, type UnsealErrorReason, unsealData } from 'iron-session'
import { IronError, ironSeal, ironUnseal, nodeCrypto } from './iron.js'

/**
 * What a sealed cookie holds. The `k` member types the payload, so a transaction cookie can never
 * be accepted as a session cookie or the other way round (next-auth CVE-2023-48309 was that);
 * `logout` is the cookie that carries a logout's `state` and `returnTo` through the provider.
 */
export type SealKind = 'session' | 'transaction' | 'logout'

/** The newest password id of a map: the one every new seal uses. */
export function newestPasswordId(passwords: Readonly<Record<string, string>>): string {
  return String(Math.max(...Object.keys(passwords).map(Number)))
}

/**
 * Seals `data` as a payload of `kind` with the newest password; the seal expires after `ttl` s.
 * iron-session's format; made with Node's synchronous crypto where there is one (`iron.ts`).
 */
export async function seal(
  kind: SealKind,
  data: Record<string, unknown>,
  passwords: Readonly<Record<string, string>>,
  ttl: number,
): Promise<string> {
  if (!nodeCrypto) return sealData({ ...data, k: kind }, { password: { ...passwords }, ttl })
  const id = newestPasswordId(passwords)
  const json = JSON.stringify({ ...data, k: kind })
  return ironSeal(nodeCrypto, json, id, passwords[id] as string, ttl * 1000)
}

/** Why a seal was refused. */
export type UnsealFailure = UnsealErrorReason | 'wrong-kind'

/**
 * Unseals a payload of `kind`. Returns `undefined` for anything else (tampered, truncated,
 * expired, unknown password, or a payload of another kind) and reports why through `onFailure`.
 */
export async function unseal<T extends Record<string, unknown>>(
  kind: SealKind,
  value: string,
  passwords: Readonly<Record<string, string>>,
  onFailure: (reason: UnsealFailure, error?: unknown) => void,
): Promise<T | undefined> {
  const opened = nodeCrypto
    ? openNow(value, passwords)
    : await openWithIronSession(value, passwords)
  if ('failure' in opened) {
    onFailure(opened.failure, opened.cause)
    return undefined
  }
  const { data } = opened
  if (data === null || typeof data !== 'object' || (data as { k?: unknown }).k !== kind) {
    onFailure('wrong-kind')
    return undefined
  }
  return data as T
}

type Opened = { readonly data: unknown } | { readonly failure: UnsealErrorReason; cause: unknown }

/** Unseals with Node's crypto (`iron.ts`). */
function openNow(value: string, passwords: Readonly<Record<string, string>>): Opened {
  try {
    return {
      data: JSON.parse(ironUnseal(nodeCrypto as NonNullable<typeof nodeCrypto>, value, passwords)),
    }
  } catch (error) {
    return { failure: error instanceof IronError ? error.reason : 'invalid', cause: error }
  }
}

/** Unseals with iron-session (WebCrypto), where Node's crypto is not available. */
async function openWithIronSession(
  value: string,
  passwords: Readonly<Record<string, string>>,
): Promise<Opened> {
  let failure: UnsealErrorReason | undefined
  let cause: unknown
  try {
    const data = await unsealData<Record<string, unknown>>(value, {
      password: { ...passwords },
      // 0: the seal's own expiry (set when sealing) is what counts, not a second ttl here
      ttl: 0,
      onUnsealError(reason, error) {
        failure = reason
        cause = error
      },
    })
    return failure ? { failure, cause } : { data }
  } catch (error) {
    return { failure: 'invalid', cause: error }
  }
}
