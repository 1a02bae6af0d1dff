/**
 * A real OpenID Provider that nobody on this project wrote: Django OAuth Toolkit (Debian's
 * python3-django-oauth-toolkit, 1.7.0 on Debian 12) in the minimal Django project of
 * test/support/django/, on 127.0.0.1 and a free port, in a temporary directory of its own (a
 * SQLite database, an RSA key made at start). `manage.py runserver --noreload` serves it in its
 * own process group, stopped by that group's id.
 *
 * The migrations run once per test file: each provider starts from a copy of that database, then
 * `manage.py codeflow_setup` adds its users and applications; the file's last `afterAll` calls
 * `removeMigratedDatabase`.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { generateKeyPair } from 'node:crypto'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { freePort } from './stack.js'

/** Debian's Python, which has Debian's Django and DOT (not a python3 found first on PATH). */
export const PYTHON = '/usr/bin/python3'
const PROJECT_DIR = resolve(dirname(fileURLToPath(import.meta.url)), 'django')
const DOT_PACKAGE = '/usr/lib/python3/dist-packages/oauth2_provider'

/** A user of the provider's Django site. */
export interface DjangoUser {
  readonly username: string
  readonly password: string
  readonly email?: string
  readonly firstName?: string
  readonly lastName?: string
}

/**
 * One DOT Application: always confidential, authorization-code grant, ID tokens signed RS256
 * with the provider's RSA key.
 */
export interface DjangoApplication {
  readonly clientId: string
  readonly clientSecret: string
  readonly redirectUris: readonly string[]
  /** DOT's `skip_authorization`: no consent page (default false: the consent page is shown) */
  readonly skipAuthorization?: boolean
  /** the name the consent page shows (default the client id) */
  readonly name?: string
}

/** Options of `startDjangoProvider`. */
export interface DjangoProviderOptions {
  readonly users: readonly DjangoUser[]
  readonly applications: readonly DjangoApplication[]
  /** DOT's ACCESS_TOKEN_EXPIRE_SECONDS (default 3600) */
  readonly accessTokenSeconds?: number
  /** DOT's ID_TOKEN_EXPIRE_SECONDS (default DOT's: 36000) */
  readonly idTokenSeconds?: number
  /**
   * route only what DOT's own URLconf routes: no discovery document at
   * `<issuer>/.well-known/openid-configuration` (DOT 1.7 serves it with a trailing slash only)
   */
  readonly stockUrls?: boolean
}

/** A running Django OAuth Toolkit. */
export interface DjangoProvider {
  /** the issuer its discovery document declares: `http://127.0.0.1:PORT/o` */
  readonly issuer: string
  /** its origin, `http://127.0.0.1:PORT` */
  readonly origin: string
  readonly port: number
  /** the process group that serves it */
  readonly pid: number
  /** the discovery document, as DOT answered it */
  readonly metadata: Readonly<Record<string, unknown>>
  /** the database id of each user, by username (DOT's `sub` is this id) */
  readonly userIds: Readonly<Record<string, number>>
  /** what runserver printed (its request log included) */
  output(): string
  /** rows of a read-only query of its SQLite database (e.g. to count tokens) */
  query<T = Record<string, unknown>>(sql: string, ...params: (string | number)[]): T[]
  close(): Promise<void>
}

/** Whether Debian's Django OAuth Toolkit is installed. */
export function djangoOAuthToolkitInstalled(): boolean {
  return existsSync(PYTHON) && existsSync(DOT_PACKAGE)
}

const generateKeyPairAsync = promisify(generateKeyPair)

/** The environment of every manage.py run: nothing of this process's own but PATH and HOME. */
function pythonEnvironment(extra: Record<string, string>): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    LANG: 'C.UTF-8',
    // no __pycache__ in the work tree
    PYTHONDONTWRITEBYTECODE: '1',
    PYTHONUNBUFFERED: '1',
    DJANGO_SETTINGS_MODULE: 'dotprovider.settings',
    ...extra,
  }
}

/** Runs `manage.py args` to its end; resolves with its standard output, or fails with all of it. */
async function manage(args: string[], env: Record<string, string>): Promise<string> {
  const child = spawn(PYTHON, ['manage.py', ...args], {
    cwd: PROJECT_DIR,
    env: pythonEnvironment(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString()
  })
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const [code] = (await once(child, 'exit')) as [number | null]
  if (code !== 0) {
    throw new Error(`manage.py ${args.join(' ')} exited with ${code}:\n${stdout}${stderr}`)
  }
  return stdout
}

/**
 * The migrated database every provider of this test file starts from (made once, removed by
 * `removeMigratedDatabase`), in its directory.
 */
let migrated: Promise<string> | undefined
let templateDir: string | undefined

function migratedDatabase(): Promise<string> {
  migrated ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'codeflow-dot-template-'))
    const db = join(dir, 'db.sqlite3')
    try {
      await manage(['migrate', '--verbosity', '0'], { CODEFLOW_DOT_DB: db })
    } catch (error) {
      // a later start tries again
      migrated = undefined
      await rm(dir, { recursive: true, force: true })
      throw error
    }
    templateDir = dir
    return db
  })()
  return migrated
}

/**
 * Removes the migrated database the providers of this file started from (a test file's last
 * `afterAll`); a later start migrates again.
 */
export async function removeMigratedDatabase(): Promise<void> {
  const dir = templateDir
  migrated = undefined
  templateDir = undefined
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
}

/** Stops a process group: SIGTERM, then SIGKILL after 5 s. */
async function stopGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return
  const pid = child.pid
  const exited = once(child, 'exit')
  const kill = (signal: NodeJS.Signals) => {
    try {
      process.kill(-pid, signal)
    } catch {
      // the group is gone already
    }
  }
  kill('SIGTERM')
  const timer = setTimeout(() => kill('SIGKILL'), 5000)
  await exited
  clearTimeout(timer)
}

/** Polls DOT's discovery document until it answers 200 (or runserver exits, or 20 s pass). */
async function waitForDiscovery(
  child: ChildProcess,
  origin: string,
  output: () => string,
): Promise<Record<string, unknown>> {
  // the URL DOT's own URLconf routes (with its trailing slash), whatever `stockUrls` says
  const url = `${origin}/o/.well-known/openid-configuration/`
  const deadline = Date.now() + 20_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) break
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2000) })
      if (response.status === 200) return (await response.json()) as Record<string, unknown>
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`Django OAuth Toolkit did not answer discovery at ${url}:\n${output()}`)
}

async function startOnce(options: DjangoProviderOptions): Promise<DjangoProvider> {
  const template = await migratedDatabase()
  const dir = await mkdtemp(join(tmpdir(), 'codeflow-dot-'))
  const remove = () => rm(dir, { recursive: true, force: true })
  let child: ChildProcess | undefined
  try {
    const db = join(dir, 'db.sqlite3')
    const keyFile = join(dir, 'oidc.key')
    const specFile = join(dir, 'setup.json')
    const { privateKey } = await generateKeyPairAsync('rsa', { modulusLength: 2048 })
    await Promise.all([
      copyFile(template, db),
      writeFile(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 }),
      writeFile(
        specFile,
        JSON.stringify({
          users: options.users,
          applications: options.applications.map((app) => ({ name: app.clientId, ...app })),
        }),
      ),
    ])
    const env: Record<string, string> = {
      CODEFLOW_DOT_DB: db,
      CODEFLOW_DOT_RSA_KEY_FILE: keyFile,
      CODEFLOW_DOT_ACCESS_TOKEN_SECONDS: String(options.accessTokenSeconds ?? 3600),
      ...(options.idTokenSeconds === undefined
        ? {}
        : { CODEFLOW_DOT_ID_TOKEN_SECONDS: String(options.idTokenSeconds) }),
      ...(options.stockUrls ? { CODEFLOW_DOT_STOCK_URLS: '1' } : {}),
    }
    const created = JSON.parse(await manage(['codeflow_setup', specFile], env)) as {
      users: Record<string, number>
    }

    const port = await freePort()
    const origin = `http://127.0.0.1:${port}`
    // --insecure: runserver serves DOT's static files (its consent page's CSS) with DEBUG off
    const server = spawn(
      PYTHON,
      ['manage.py', 'runserver', `127.0.0.1:${port}`, '--noreload', '--insecure'],
      {
        cwd: PROJECT_DIR,
        env: pythonEnvironment(env),
        stdio: ['ignore', 'pipe', 'pipe'],
        // its own process group, stopped as one
        detached: true,
      },
    )
    child = server
    let output = ''
    const append = (chunk: Buffer) => {
      output += chunk.toString()
    }
    server.stdout?.on('data', append)
    server.stderr?.on('data', append)
    const metadata = await waitForDiscovery(server, origin, () => output).catch((error) => {
      if (/port is already in use/.test(output)) {
        throw Object.assign(new Error(`EADDRINUSE: ${origin}`), { code: 'EADDRINUSE' })
      }
      throw error
    })
    const reader = new DatabaseSync(db, { readOnly: true })
    return {
      issuer: String(metadata.issuer),
      origin,
      port,
      pid: server.pid as number,
      metadata,
      userIds: created.users,
      output: () => output,
      query<T>(sql: string, ...params: (string | number)[]): T[] {
        return reader.prepare(sql).all(...params) as T[]
      },
      async close() {
        reader.close()
        await stopGroup(server)
        await remove()
      },
    }
  } catch (error) {
    if (child) await stopGroup(child)
    await remove()
    throw error
  }
}

/**
 * Starts Django OAuth Toolkit with `options`' users and applications; a port taken meanwhile is
 * tried again on another (three times at most).
 */
export async function startDjangoProvider(options: DjangoProviderOptions): Promise<DjangoProvider> {
  if (!djangoOAuthToolkitInstalled()) {
    throw new Error(
      `Django OAuth Toolkit is not installed at ${DOT_PACKAGE}: run \`apt-get install -y python3-django-oauth-toolkit\` (the interop test needs it)`,
    )
  }
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options)
    } catch (error) {
      if ((error as { code?: string }).code !== 'EADDRINUSE' || attempt >= 3) throw error
    }
  }
}
