import { sealData, type UnsealErrorReason, unsealData } from 'iron-session'

/**
 * What a sealed cookie holds. The `k` member types the payload, so a transaction cookie can never
 * be accepted as a session cookie or the other way round (next-auth CVE-2023-48309 was that);
 * `logout` is the cookie that carries a logout's `state` and `returnTo` through the provider.
 */
export type SealKind = 'session' | 'transaction' | 'logout'

/** Seals `data` as a payload of `kind` with the newest password; the seal expires after `ttl` s. */
export async function seal(
  kind: SealKind,
  data: Record<string, unknown>,
  passwords: Readonly<Record<string, string>>,
  ttl: number,
): Promise<string> {
  return sealData({ ...data, k: kind }, { password: { ...passwords }, ttl })
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
  let failure: UnsealErrorReason | undefined
  let cause: unknown
  let data: Record<string, unknown>
  try {
    data = await unsealData<Record<string, unknown>>(value, {
      password: { ...passwords },
      // 0: the seal's own expiry (set when sealing) is what counts, not a second ttl here
      ttl: 0,
      onUnsealError(reason, error) {
        failure = reason
        cause = error
      },
    })
  } catch (error) {
    onFailure('invalid', error)
    return undefined
  }
  if (failure) {
    onFailure(failure, cause)
    return undefined
  }
  if (data === null || typeof data !== 'object' || data.k !== kind) {
    onFailure('wrong-kind')
    return undefined
  }
  return data as T
}

/** The id of the password that sealed `value`, to tell whether a rotation reseal is due. */
export function sealPasswordId(value: string): string | undefined {
  // iron seals start "Fe26.2*<password id>*…"
  const parts = value.split('*', 3)
  return parts[0] === 'Fe26.2' ? parts[1] : undefined
}
