'use client'
/**
 * @codeflow/next/client: the signed-in user in Client Components. `<UserProvider>` starts from the
 * user the server rendered with (no request) or fetches the profile route; `useUser()` reads it.
 * Only the user's claims reach the browser, never a token.
 */
import type { UserClaims } from '@codeflow/core'
import {
  createContext,
  createElement,
  type ReactElement,
  type ReactNode,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useState,
} from 'react'

/** What `useUser()` returns. */
export interface UserState {
  /** the user's claims; `null` when anonymous; `undefined` until the first fetch answers */
  readonly user: UserClaims | null | undefined
  /** whether a fetch of the profile route is under way */
  readonly isLoading: boolean
  /** why the last fetch failed, if it did */
  readonly error: Error | undefined
  /** fetches the profile route again, e.g. after signing in in another tab */
  refresh(): Promise<void>
}

/** Props of `<UserProvider>`. */
export interface UserProviderProps {
  /**
   * the user as the server knows it, e.g. `(await codeflow.getSession())?.user ?? null`: then no
   * request is made at start; leave it out to fetch `profileUrl` once mounted
   */
  user?: UserClaims | null
  /** a route answering the user's claims as JSON, or 401 when anonymous; default `/api/me` */
  profileUrl?: string
  children?: ReactNode
}

/** Fetches the profile route: the claims, `null` for a 401, or throws. */
export async function fetchUser(
  profileUrl: string,
  fetcher: typeof fetch = fetch,
): Promise<UserClaims | null> {
  const response = await fetcher(profileUrl, {
    credentials: 'same-origin',
    cache: 'no-store',
    headers: { accept: 'application/json' },
  })
  if (response.status === 401) return null
  if (!response.ok) throw new Error(`${profileUrl} answered ${response.status}`)
  const body: unknown = await response.json()
  if (body === null || typeof body !== 'object' || typeof Reflect.get(body, 'sub') !== 'string') {
    throw new Error(`${profileUrl} did not answer a user`)
  }
  return body as UserClaims
}

const UserContext = createContext<UserState | undefined>(undefined)

/** Provides `useUser()` to the Client Components below it. */
export function UserProvider({
  user: initial,
  profileUrl = '/api/me',
  children,
}: UserProviderProps): ReactElement {
  const [user, setUser] = useState(initial)
  const [error, setError] = useState<Error>()
  const [isLoading, setLoading] = useState(initial === undefined)
  const refresh = useCallback(async () => {
    setLoading(true)
    try {
      setUser(await fetchUser(profileUrl))
      setError(undefined)
    } catch (failure) {
      setError(failure instanceof Error ? failure : new Error(String(failure)))
    } finally {
      setLoading(false)
    }
  }, [profileUrl])
  useEffect(() => {
    // a server render after a navigation (a layout re-rendered) brings the current user
    if (initial === undefined) void refresh()
    else setUser(initial)
  }, [initial, refresh])
  const value = useMemo(
    () => ({ user, isLoading, error, refresh }),
    [user, isLoading, error, refresh],
  )
  return createElement(UserContext.Provider, { value }, children)
}

/** The signed-in user, from the nearest `<UserProvider>`. */
export function useUser(): UserState {
  const state = useContext(UserContext)
  if (!state) throw new Error('useUser() needs a <UserProvider> above it')
  return state
}
