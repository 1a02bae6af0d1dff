import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { AuthError, type AuthOptions, ConfigurationError, createAuth } from '../src/index.js'
import { SECRET, settingsOf, validOptions } from './support.js'

/** The `ConfigurationError` that `createAuth` throws for these options (fails if none). */
function configurationError(overrides: Record<string, unknown>): ConfigurationError {
  try {
    createAuth({ ...validOptions(), ...overrides } as AuthOptions)
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError)
    return error as ConfigurationError
  }
  throw new Error(`createAuth accepted ${JSON.stringify(overrides)}`)
}

function expectRejected(overrides: Record<string, unknown>, option: string): void {
  const error = configurationError(overrides)
  expect(error.option).toBe(option)
  expect(error.message.startsWith(`"${option}" `)).toBe(true)
}

describe('createAuth validation', () => {
  it('throws a ConfigurationError, an AuthError with a stable code', () => {
    const error = configurationError({ secret: 'short' })
    expect(error).toBeInstanceOf(AuthError)
    expect(error.code).toBe('invalid_configuration')
    expect(error.name).toBe('ConfigurationError')
  })

  it('refuses a non-object', () => {
    expect(() => createAuth(null as unknown as AuthOptions)).toThrow(ConfigurationError)
  })

  describe('secret', () => {
    it.each([
      ['a 31-character string', 'x'.repeat(31)],
      ['an empty string', ''],
      ['a number', 1234],
      ['null', null],
      ['an array', [SECRET]],
      ['an empty map', {}],
    ])('refuses %s', (_label, secret) => {
      expectRejected({ secret }, 'secret')
    })

    it('accepts exactly 32 characters', () => {
      expect(settingsOf(createAuth(validOptions({ secret: 'x'.repeat(32) }))).passwords).toEqual({
        1: 'x'.repeat(32),
      })
    })

    it.each([
      ['a name', { current: SECRET }, 'secret.current'],
      ['zero', { 0: SECRET }, 'secret.0'],
      ['a negative id', { '-1': SECRET }, 'secret.-1'],
      ['a leading zero', { '01': SECRET }, 'secret.01'],
    ])('refuses a map keyed by %s', (_label, secret, option) => {
      expectRejected({ secret }, option)
    })

    it('names the map entry whose secret is too short', () => {
      expectRejected({ secret: { 1: SECRET, 2: 'short' } }, 'secret.2')
      expectRejected({ secret: { 1: SECRET, 2: 42 } }, 'secret.2')
    })

    it('keeps a valid rotation map as given', () => {
      const other = 'y'.repeat(40)
      expect(
        settingsOf(createAuth(validOptions({ secret: { 1: SECRET, 2: other } }))).passwords,
      ).toEqual({ 1: SECRET, 2: other })
    })
  })

  describe('issuer', () => {
    it('refuses http unless allowInsecureRequests is set', () => {
      expectRejected({ issuer: 'http://op.example.com' }, 'issuer')
      expectRejected({ issuer: 'http://127.0.0.1:4000' }, 'issuer')
      const auth = createAuth(
        validOptions({ issuer: 'http://127.0.0.1:4000', allowInsecureRequests: true }),
      )
      expect(settingsOf(auth).issuer.href).toBe('http://127.0.0.1:4000/')
    })

    it.each([
      ['not a URL', 'op.example.com'],
      ['another scheme', 'ftp://op.example.com'],
      ['credentials', 'https://user:pass@op.example.com'],
      ['a query', 'https://op.example.com/?tenant=1'],
      ['a fragment', 'https://op.example.com/#x'],
      ['a number', 42],
      ['nothing', undefined],
    ])('refuses %s', (_label, issuer) => {
      expectRejected({ issuer }, 'issuer')
    })

    it('refuses a non-boolean allowInsecureRequests', () => {
      expectRejected({ allowInsecureRequests: 'yes' }, 'allowInsecureRequests')
    })
  })

  describe('clientId and clientSecret', () => {
    it('requires a non-empty clientId', () => {
      expectRejected({ clientId: '' }, 'clientId')
      expectRejected({ clientId: 7 }, 'clientId')
    })

    it('refuses an empty clientSecret but allows none (public client)', () => {
      expectRejected({ clientSecret: '' }, 'clientSecret')
      expect(settingsOf(createAuth(validOptions({ clientSecret: undefined }))).clientSecret).toBe(
        undefined,
      )
    })
  })

  describe('baseUrl', () => {
    it.each([
      'http://app.example.com',
      'http://192.168.1.10:3000',
      'http://127.0.0.2:3000',
      'http://localhost.example.com',
    ])('refuses non-loopback http %s', (baseUrl) => {
      expectRejected({ baseUrl }, 'baseUrl')
    })

    it.each(['http://localhost:3000', 'http://127.0.0.1:8080', 'http://[::1]:3000'])(
      'accepts loopback http %s',
      (baseUrl) => {
        expect(settingsOf(createAuth(validOptions({ baseUrl }))).secure).toBe(false)
      },
    )

    it.each([
      ['a query', 'https://app.example.com/?x=1'],
      ['a fragment', 'https://app.example.com/#top'],
      ['credentials', 'https://user:pass@app.example.com'],
      ['a username', 'https://user@app.example.com'],
      ['a relative URL', '/app'],
      ['another scheme', 'ws://localhost:3000'],
    ])('refuses %s', (_label, baseUrl) => {
      expectRejected({ baseUrl }, 'baseUrl')
    })
  })

  describe('scope', () => {
    it.each(['profile email', 'openidprofile', 'OPENID profile', ''])(
      'refuses %j, which lacks openid',
      (scope) => {
        expectRejected({ scope }, 'scope')
      },
    )

    it('refuses a non-string', () => {
      expectRejected({ scope: ['openid'] }, 'scope')
    })

    it('accepts a scope containing openid', () => {
      expect(
        settingsOf(createAuth(validOptions({ scope: 'email openid offline_access' }))).scope,
      ).toBe('email openid offline_access')
    })
  })

  describe('authorizationParams', () => {
    it.each([
      'state',
      'nonce',
      'redirect_uri',
      'response_type',
      'client_id',
      'scope',
      'code_challenge',
      'code_challenge_method',
      'response_mode',
      'request',
      'request_uri',
    ])('refuses the protocol parameter %s', (name) => {
      expectRejected({ authorizationParams: { [name]: 'x' } }, `authorizationParams.${name}`)
    })

    it('refuses a non-string value', () => {
      expectRejected({ authorizationParams: { max_age: 60 } }, 'authorizationParams.max_age')
    })

    it('keeps the others', () => {
      const auth = createAuth(
        validOptions({ authorizationParams: { prompt: 'consent', audience: 'api' } }),
      )
      expect(settingsOf(auth).authorizationParams).toEqual({ prompt: 'consent', audience: 'api' })
    })
  })

  describe('routes', () => {
    it.each([
      ['login', 'login'],
      ['login', ''],
      ['callback', '//callback'],
      ['callback', '/a//b'],
      ['logout', '/log out'],
      ['logout', '/logout?x=1'],
      ['logout', '/logout#x'],
      ['login', '/l%6Fgin'],
      ['login', '/login\\x'],
      // dot segments are normalised away in request URLs: such a route would never match
      ['login', '/auth/../login'],
      ['logout', '/./logout'],
      ['callback', '/callback/..'],
      ['callback', 'https://app.example.com/callback'],
      ['login', 42],
    ])('refuses routes.%s = %j', (route, value) => {
      expectRejected({ routes: { [route]: value } }, `routes.${route}`)
    })

    it('refuses two routes on the same path', () => {
      expectRejected({ routes: { login: '/auth', logout: '/auth' } }, 'routes')
      // the trailing slash is dropped before comparing
      expectRejected({ routes: { login: '/callback/' } }, 'routes')
    })

    it('drops a trailing slash', () => {
      expect(
        settingsOf(createAuth(validOptions({ routes: { login: '/sign-in/' } }))).routes.login,
      ).toBe('/sign-in')
    })
  })

  describe('postLogoutRedirect', () => {
    it.each(['https://evil.example', '//evil.example', '/\\evil.example', 'signed-out', ''])(
      'refuses %j',
      (postLogoutRedirect) => {
        expectRejected({ postLogoutRedirect }, 'postLogoutRedirect')
      },
    )
  })

  describe('numbers', () => {
    it.each([-1, 601, Number.NaN, Number.POSITIVE_INFINITY, '30'])(
      'refuses clockTolerance %j',
      (clockTolerance) => {
        expectRejected({ clockTolerance }, 'clockTolerance')
      },
    )

    it('accepts clockTolerance 0', () => {
      expect(settingsOf(createAuth(validOptions({ clockTolerance: 0 }))).clockTolerance).toBe(0)
    })

    it.each([0, -5, 1.5, 120_001, Number.NaN, '5000'])('refuses httpTimeout %j', (httpTimeout) => {
      expectRejected({ httpTimeout }, 'httpTimeout')
    })

    it.each([
      ['session.absoluteDuration', { session: { absoluteDuration: 0 } }],
      ['session.absoluteDuration', { session: { absoluteDuration: 401 * 24 * 3600 } }],
      ['session.maxCookieChunks', { session: { maxCookieChunks: 0 } }],
      ['session.maxCookieChunks', { session: { maxCookieChunks: 11 } }],
      ['transactionTtl', { transactionTtl: 3601 }],
      ['transactionTtl', { transactionTtl: 0.5 }],
      ['maxTransactions', { maxTransactions: 0 }],
      ['maxTransactions', { maxTransactions: 21 }],
    ])('refuses a bad %s', (option, overrides) => {
      expectRejected(overrides, option)
    })
  })

  describe('cookieName', () => {
    it.each([
      '',
      'a b',
      'a;b',
      'a=b',
      'a.b',
      'ünicode',
      'x'.repeat(65),
      '_session',
      '_session_app',
      '_interaction',
      '__Host-app',
      '__Secure-app',
      '__host-app',
    ])('refuses %j', (cookieName) => {
      expectRejected({ cookieName }, 'cookieName')
    })

    it('accepts 64 safe characters', () => {
      const cookieName = `app_-${'x'.repeat(59)}`
      expect(settingsOf(createAuth(validOptions({ cookieName }))).sessionCookieName).toBe(
        cookieName,
      )
    })
  })

  describe('idTokenSigningAlg', () => {
    it.each(['none', 'HS256', 'HS512', 'rs256', 'RS128', ''])('refuses %j', (idTokenSigningAlg) => {
      expectRejected({ idTokenSigningAlg }, 'idTokenSigningAlg')
    })

    it.each(['RS256', 'PS384', 'ES512', 'EdDSA', 'Ed25519'])('accepts %s', (idTokenSigningAlg) => {
      expect(settingsOf(createAuth(validOptions({ idTokenSigningAlg }))).idTokenSigningAlg).toBe(
        idTokenSigningAlg,
      )
    })
  })

  describe('clientAuth', () => {
    it.each(['client_secret_JWT', 'private_key', 'basic', '', 5])('refuses %j', (clientAuth) => {
      expectRejected({ clientAuth }, 'clientAuth')
    })

    it.each(['client_secret_basic', 'client_secret_post', 'client_secret_jwt'])(
      'needs a secret with %s',
      (clientAuth) => {
        expectRejected({ clientAuth, clientSecret: undefined }, 'clientSecret')
      },
    )

    it('refuses a secret with none, which would never be sent', () => {
      expectRejected({ clientAuth: 'none' }, 'clientSecret')
    })

    it.each([
      ['client_secret_post', { clientAuth: 'client_secret_post' }],
      ['none', { clientAuth: 'none', clientSecret: undefined }],
      [undefined, {}],
    ] as const)('keeps %s (undefined: chosen at discovery)', (clientAuth, overrides) => {
      expect(settingsOf(createAuth(validOptions(overrides))).clientAuth).toBe(clientAuth)
    })
  })

  describe('clientPrivateKey', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const ed = generateKeyPairSync('ed25519')
    const jwk = (key: KeyObject) => key.export({ format: 'jwk' })
    const jwt = { clientAuth: 'private_key_jwt', clientSecret: undefined }

    it('is required with private_key_jwt', () => {
      const error = configurationError(jwt)
      expect(error.option).toBe('clientPrivateKey')
      expect(error.message).toContain('is required with clientAuth "private_key_jwt"')
    })

    it('refuses a public key given as the private one', () => {
      const error = configurationError({ ...jwt, clientPrivateKey: jwk(ec.publicKey) })
      expect(error.option).toBe('clientPrivateKey')
      expect(error.message).toContain('is a public key')
    })

    it('refuses an RSA key with alg ES256', () => {
      const error = configurationError({
        ...jwt,
        clientPrivateKey: { ...jwk(rsa.privateKey), alg: 'ES256' },
      })
      expect(error.option).toBe('clientPrivateKey')
      expect(error.message).toContain('is an RSA key, but its "alg" is ES256')
    })

    it('refuses an RSA key under 2048 bits, as a JWK and as a CryptoKey, and a SHA-1 CryptoKey', async () => {
      const small = generateKeyPairSync('rsa', { modulusLength: 1024 })
      const error = configurationError({ ...jwt, clientPrivateKey: jwk(small.privateKey) })
      expect(error.option).toBe('clientPrivateKey')
      expect(error.message).toContain('is a 1024-bit RSA key: RFC 7518 §3.3 asks for 2048 bits')
      const cryptoKey = (rsaBits: number, hash: string) =>
        crypto.subtle.generateKey(
          {
            name: 'RSASSA-PKCS1-v1_5',
            modulusLength: rsaBits,
            publicExponent: new Uint8Array([1, 0, 1]),
            hash,
          },
          false,
          ['sign', 'verify'],
        ) as Promise<CryptoKeyPair>
      const small2 = await cryptoKey(1024, 'SHA-256')
      expect(configurationError({ ...jwt, clientPrivateKey: small2.privateKey }).message).toContain(
        'is a 1024-bit RSA key',
      )
      const sha1 = await cryptoKey(2048, 'SHA-1')
      expect(configurationError({ ...jwt, clientPrivateKey: sha1.privateKey }).message).toContain(
        'is an RSA CryptoKey for SHA-1: sign with SHA-256, SHA-384 or SHA-512',
      )
    })

    it('refuses an EC P-256 key with alg ES384', () => {
      expectRejected(
        { ...jwt, clientPrivateKey: { ...jwk(ec.privateKey), alg: 'ES384' } },
        'clientPrivateKey',
      )
    })

    it('refuses a shared secret (kty oct), a broken JWK and a non-object', () => {
      expectRejected(
        { ...jwt, clientPrivateKey: { kty: 'oct', k: 'c2VjcmV0' } },
        'clientPrivateKey',
      )
      expectRejected(
        { ...jwt, clientPrivateKey: { ...jwk(ec.privateKey), d: 'AAAA' } },
        'clientPrivateKey',
      )
      expectRejected({ ...jwt, clientPrivateKey: 'a PEM string' }, 'clientPrivateKey')
    })

    it('refuses a public CryptoKey', async () => {
      const { publicKey } = (await crypto.subtle.generateKey(
        { name: 'ECDSA', namedCurve: 'P-256' },
        true,
        ['sign', 'verify'],
      )) as CryptoKeyPair
      expectRejected({ ...jwt, clientPrivateKey: publicKey }, 'clientPrivateKey')
    })

    it.each([
      ['RS256 for RSA', jwk(rsa.privateKey), 'RS256'],
      ['the JWK alg PS384', { ...jwk(rsa.privateKey), alg: 'PS384' }, 'PS384'],
      ['ES256 for P-256', jwk(ec.privateKey), 'ES256'],
      ['EdDSA for Ed25519', jwk(ed.privateKey), 'EdDSA'],
      ['the JWK alg Ed25519', { ...jwk(ed.privateKey), alg: 'Ed25519' }, 'Ed25519'],
    ])('signs with %s', (_name, clientPrivateKey, alg) => {
      const key = settingsOf(
        createAuth(validOptions({ ...jwt, clientPrivateKey } as Partial<AuthOptions>)),
      ).clientKey
      expect(key?.alg).toBe(alg)
      expect((key?.key as CryptoKey | undefined)?.type).toBe('private')
    })

    it('reads a PEM private key (PKCS#8, and SEC1 for EC), and refuses a PEM public key', () => {
      const pkcs8 = ec.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string
      const sec1 = ec.privateKey.export({ format: 'pem', type: 'sec1' }) as string
      for (const pem of [pkcs8, sec1]) {
        const settings = settingsOf(
          createAuth(validOptions({ ...jwt, clientPrivateKey: pem } as Partial<AuthOptions>)),
        )
        expect(settings.clientKey?.alg).toBe('ES256')
      }
      const spki = ec.publicKey.export({ format: 'pem', type: 'spki' }) as string
      const error = configurationError({ ...jwt, clientPrivateKey: spki })
      expect(error.option).toBe('clientPrivateKey')
      expect(error.message).toContain('without a private key')
    })

    it('names a PEM key with clientPrivateKeyId, which overrides a JWK kid', () => {
      const pem = ec.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string
      const named = (overrides: Record<string, unknown>) =>
        settingsOf(createAuth(validOptions({ ...jwt, ...overrides } as Partial<AuthOptions>)))
          .clientKey?.kid
      expect(named({ clientPrivateKey: pem })).toBeUndefined()
      expect(named({ clientPrivateKey: pem, clientPrivateKeyId: 'pem-key' })).toBe('pem-key')
      expect(
        named({
          clientPrivateKey: { ...jwk(ec.privateKey), kid: 'jwk-kid' },
          clientPrivateKeyId: 'other',
        }),
      ).toBe('other')
      expectRejected({ clientPrivateKeyId: 'alone' }, 'clientPrivateKeyId')
      expectRejected(
        { ...jwt, clientPrivateKey: pem, clientPrivateKeyId: '' },
        'clientPrivateKeyId',
      )
    })

    it('accepts a private CryptoKey, and takes the kid of a JWK', async () => {
      const { privateKey } = (await crypto.subtle.generateKey(
        { name: 'ECDSA', namedCurve: 'P-384' },
        false,
        ['sign', 'verify'],
      )) as CryptoKeyPair
      expect(
        settingsOf(
          createAuth(
            validOptions({ ...jwt, clientPrivateKey: privateKey } as Partial<AuthOptions>),
          ),
        ).clientKey?.alg,
      ).toBe('ES384')
      const named = { ...jwk(ec.privateKey), kid: 'key-1' }
      expect(
        settingsOf(
          createAuth(validOptions({ ...jwt, clientPrivateKey: named } as Partial<AuthOptions>)),
        ).clientKey?.kid,
      ).toBe('key-1')
    })
  })

  describe('pushedAuthorizationRequests and requestObjects', () => {
    it.each(['pushedAuthorizationRequests', 'requestObjects'])(
      'refuses a non-boolean %s',
      (name) => {
        expectRejected({ [name]: 'yes' }, name)
      },
    )

    it('needs clientPrivateKey for requestObjects: true', () => {
      const error = configurationError({ requestObjects: true })
      expect(error.option).toBe('clientPrivateKey')
      expect(error.message).toContain('signs the request objects')
    })

    it('keeps undefined for both: chosen from the metadata at discovery', () => {
      const settings = settingsOf(createAuth(validOptions()))
      expect(settings.pushedAuthorizationRequests).toBeUndefined()
      expect(settings.requestObjects).toBeUndefined()
    })
  })

  it('refuses a logger that is not a function', () => {
    expectRejected({ logger: console }, 'logger')
  })
})

describe('createAuth defaults', () => {
  it('resolves every default on a loopback http base URL', () => {
    const options = settingsOf(createAuth(validOptions()))
    expect(options.routes).toEqual({
      login: '/login',
      callback: '/callback',
      logout: '/logout',
      backchannelLogout: '/backchannel-logout',
      frontchannelLogout: '/frontchannel-logout',
    })
    expect(options.callbackUrl).toBe('http://localhost:3000/callback')
    expect(options.postLogoutRedirectUrl).toBe('http://localhost:3000/')
    expect(options.origin).toBe('http://localhost:3000')
    expect(options.scope).toBe('openid profile email')
    expect(options.passwords).toEqual({ 1: SECRET })
    expect(options.clockTolerance).toBe(30)
    expect(options.httpTimeout).toBe(5000)
    expect(options.secure).toBe(false)
    expect(options.sessionCookieName).toBe('codeflow')
    expect(options.transactionCookiePrefix).toBe('codeflow_tx.')
    expect(options.absoluteDuration).toBe(7 * 24 * 3600)
    expect(options.maxCookieChunks).toBe(3)
    expect(options.transactionTtl).toBe(600)
    expect(options.maxTransactions).toBe(5)
    expect(options.allowInsecureRequests).toBe(false)
    expect(options.authorizationParams).toEqual({})
  })

  it('puts routes, the callback and the logout target under the base path', () => {
    const options = settingsOf(
      createAuth(
        validOptions({ baseUrl: 'https://app.example.com/portal/', postLogoutRedirect: '/bye' }),
      ),
    )
    expect(options.routes).toEqual({
      login: '/portal/login',
      callback: '/portal/callback',
      logout: '/portal/logout',
      backchannelLogout: '/portal/backchannel-logout',
      frontchannelLogout: '/portal/frontchannel-logout',
    })
    expect(options.callbackUrl).toBe('https://app.example.com/portal/callback')
    expect(options.postLogoutRedirectUrl).toBe('https://app.example.com/portal/bye')
    expect(options.origin).toBe('https://app.example.com')
  })

  it('builds the callback URL from custom routes', () => {
    const options = settingsOf(
      createAuth(validOptions({ routes: { callback: '/auth/return', login: '/auth/start' } })),
    )
    expect(options.callbackUrl).toBe('http://localhost:3000/auth/return')
    expect(options.routes.login).toBe('/auth/start')
    expect(options.routes.logout).toBe('/logout')
  })

  it('prefixes cookies with __Host- on https', () => {
    const options = settingsOf(
      createAuth(validOptions({ baseUrl: 'https://app.example.com', cookieName: 'app' })),
    )
    expect(options.secure).toBe(true)
    expect(options.sessionCookieName).toBe('__Host-app')
    expect(options.transactionCookiePrefix).toBe('__Host-app_tx.')
  })

  it('returns a frozen configuration', () => {
    const auth = createAuth(validOptions())
    expect(Object.isFrozen(auth)).toBe(true)
  })
})
