import { fork, spawn, execFileSync } from 'node:child_process'
import { createServer } from 'node:net'
import { startDevProvider } from '@codeflow/dev-provider'
import { login } from '/work/main/bench/login.mjs'
const free = () => new Promise((r) => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => r(p)) }) })
const rport = await free()
const redis = spawn('taskset', ['-c', '0', 'redis-server', '--port', String(rport), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
const port = await free()
const scenario = process.env.SCEN ?? 'express-redis'
const provider = await startDevProvider({ clients: [{ clientId: 'p', clientSecret: 's', redirectUris: [`http://127.0.0.1:${port}/callback`] }] })
await new Promise((r) => setTimeout(r, 300))
const child = fork('/work/main/bench/server.mjs', [scenario], { execArgv: ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'], env: { ...process.env, BENCH_PORT: String(port), BENCH_ISSUER: provider.issuer, BENCH_CLIENT_ID: 'p', BENCH_CLIENT_SECRET: 's', BENCH_SECRET: 'a-benchmark-secret-of-at-least-32-characters', BENCH_REDIS_URL: `redis://127.0.0.1:${rport}`, NODE_ENV: 'production' }, stdio: ['ignore', 'pipe', 'inherit', 'ipc'] })
await new Promise((r) => child.stdout.on('data', (d) => String(d).includes('ready') && r()))
const cookie = await login(`http://127.0.0.1:${port}`)
const out = String(execFileSync('taskset', ['-c', '0', 'wrk', '-t1', '-c10', '-d6s', '-H', `cookie: ${cookie}`, `http://127.0.0.1:${port}/api/me`]))
console.log(/Requests\/sec.*/.exec(out)[0])
child.kill('SIGINT')
await new Promise((r) => child.on('exit', r))
redis.kill('SIGKILL'); await provider.close(); process.exit(0)
