/** The sign-out button: a same-origin POST to /logout. */
export function SignOut() {
  return (
    <form method="post" action="/logout">
      <button type="submit" id="sign-out">
        Sign out
      </button>
    </form>
  )
}
