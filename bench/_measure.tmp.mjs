import { fork, spawn, execFileSync } from 'node:child_process'
import { createServer } from 'node:net'
import { startDevProvider } from '@codeflow/dev-provider'
import { login } from '/work/main/bench/login.mjs'
const free = () => new Promise((r) => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => r(p)) }) })
const kids = []
const rport = await free()
const redis = spawn('taskset', ['-c', '0', 'redis-server', '--port', String(rport), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
kids.push(redis)
const names = (process.env.SCEN ?? 'express-bare,express-redis,express-redis-noearly').split(',')
const ports = {}
for (const n of names) ports[n] = await free()
const provider = await startDevProvider({ clients: names.map((n) => ({ clientId: n, clientSecret: 's', redirectUris: [`http://127.0.0.1:${ports[n]}/callback`] })) })
await new Promise((r) => setTimeout(r, 500))
async function start(n) {
  const scenario = n.replace('-noearly', '')
  const child = fork('/work/main/bench/server.mjs', [scenario], { execPath: 'taskset', execArgv: ['-c', '1', process.execPath], env: { ...process.env, NO_EARLY: n.endsWith('noearly') ? '1' : '', BENCH_PORT: String(ports[n]), BENCH_ISSUER: provider.issuer, BENCH_CLIENT_ID: n, BENCH_CLIENT_SECRET: 's', BENCH_SECRET: 'a-benchmark-secret-of-at-least-32-characters', BENCH_REDIS_URL: `redis://127.0.0.1:${rport}`, NODE_ENV: 'production', BENCH_CLAIMS: process.env.CLAIMS ?? '{}' }, stdio: ['ignore', 'pipe', 'inherit', 'ipc'] })
  kids.push(child)
  await new Promise((r) => child.stdout.on('data', (d) => String(d).includes('ready') && r()))
  return child
}
const cookies = {}
for (const n of names) { const c = await start(n); if (!n.includes('bare')) cookies[n] = await login(`http://127.0.0.1:${ports[n]}`); c.kill('SIGKILL') }
const any = Object.values(cookies)[0]
const res = Object.fromEntries(names.map((n) => [n, []]))
for (let round = 0; round < Number(process.env.ROUNDS ?? 3); round++) {
  const running = []
  for (const n of names) running.push(await start(n))
  for (const n of names) execFileSync('taskset', ['-c', '0', 'wrk', '-t1', '-c10', '-d1s', '-H', `cookie: ${cookies[n] ?? any}`, `http://127.0.0.1:${ports[n]}/api/me`])
  const order = round % 2 ? [...names].reverse() : names
  for (const n of order) {
    await new Promise((r) => setTimeout(r, 1500))
    const out = String(execFileSync('taskset', ['-c', '0', 'wrk', '-t1', `-c${process.env.CONN ?? 10}`, `-d${process.env.DUR ?? 4}s`, '-H', `cookie: ${cookies[n] ?? any}`, `http://127.0.0.1:${ports[n]}/api/me`]))
    if (/Non-2xx/.test(out)) throw new Error(`${n}: ${out}`)
    res[n].push(Number(/Requests\/sec:\s+([\d.]+)/.exec(out)[1]))
  }
  for (const c of running) c.kill('SIGKILL')
}
console.log(JSON.stringify(res))
const base = res[names[0]]
for (const n of names) console.log(n, res[n].map((v, i) => (v / base[i]).toFixed(2)).join(' '), Math.round(res[n].reduce((a, b) => a + b) / res[n].length))
for (const k of kids) try { k.kill('SIGKILL') } catch {}
await provider.close()
process.exit(0)
