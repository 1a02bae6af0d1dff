import type { Session, UserClaims } from '@codeflow/core'

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

/** The administrators' page (`/admin`): only a user whose `groups` include ADMIN_GROUP sees it. */
export function adminPage(user: UserClaims): string {
  return layout(
    'Administration',
    `<p id="admin">Signed in as <code>${escapeHtml(user.sub)}</code>, an administrator.</p>${signOut}`,
  )
}

/** The step-up page (`/step-up`): seen only after a recent enough sign-in (and of STEP_UP_ACR). */
export function stepUpPage(session: Session): string {
  const when =
    session.authTime === undefined ? 'unknown' : new Date(session.authTime * 1000).toISOString()
  return layout(
    'Recent sign-in',
    `<p id="step-up">You signed in at <time id="auth-time">${escapeHtml(when)}</time>${
      session.acr === undefined ? '' : `, with <code id="acr">${escapeHtml(session.acr)}</code>`
    }.</p>${signOut}`,
  )
}

/** A plain error page for errors that are not codeflow's (no stack trace, ever). */
export function internalErrorPage(): string {
  return layout('Something went wrong', '<p>Please try again later.</p>')
}
