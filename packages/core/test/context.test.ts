/** The adapter boundary: request URLs, bounded form bodies, cookies visible after a write. */
import { once } from 'node:events'
import { createServer, request } from 'node:http'
import { describe, expect, it } from 'vitest'
import { createNodeContext, createWebContext, MAX_FORM_BYTES } from '../src/adapter.js'
import { AuthError, BodyTooLargeError, type HttpContext } from '../src/index.js'

/** Serves one request through `handle` with a Node context and returns its status and body. */
async function throughNode(
  body: string,
  headers: Record<string, string>,
  handle: (ctx: HttpContext) => Promise<string>,
  target = '/form',
): Promise<{ status: number; body: string; cacheControl: string | undefined }> {
  const server = createServer(async (req, res) => {
    const ctx = createNodeContext(req, res, 'http://localhost:3000')
    try {
      res.end(await handle(ctx))
    } catch (error) {
      res.statusCode = error instanceof AuthError ? error.status : 500
      res.end(error instanceof Error ? error.message : 'error')
    }
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  try {
    return await new Promise((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, path: target, method: 'POST', headers, agent: false },
        (res) => {
          let text = ''
          res.on('data', (chunk: Buffer) => {
            text += chunk.toString()
          })
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              body: text,
              cacheControl: res.headers['cache-control'],
            }),
          )
        },
      )
      req.on('error', reject)
      req.end(body)
    })
  } finally {
    server.closeAllConnections()
    server.close()
  }
}

const form = { 'content-type': 'application/x-www-form-urlencoded' }

describe('createNodeContext', () => {
  it('reads a urlencoded form', async () => {
    const result = await throughNode('a=1&b=two', form, async (ctx) =>
      JSON.stringify(Object.fromEntries(await ctx.readForm())),
    )
    expect(JSON.parse(result.body)).toEqual({ a: '1', b: 'two' })
  })

  it('refuses a form body over the limit, declared or streamed', async () => {
    const big = `a=${'x'.repeat(MAX_FORM_BYTES)}`
    const declared = await throughNode(big, form, async (ctx) =>
      String((await ctx.readForm()).size),
    )
    expect(declared.status).toBe(413)
    const streamed = await throughNode(
      big,
      { ...form, 'transfer-encoding': 'chunked' },
      async (ctx) => String((await ctx.readForm()).size),
    )
    expect(streamed.status).toBe(413)
  })

  it('ignores a body of another content type', async () => {
    const result = await throughNode(
      '{"a":1}',
      { 'content-type': 'application/json' },
      async (ctx) => String((await ctx.readForm()).size),
    )
    expect(result.body).toBe('0')
  })

  it('keeps a path that looks like an authority a path, on the configured origin', async () => {
    const result = await throughNode(
      '',
      {},
      async (ctx) => ctx.url.href,
      '//evil.example/login?x=1',
    )
    expect(result.body).toBe('http://localhost:3000//evil.example/login?x=1')
  })

  it('marks a response that sets a cookie as no-store', async () => {
    const result = await throughNode('', {}, async (ctx) => {
      ctx.setCookie({
        name: 'a',
        value: 'b',
        header: 'a=b; Path=/',
        options: { path: '/', httpOnly: true, secure: false, sameSite: 'lax', maxAge: 60 },
      })
      return 'ok'
    })
    expect(result.cacheControl).toBe('no-store')
  })
})

describe('createWebContext', () => {
  it('refuses a form body over the limit', async () => {
    const ctx = createWebContext(
      new Request('http://localhost:3000/form', {
        method: 'POST',
        headers: form,
        body: `a=${'x'.repeat(MAX_FORM_BYTES)}`,
      }),
    )
    const error = await ctx.readForm().then(
      () => undefined,
      (reason: unknown) => reason,
    )
    expect(error).toBeInstanceOf(BodyTooLargeError)
    expect(error).toMatchObject({ status: 413, code: 'body_too_large' })
  })

  it('reads a form within the limit', async () => {
    const ctx = createWebContext(
      new Request('http://localhost:3000/form', { method: 'POST', headers: form, body: 'x=1' }),
    )
    expect((await ctx.readForm()).get('x')).toBe('1')
  })

  it('refuses a streamed body past the limit without reading it whole', async () => {
    // an endless chunked body (no Content-Length): read whole first, it would never end
    let pulled = 0
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++
        controller.enqueue(new TextEncoder().encode('x'.repeat(1024)))
      },
    })
    const ctx = createWebContext(
      new Request('http://localhost:3000/form', {
        method: 'POST',
        headers: form,
        body: endless,
        duplex: 'half',
      } as RequestInit),
    )
    const error = await ctx.readForm().then(
      () => undefined,
      (reason: unknown) => reason,
    )
    expect(error).toBeInstanceOf(BodyTooLargeError)
    expect(pulled).toBeLessThan(MAX_FORM_BYTES / 1024 + 4)
  })

  it('counts bytes, not characters, against the limit', async () => {
    // 'é' is two bytes in UTF-8: under the limit in characters, over it in bytes
    const body = `a=${'é'.repeat(MAX_FORM_BYTES / 2)}`
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(body))
        controller.close()
      },
    })
    const ctx = createWebContext(
      new Request('http://localhost:3000/form', {
        method: 'POST',
        headers: form,
        body: stream,
        duplex: 'half',
      } as RequestInit),
    )
    await expect(ctx.readForm()).rejects.toBeInstanceOf(BodyTooLargeError)
  })

  it('decodes a character split across chunks', async () => {
    const bytes = new TextEncoder().encode('name=%C3%A9&x=é')
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        // the two bytes of the last 'é' in two chunks
        controller.enqueue(bytes.slice(0, bytes.length - 1))
        controller.enqueue(bytes.slice(bytes.length - 1))
        controller.close()
      },
    })
    const ctx = createWebContext(
      new Request('http://localhost:3000/form', {
        method: 'POST',
        headers: form,
        body: stream,
        duplex: 'half',
      } as RequestInit),
    )
    const read = await ctx.readForm()
    expect([read.get('name'), read.get('x')]).toEqual(['é', 'é'])
  })

  it('reads an empty form from a body the app read already', async () => {
    const request = new Request('http://localhost:3000/form', {
      method: 'POST',
      headers: form,
      body: 'x=1',
    })
    await request.text()
    expect([...(await createWebContext(request).readForm())]).toEqual([])
  })

  it('builds the URL on the configured origin when given one, not on the request’s host', () => {
    const request = new Request('http://attacker.example:8080//callback/x?code=1&state=2')
    const ctx = createWebContext(request, 'https://app.example')
    expect(ctx.url.href).toBe('https://app.example//callback/x?code=1&state=2')
    expect(ctx.path).toBe('//callback/x')
    expect(createWebContext(request).url.href).toBe(request.url)
  })

  it('reads the form from the request the framework has when it reads it, or from what it kept', async () => {
    const original = new Request('http://localhost:3000/form', { method: 'POST', headers: form })
    // a body limit replaced the request since the context was made
    const replaced = new Request('http://localhost:3000/form', {
      method: 'POST',
      headers: form,
      body: 'x=replaced',
    })
    const current = createWebContext(original, undefined, {
      request: () => replaced,
      consumed: () => undefined,
    })
    expect((await current.readForm()).get('x')).toBe('replaced')
    // the app read the body first: the text its framework kept, or its fields
    const read = new Request('http://localhost:3000/form', {
      method: 'POST',
      headers: form,
      body: 'x=1',
    })
    await read.text()
    const text = createWebContext(read, undefined, {
      request: () => read,
      consumed: async () => 'x=kept',
    })
    expect((await text.readForm()).get('x')).toBe('kept')
    const fields = createWebContext(read, undefined, {
      request: () => read,
      consumed: async () => new URLSearchParams({ x: 'fields' }),
    })
    expect((await fields.readForm()).get('x')).toBe('fields')
    // what was kept counts against the limit too
    const large = createWebContext(read, undefined, {
      request: () => read,
      consumed: async () => `x=${'é'.repeat(MAX_FORM_BYTES / 2)}`,
    })
    await expect(large.readForm()).rejects.toBeInstanceOf(BodyTooLargeError)
  })
})
