import type { KoaContextWithOIDC } from 'oidc-provider'

// oidc-provider's default pages print a "you SHOULD change it" notice on first use and load a web
// font from a third-party host (which tests with no network would wait on). These are plain and
// self-contained, and behave the same: the logout page still asks for confirmation.

function escapeHtml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;')
}

function page(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}button{display:block;width:100%;margin:.5rem 0;padding:.5rem}</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
${body}
</body>
</html>
`
}

/**
 * The RP-Initiated Logout confirmation. `form` is oidc-provider's hidden form (it carries the
 * `xsrf` value); the buttons submit it with or without `logout=yes`.
 */
export function logoutSource(ctx: KoaContextWithOIDC, form: string): void {
  ctx.type = 'html'
  ctx.body = page(
    'Sign out',
    `<p>Sign out of the dev provider at ${escapeHtml(ctx.host)}?</p>
${form}
<button autofocus type="submit" form="op.logoutForm" name="logout" value="yes">Yes, sign me out</button>
<button type="submit" form="op.logoutForm">No, stay signed in</button>`,
  )
}

/** Shown after a logout request that had no `post_logout_redirect_uri`. */
export function postLogoutSuccessSource(ctx: KoaContextWithOIDC): void {
  ctx.type = 'html'
  ctx.body = page('Signed out', '<p>You are signed out of the dev provider.</p>')
}

/** An error shown to the browser, e.g. an unknown `client_id` or a bad `redirect_uri`. */
export function renderError(
  ctx: KoaContextWithOIDC,
  out: { error: string; error_description?: string | undefined },
): void {
  ctx.type = 'html'
  const description = out.error_description ? `<p>${escapeHtml(out.error_description)}</p>` : ''
  ctx.body = page('Error', `<p><code>${escapeHtml(out.error)}</code></p>${description}`)
}
