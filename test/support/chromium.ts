/** Launching the system Chromium for browser tests, offline: only loopback hosts are reachable. */
import { existsSync } from 'node:fs'
import {
  type Browser,
  type BrowserContext,
  chromium,
  type Page,
  type Response,
} from 'playwright-core'

/** Debian's chromium package (`apt-get install -y chromium`). */
export const CHROMIUM_PATH = '/usr/bin/chromium'

const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]'])

/** Whether `url` points at a loopback host. */
export function isLoopback(url: string): boolean {
  try {
    return LOOPBACK_HOSTS.has(new URL(url).hostname)
  } catch {
    return false
  }
}

/** Launches headless Chromium; throws a clear error when it is not installed. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM_PATH}: run \`apt-get install -y chromium\` (the browser test needs it)`,
    )
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: ARGS })
}

/**
 * A fresh context in which every request to a non-loopback host is aborted. The URLs it blocked
 * are collected in `blocked`.
 */
export async function offlineContext(
  browser: Browser,
): Promise<{ context: BrowserContext; blocked: string[] }> {
  const context = await browser.newContext()
  const blocked: string[] = []
  await context.route('**/*', (route) => {
    const url = route.request().url()
    if (isLoopback(url)) return route.continue()
    blocked.push(url)
    return route.abort('blockedbyclient')
  })
  return { context, blocked }
}

/** Every response of 400 or above, with the start of its body, to explain a failure. */
export function recordErrors(page: Page): string[] {
  const errors: string[] = []
  page.on('response', async (response: Response) => {
    if (response.status() < 400) return
    const body = await response.text().catch(() => '')
    errors.push(
      `${response.request().method()} ${response.url()} -> ${response.status()}: ${body.slice(0, 500)}`,
    )
  })
  return errors
}
