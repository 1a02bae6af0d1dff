'use client'
import { useUser } from '@codeflow/next/client'

/** The user as Client Components see it, through useUser(). */
export function UserBadge() {
  const { user } = useUser()
  if (!user) return null
  return <p id="client-user">In the browser: {String(user.email ?? user.sub)}</p>
}
