/**
 * Mutual TLS (RFC 8705) on every harness, against oidc-provider on https (a CA and certificates
 * made by the test) registering the client with `tls_client_auth` or
 * `self_signed_tls_client_auth` and certificate-bound tokens only, so a request without the
 * certificate is refused: the login's code exchange, userinfo, a refresh, an API call that checks
 * the token's binding to the connection's certificate, and the revocation at logout. Then the
 * provider on http with its mTLS endpoint aliases (RFC 8705 §5) on https, a certificate the
 * provider does not trust, and the certificate options refused at start-up.
 */

import { createAuth } from '@codeflow/core'
import {
  createCertificateAuthority,
  createSelfSignedCertificate,
  type DevCertificate,
} from '@codeflow/dev-provider'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { harnesses } from './harness/index.js'
import { authorize, signIn, startLogin } from './support/flow.js'
import { captureLogs } from './support/logs.js'
import {
  type MtlsResourceServer,
  postWithCertificate,
  startMtlsResourceServer,
} from './support/mtls-resource-server.js'
import { CLIENT_ID, type Instance, SECRET, type Stack, startStack } from './support/stack.js'

const ca = createCertificateAuthority({ subject: 'CN=codeflow test CA,O=codeflow tests' })
const serverCertificate = ca.issue({
  subject: 'CN=127.0.0.1',
  hosts: ['127.0.0.1', 'localhost'],
  usage: 'server',
})
const issued = ca.issue({ subject: `CN=${CLIENT_ID},O=codeflow tests` })
const selfSigned = createSelfSignedCertificate({ subject: `CN=${CLIENT_ID} self-signed` })

const methods = [
  {
    name: 'tls_client_auth',
    method: 'tls_client_auth' as const,
    certificate: issued,
    registration: { tlsClientAuthSubjectDn: issued.subject },
  },
  {
    name: 'self_signed_tls_client_auth',
    method: 'self_signed_tls_client_auth' as const,
    certificate: selfSigned,
    registration: { jwks: { keys: [selfSigned.jwk] } },
  },
]

/** The codeflow options of a client with `certificate`, trusting the test CA. */
function certificateOption(certificate: DevCertificate) {
  return { cert: certificate.cert, key: certificate.key, ca: ca.cert }
}

/** The dev provider on https, trusting the test CA's client certificates. */
const PROVIDER_TLS = { cert: serverCertificate.cert, key: serverCertificate.key, clientCa: ca.cert }

/** How the test API introspects a stack's tokens: as its client, with `certificate`. */
function introspectionAs(stack: Stack, certificate: DevCertificate) {
  return {
    endpoint: `${stack.provider.issuer}/token/introspection`,
    clientId: CLIENT_ID,
    ...certificateOption(certificate),
  }
}

describe.each(harnesses)('mutual TLS ($name)', (harness) => {
  let api: MtlsResourceServer
  beforeAll(async () => {
    api = await startMtlsResourceServer({ ...serverCertificate, ca: ca.cert })
  })
  afterAll(() => api?.close())

  describe.each(methods)(
    '$name, certificate-bound tokens',
    ({ method, certificate, registration }) => {
      let stack: Stack
      const providerLog: string[] = []
      beforeAll(async () => {
        stack = await startStack(harness, {
          publicClient: true,
          browserCa: ca.cert,
          apiUrl: `${api.url}/orders`,
          provider: {
            tls: PROVIDER_TLS,
            logger: (line) => providerLog.push(line),
            // within the refresh margin (60 s) at once: /api/token refreshes
            ttl: { accessToken: 30 },
          },
          providerClient: {
            tokenEndpointAuthMethod: method,
            certificateBoundAccessTokens: true,
            ...registration,
          },
          auth: {
            clientAuth: method,
            clientCertificate: certificateOption(certificate),
            allowInsecureRequests: false,
            fetchUserinfo: true,
          },
        })
        expect(stack.provider.issuer).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/)
        api.introspection = introspectionAs(stack, certificate)
      })
      afterAll(() => stack?.close())

      it('signs in, reads userinfo, refreshes, calls a binding-checking API and revokes, all with the certificate', async () => {
        const browser = stack.browser()
        const tokens = stack.provider.counts('token')
        const userinfo = stack.provider.counts('userinfo')
        await signIn(browser, stack.baseUrl)
        expect(stack.provider.counts('token')).toBe(tokens + 1)
        expect(stack.provider.counts('userinfo')).toBe(userinfo + 1)
        expect((await browser.request(`${stack.baseUrl}/api/me`)).json().sub).toBe('alice')

        const call = await browser.request(`${stack.baseUrl}/api/call`)
        expect(call.status).toBe(200)
        // the API saw the certificate the token is bound to
        expect(call.json()).toEqual({
          status: 200,
          body: { sub: 'alice', x5t: certificate.thumbprint },
        })
        expect(api.verdicts.at(-1)).toBe('ok')

        const refreshed = await browser.request(`${stack.baseUrl}/api/token`)
        expect(refreshed.status).toBe(200)
        expect(stack.provider.counts('token')).toBeGreaterThan(tokens + 1)
        // the refreshed token is bound to the same certificate
        expect((await browser.request(`${stack.baseUrl}/api/call`)).json()).toEqual({
          status: 200,
          body: { sub: 'alice', x5t: certificate.thumbprint },
        })

        const revocations = stack.provider.counts('revocation')
        const logout = await browser.postForm(
          `${stack.baseUrl}/logout`,
          {},
          { origin: stack.baseUrl },
        )
        expect(logout.status).toBe(303)
        expect(stack.provider.counts('revocation')).toBe(revocations + 1)
        expect(providerLog.filter((line) => /invalid_client|x5t|certificate/.test(line))).toEqual(
          [],
        )
      })

      it('a bound token stolen and presented with another certificate is refused by the provider', async () => {
        const browser = stack.browser()
        await signIn(browser, stack.baseUrl)
        expect((await browser.request(`${stack.baseUrl}/api/call`)).json().status).toBe(200)
        const token = api.tokens.at(-1) as string
        const thief = ca.issue({ subject: 'CN=thief' })
        const stolen = await postWithCertificate(
          `${stack.provider.issuer}/me`,
          { access_token: token },
          { cert: thief.cert, key: thief.key, ca: ca.cert },
        )
        expect(stolen.status).toBe(401)
        expect(stolen.body.error).toBe('invalid_token')
        // with the right certificate the same request is answered: the binding decided
        const owner = await postWithCertificate(
          `${stack.provider.issuer}/me`,
          { access_token: token },
          certificateOption(certificate),
        )
        expect(owner.status).toBe(200)
        expect(owner.body.sub).toBe('alice')
      })
    },
  )

  describe('a pushed authorization request, authenticated with the certificate', () => {
    let stack: Stack
    beforeAll(async () => {
      stack = await startStack(harness, {
        publicClient: true,
        browserCa: ca.cert,
        apiUrl: `${api.url}/orders`,
        provider: {
          tls: PROVIDER_TLS,
          require: { pushedAuthorizationRequests: true },
        },
        providerClient: {
          tokenEndpointAuthMethod: 'tls_client_auth',
          tlsClientAuthSubjectDn: issued.subject,
          certificateBoundAccessTokens: true,
        },
        auth: {
          clientAuth: 'tls_client_auth',
          clientCertificate: certificateOption(issued),
          allowInsecureRequests: false,
        },
      })
      api.introspection = introspectionAs(stack, issued)
    })
    afterAll(() => stack?.close())

    it('pushes the request, signs in and calls the API with the bound token', async () => {
      const browser = stack.browser()
      const pushed = stack.provider.counts('par')
      const start = await startLogin(browser, stack.baseUrl)
      expect([...(start.location?.searchParams.keys() ?? [])].sort()).toEqual([
        'client_id',
        'request_uri',
      ])
      const callback = await authorize(browser, start)
      expect((await browser.navigate(callback, { 'sec-fetch-site': 'cross-site' })).status).toBe(
        302,
      )
      expect(stack.provider.counts('par')).toBe(pushed + 1)
      expect((await browser.request(`${stack.baseUrl}/api/call`)).json()).toEqual({
        status: 200,
        body: { sub: 'alice', x5t: issued.thumbprint },
      })
    })
  })

  describe('the provider on http, its mTLS endpoint aliases on https', () => {
    let stack: Stack
    beforeAll(async () => {
      stack = await startStack(harness, {
        publicClient: true,
        provider: {
          tls: { ...PROVIDER_TLS, endpointAliases: true },
          ttl: { accessToken: 30 },
        },
        providerClient: {
          tokenEndpointAuthMethod: 'tls_client_auth',
          tlsClientAuthSubjectDn: issued.subject,
          certificateBoundAccessTokens: true,
        },
        auth: { clientCertificate: certificateOption(issued), fetchUserinfo: true },
      })
    })
    afterAll(() => stack?.close())

    it('calls the aliases with the certificate (the http endpoints would refuse it) and picks tls_client_auth itself', async () => {
      expect(stack.provider.issuer).toMatch(/^http:\/\//)
      expect(stack.provider.mtlsOrigin).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/)
      const browser = stack.browser()
      await signIn(browser, stack.baseUrl)
      expect((await browser.request(`${stack.baseUrl}/api/me`)).json().sub).toBe('alice')
      expect((await browser.request(`${stack.baseUrl}/api/token`)).status).toBe(200)
      const revocations = stack.provider.counts('revocation')
      const logout = await browser.postForm(
        `${stack.baseUrl}/logout`,
        {},
        { origin: stack.baseUrl },
      )
      expect(logout.status).toBe(303)
      expect(stack.provider.counts('revocation')).toBe(revocations + 1)
    })
  })

  describe('a client certificate the provider does not trust', () => {
    let stack: Stack
    const otherCa = createCertificateAuthority({ subject: 'CN=another CA' })
    const untrusted = otherCa.issue({ subject: issued.subject })
    beforeAll(async () => {
      stack = await startStack(harness, {
        publicClient: true,
        browserCa: ca.cert,
        provider: {
          tls: PROVIDER_TLS,
        },
        providerClient: {
          tokenEndpointAuthMethod: 'tls_client_auth',
          tlsClientAuthSubjectDn: issued.subject,
        },
        auth: {
          clientAuth: 'tls_client_auth',
          clientCertificate: certificateOption(untrusted),
          allowInsecureRequests: false,
        },
      })
    })
    afterAll(() => stack?.close())

    it('fails the login with 502, no session, and tells the operator which option to check', async () => {
      const browser = stack.browser()
      const start = await startLogin(browser, stack.baseUrl)
      expect(start.status).toBe(302)
      const callback = await authorize(browser, start)
      const logs = captureLogs(stack.instances[0] as Instance)
      const answer = await browser.navigate(callback, { 'sec-fetch-site': 'cross-site' })
      logs.stop()
      expect(answer.status).toBe(502)
      expect(logs.lines().join('\n')).toMatch(
        /invalid_client.*"clientCertificate" \(the provider must trust its CA and have its subject registered\)/,
      )
      expect(answer.body).not.toMatch(/at .+\.(js|ts):\d+/)
      expect((await browser.request(`${stack.baseUrl}/api/me`)).status).toBe(401)
    })
  })
})

describe('clientCertificate at start-up', () => {
  const base = {
    issuer: 'https://provider.example',
    clientId: 'app',
    baseUrl: 'http://localhost:3000',
    secret: SECRET,
  }
  const start = (options: Record<string, unknown>) => () =>
    createAuth({ ...base, ...options } as Parameters<typeof createAuth>[0])

  it('is required with a TLS client authentication method', () => {
    expect(start({ clientAuth: 'tls_client_auth' })).toThrow(
      /"clientCertificate" is required with clientAuth "tls_client_auth"/,
    )
    expect(start({ clientAuth: 'self_signed_tls_client_auth' })).toThrow(
      /"clientCertificate" is required/,
    )
  })

  it('refuses a key that is not the certificate’s', () => {
    expect(start({ clientCertificate: { cert: issued.cert, key: selfSigned.key } })).toThrow(
      /"clientCertificate.key" is not the private key of "clientCertificate.cert"/,
    )
  })

  it('refuses a certificate given as the key, and a file name given as the certificate', () => {
    expect(start({ clientCertificate: { cert: issued.cert, key: issued.cert } })).toThrow(
      /"clientCertificate.key" is not a PEM private key/,
    )
    expect(start({ clientCertificate: { cert: './client.pem', key: issued.key } })).toThrow(
      /"clientCertificate.cert" is not a PEM certificate/,
    )
  })

  it('refuses an expired certificate, naming its end', () => {
    const expired = ca.issue({
      subject: 'CN=old',
      validFrom: new Date('2020-01-01T00:00:00Z'),
      validTo: new Date('2021-01-01T00:00:00Z'),
    })
    expect(start({ clientCertificate: { cert: expired.cert, key: expired.key } })).toThrow(
      /"clientCertificate.cert" expired on 2021-01-01T00:00:00.000Z/,
    )
  })

  it('refuses a CA-issued certificate for self_signed_tls_client_auth, and a secret beside a TLS method', () => {
    expect(
      start({
        clientAuth: 'self_signed_tls_client_auth',
        clientCertificate: { cert: issued.cert, key: issued.key },
      }),
    ).toThrow(/"clientCertificate.cert" is issued by a CA, not self-signed/)
    expect(
      start({
        clientAuth: 'tls_client_auth',
        clientSecret: 'a-secret',
        clientCertificate: { cert: issued.cert, key: issued.key },
      }),
    ).toThrow(/"clientSecret" is not sent with clientAuth "tls_client_auth"/)
  })

  it('refuses a ca that is not PEM certificates', () => {
    expect(start({ clientCertificate: { cert: issued.cert, key: issued.key, ca: [] } })).toThrow(
      /"clientCertificate.ca" must be PEM CA certificates/,
    )
    expect(
      start({ clientCertificate: { cert: issued.cert, key: issued.key, ca: 'not a certificate' } }),
    ).toThrow(/"clientCertificate.ca" is not a PEM certificate/)
  })

  it('accepts a matching certificate and key', () => {
    expect(start({ clientCertificate: { cert: issued.cert, key: issued.key } })).not.toThrow()
  })
})
