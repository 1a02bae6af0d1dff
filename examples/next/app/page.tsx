import { codeflow } from '../lib/codeflow'
import { SignOut } from './sign-out'

/** The public home page: whether the visitor is signed in, with links. */
export default async function Home() {
  const user = (await codeflow.getSession())?.user
  return (
    <>
      <h1>codeflow example</h1>
      {user ? (
        <>
          <p id="status">
            Signed in as <strong>{String(user.name ?? user.sub)}</strong>.
          </p>
          <SignOut />
        </>
      ) : (
        <>
          <p id="status">You are not signed in.</p>
          <p>
            <a id="sign-in" href="/login?returnTo=%2Fprofile">
              Sign in
            </a>
          </p>
        </>
      )}
    </>
  )
}
