/**
 * The adapter on what a Web runtime offers: a process where the core cannot reach Node's built-in
 * modules (fixtures/without-node-builtins.mjs), so that sessions are sealed and read with Web
 * Crypto, and the app is driven with `app.request()`, without a server.
 */
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const fixture = fileURLToPath(new URL('./fixtures/without-node-builtins.mjs', import.meta.url))

describe('@codeflow/hono without Node’s built-in modules', () => {
  it('reads a session, guards a route and answers a provider that is down with 503', async () => {
    const output = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, [fixture], { timeout: 30_000 }, (error, stdout, stderr) =>
        error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout),
      ),
    )
    expect(JSON.parse(output)).toEqual({
      signedIn: { status: 200, body: { sub: 'alice', name: 'Alice' } },
      anonymous: 401,
      login: 503,
    })
  })
})
