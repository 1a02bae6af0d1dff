/**
 * The test clock (test/support/clock.ts) itself: that an advance reaches the code that serves
 * requests on every adapter, in-process through the `clock` option and under `next start`
 * through the preloaded Date.now, and that the scripted browser keeps real time.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { harnesses } from './harness/index.js'
import { nextStartHarness } from './harness/next-start.js'
import { testClock } from './support/clock.js'
import { signIn } from './support/flow.js'
import { startStack } from './support/stack.js'

describe('testClock', () => {
  it('starts at the real time, moves on with it, and by every advance', async () => {
    const clock = testClock()
    expect(Math.abs(clock.now() - Date.now())).toBeLessThan(50)
    await clock.advance(90_000)
    expect(clock.offset).toBe(90_000)
    expect(clock.now() - Date.now()).toBeGreaterThanOrEqual(90_000)
    expect(clock.now() - Date.now()).toBeLessThan(90_050)
    const target = clock.now() + 5_000
    await clock.advanceTo(target)
    expect(clock.now()).toBeGreaterThanOrEqual(target)
    expect(clock.now()).toBeLessThan(target + 50)
    await expect(clock.advance(-1)).rejects.toThrow(/cannot go back/)
  })

  it('waits for every attached app at each advance', async () => {
    const clock = testClock()
    const applied: number[] = []
    const detach = clock.attach(async (offset) => {
      await new Promise((resolve) => setTimeout(resolve, 50))
      applied.push(offset)
    })
    await clock.advance(1_000)
    expect(applied).toEqual([1_000])
    detach()
    await clock.advance(1_000)
    expect(applied).toEqual([1_000])
  })
})

describe.each(harnesses)('the test clock reaches the app ($name)', (harness) => {
  // an hour passes by the clock only: the test is over long before one passes in real time
  it('ends an hour-idle session at an advance of an hour', async () => {
    const clock = testClock()
    const stack = await startStack(harness, { clock, auth: { session: { idleDuration: 3600 } } })
    try {
      const browser = stack.browser()
      expect((await signIn(browser, stack.baseUrl)).status).toBe(302)
      expect((await browser.request(`${stack.baseUrl}/api/me`)).status).toBe(200)
      await clock.advance(3601_000)
      // the browser's jar keeps real time: it still sends the cookie, the server refuses it
      const url = new URL(`${stack.baseUrl}/api/me`)
      expect(browser.cookiesFor(url).some((c) => /^codeflow(\.\d+)?$/.test(c.name))).toBe(true)
      expect((await browser.request(url)).status).toBe(401)
    } finally {
      await stack.close()
    }
  })
})

/** The inode of the socket listening on `port` (IPv4 or IPv6), from /proc/net. */
function listeningInode(port: number): string | undefined {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0')
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/)
      // local_address is HOST:PORT in hex; state 0A is LISTEN; the inode is the tenth field
      if (fields[1]?.endsWith(`:${hexPort}`) && fields[3] === '0A') return fields[9]
    }
  }
  return undefined
}

/** The processes that hold the socket `inode` open. */
function socketOwners(inode: string): number[] {
  const owners: number[] = []
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    let fds: string[]
    try {
      fds = readdirSync(`/proc/${pid}/fd`)
    } catch {
      continue // another user's process, or one that just ended
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === `socket:[${inode}]`) {
          owners.push(Number(pid))
          break
        }
      } catch {}
    }
  }
  return owners
}

/** The processes whose parent is `pid`. */
function childrenOf(pid: number): number[] {
  const children: number[] = []
  for (const name of readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
    try {
      // pid (comm) state ppid …: the command may hold spaces and parentheses
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      if (ppid === pid) children.push(Number(name))
    } catch {}
  }
  return children
}

describe.runIf(process.platform === 'linux')('the test clock under next start', () => {
  it('serves requests in the very process whose Date.now the clock moved (no forked worker)', async () => {
    const clock = testClock()
    const stack = await startStack(nextStartHarness, { clock })
    try {
      const pid = stack.app.pid as number
      expect(pid).toBeGreaterThan(0)
      // an advance resolves only once the preload acknowledged it from this pid (attachProcess)
      await clock.advance(1_000)
      const port = stack.instances[0]?.port as number
      const inode = listeningInode(port)
      expect(inode).toBeDefined()
      expect(socketOwners(inode as string)).toEqual([pid])
      expect(childrenOf(pid)).toEqual([])
    } finally {
      await stack.close()
    }
  })
})
