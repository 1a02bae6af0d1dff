import type { Account, Configuration } from 'oidc-provider'

/** Extra claims for every account: a fixed object, or a function of the login id. */
export type ExtraClaims = Record<string, unknown> | ((accountId: string) => Record<string, unknown>)

/** The claims each standard scope releases (OIDC Core 1.0 §5.4). */
const SCOPE_CLAIMS = {
  profile: ['name', 'given_name', 'family_name', 'preferred_username'],
  email: ['email', 'email_verified'],
} as const

const STANDARD_CLAIMS: ReadonlySet<string> = new Set([
  'sub',
  ...SCOPE_CLAIMS.profile,
  ...SCOPE_CLAIMS.email,
])

/**
 * Names the provider sets itself: an extra claim with one of these names would fight the
 * protocol (a second `sub`, a forged `aud`), so it is refused at start.
 */
const RESERVED_CLAIMS: ReadonlySet<string> = new Set([
  'sub',
  'iss',
  'aud',
  'exp',
  'iat',
  'nbf',
  'jti',
  'nonce',
  'auth_time',
  'acr',
  'amr',
  'azp',
  'sid',
  'at_hash',
  'c_hash',
  's_hash',
  'cnf',
  'events',
])

/**
 * The names of the extra claims to release, checked.
 *
 * oidc-provider drops every claim whose name is not in its `claims` configuration, and that
 * configuration is fixed when the provider is built, so the names must be known at start: the
 * keys of a claims object, or `claimNames` for a claims function.
 */
export function extraClaimNames(
  claims: ExtraClaims | undefined,
  claimNames: readonly string[] | undefined,
): string[] {
  if (claimNames !== undefined && typeof claims !== 'function') {
    throw new TypeError('"claimNames" is only used with a "claims" function')
  }
  const names = typeof claims === 'function' ? (claimNames ?? []) : Object.keys(claims ?? {})
  for (const name of names) {
    if (RESERVED_CLAIMS.has(name)) {
      throw new TypeError(`extra claim "${name}" is reserved: the provider sets it itself`)
    }
  }
  return [...new Set(names)]
}

/**
 * The scope → claims mapping. Extra claims go under `openid`, the one scope every request has,
 * so they reach the ID token whatever else was asked for; an extra claim with a standard name
 * (say `email_verified: false`) only overrides the value and stays under its own scope.
 */
export function claimsConfiguration(extraNames: readonly string[]): Configuration['claims'] {
  return {
    openid: ['sub', ...extraNames.filter((name) => !STANDARD_CLAIMS.has(name))],
    profile: [...SCOPE_CLAIMS.profile],
    email: [...SCOPE_CLAIMS.email],
  }
}

function capitalize(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1)
}

/**
 * Claims derived from the login id: "alice" → Alice Example, "bob.smith" → Bob Smith.
 * `sub` is the login id itself, so a test that logs in as "alice" can assert `sub === 'alice'`.
 */
export function derivedClaims(accountId: string): Record<string, unknown> {
  const [first = accountId, ...rest] = accountId.split(/[._\-\s]+/).filter(Boolean)
  const givenName = capitalize(first)
  const familyName = rest.length > 0 ? rest.map(capitalize).join(' ') : 'Example'
  return {
    name: `${givenName} ${familyName}`,
    given_name: givenName,
    family_name: familyName,
    preferred_username: accountId,
    email: `${accountId}@example.test`,
    email_verified: true,
  }
}

/**
 * Checks the claims a test gives one account (`setClaims`): each must be one the provider
 * releases (a standard claim, or an extra claim it was started with), and none the provider sets
 * itself.
 */
export function checkAccountClaims(
  claims: Record<string, unknown>,
  extraNames: readonly string[],
): void {
  if (claims === null || typeof claims !== 'object' || Array.isArray(claims)) {
    throw new TypeError('setClaims: "claims" must be an object')
  }
  for (const name of Object.keys(claims)) {
    if (RESERVED_CLAIMS.has(name)) {
      throw new TypeError(`setClaims: claim "${name}" is reserved: the provider sets it itself`)
    }
    if (!STANDARD_CLAIMS.has(name) && !extraNames.includes(name)) {
      throw new TypeError(
        `setClaims: claim "${name}" is not released by this provider: start it with it in "claims" (or "claimNames")`,
      )
    }
  }
}

/**
 * oidc-provider's `findAccount`: every login id is an account. The extra claims are computed
 * once per lookup; a claims function that returns a name it did not declare in `claimNames`
 * is a configuration mistake that would otherwise silently lose the claim, so it throws.
 */
export function createFindAccount(
  extra: ExtraClaims | undefined,
  extraNames: readonly string[],
  overrides: ReadonlyMap<string, Record<string, unknown>> = new Map(),
): NonNullable<Configuration['findAccount']> {
  const declared = new Set(extraNames)
  return (_ctx, accountId): Account => ({
    accountId,
    claims() {
      const extraClaims = typeof extra === 'function' ? extra(accountId) : (extra ?? {})
      if (typeof extra === 'function') {
        for (const name of Object.keys(extraClaims)) {
          if (!declared.has(name)) {
            throw new TypeError(
              `the "claims" function returned "${name}", which is not listed in "claimNames"`,
            )
          }
        }
      }
      return {
        ...derivedClaims(accountId),
        ...extraClaims,
        ...overrides.get(accountId),
        sub: accountId,
      }
    },
  })
}
