import type { UserClaims } from '@codeflow/core'

/** Text made safe for HTML element content and double-quoted attributes. */
function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`)
}

function layout(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}
pre{background:#f4f4f4;padding:1rem;overflow:auto}nav a,nav button{margin-right:1rem}</style>
</head><body><nav><a href="/">Home</a><a href="/profile">Profile</a></nav>
<h1>${escapeHtml(title)}</h1>${body}</body></html>`
}

const signOut =
  '<form method="post" action="/logout"><button type="submit" id="sign-out">Sign out</button></form>'

/** The public home page: whether the visitor is signed in, with links. */
export function homePage(user: UserClaims | undefined): string {
  if (!user) {
    return layout(
      'codeflow example',
      '<p id="status">You are not signed in.</p><p><a id="sign-in" href="/login?returnTo=%2Fprofile">Sign in</a></p>',
    )
  }
  return layout(
    'codeflow example',
    `<p id="status">Signed in as <strong>${escapeHtml(String(user.name ?? user.sub))}</strong>.</p>${signOut}`,
  )
}

/** The protected profile page: the user's `sub` and claims. */
export function profilePage(user: UserClaims): string {
  return layout(
    'Profile',
    `<p>Subject: <code id="sub">${escapeHtml(user.sub)}</code></p>
<pre id="claims">${escapeHtml(JSON.stringify(user, null, 2))}</pre>${signOut}`,
  )
}

/** A plain error page for errors that are not codeflow's (no stack trace, ever). */
export function internalErrorPage(): string {
  return layout('Something went wrong', '<p>Please try again later.</p>')
}
