// A login driven like a browser against the dev provider: /login, the provider's login and
// consent pages (devInteractions), then the app's /callback. A small cookie jar honours Path.

/** A cookie jar per origin that honours each cookie's Path. */
export class Jar {
  cookies = []

  store(url, response) {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';')
      const eq = pair.indexOf('=')
      const name = pair.slice(0, eq).trim()
      const value = pair.slice(eq + 1).trim()
      let path = '/'
      let remove = false
      for (const attribute of attributes) {
        const [key, val = ''] = attribute.trim().split('=')
        if (key.toLowerCase() === 'path') path = val
        if (key.toLowerCase() === 'max-age' && Number(val) <= 0) remove = true
        if (key.toLowerCase() === 'expires' && Date.parse(val) < Date.now()) remove = true
      }
      this.cookies = this.cookies.filter(
        (c) => !(c.origin === url.origin && c.name === name && c.path === path),
      )
      if (!remove) this.cookies.push({ origin: url.origin, name, value, path })
    }
  }

  header(url) {
    return this.cookies
      .filter((c) => c.origin === url.origin && url.pathname.startsWith(c.path))
      .sort((a, b) => b.path.length - a.path.length)
      .map((c) => `${c.name}=${c.value}`)
      .join('; ')
  }

  async request(url, init = {}) {
    const target = new URL(url)
    const headers = { 'sec-fetch-site': 'cross-site', ...init.headers }
    const cookie = this.header(target)
    if (cookie) headers.cookie = cookie
    const response = await fetch(target, { ...init, headers, redirect: 'manual' })
    this.store(target, response)
    const body = await response.text()
    const location = response.headers.get('location')
    return {
      url: target,
      status: response.status,
      body,
      location: location ? new URL(location, target) : undefined,
    }
  }
}

function formAction(page) {
  const match = /<form[^>]*action="([^"]+)"/i.exec(page.body)
  if (!match) throw new Error(`no form at ${page.url.href}`)
  return new URL(match[1].replace(/&amp;/g, '&'), page.url)
}

const FORM = { 'content-type': 'application/x-www-form-urlencoded' }

/**
 * Signs in at `appUrl` as `login` and returns the Cookie header that carries the app's session
 * (only the app's cookies).
 */
export async function login(appUrl, user = 'alice') {
  const jar = new Jar()
  let page = await jar.request(`${appUrl}/login`)
  for (let step = 0; step < 20; step++) {
    if (page.status >= 300 && page.status < 400 && page.location) {
      const callback = page.location.pathname === '/callback'
      page = await jar.request(page.location)
      if (callback) {
        if (page.status !== 302) throw new Error(`callback answered ${page.status}: ${page.body}`)
        return jar.header(new URL(`${appUrl}/api/me`))
      }
      continue
    }
    if (page.status === 200 && /name="login"/.test(page.body)) {
      const body = new URLSearchParams({ prompt: 'login', login: user, password: 'any' })
      page = await jar.request(formAction(page), { method: 'POST', headers: FORM, body })
      continue
    }
    if (page.status === 200 && /value="consent"/.test(page.body)) {
      const body = new URLSearchParams({ prompt: 'consent' })
      page = await jar.request(formAction(page), { method: 'POST', headers: FORM, body })
      continue
    }
    throw new Error(`unexpected ${page.status} at ${page.url.href}: ${page.body.slice(0, 300)}`)
  }
  throw new Error('too many steps at the provider')
}
