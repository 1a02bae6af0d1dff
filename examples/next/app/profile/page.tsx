import { codeflow } from '../../lib/codeflow'
import { SignOut } from '../sign-out'
import { UserBadge } from './user-badge'

export const metadata = { title: 'Profile' }

/** The protected profile page: the proxy guards it, and it checks the session itself too. */
export default async function Profile() {
  const { user } = await codeflow.requireAuth({ returnTo: '/profile' })
  return (
    <>
      <h1>Profile</h1>
      <p>
        Subject: <code id="sub">{user.sub}</code>
      </p>
      <pre id="claims">{JSON.stringify(user, null, 2)}</pre>
      <UserBadge />
      <SignOut />
    </>
  )
}
