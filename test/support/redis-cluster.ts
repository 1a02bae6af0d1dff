/**
 * A real Redis Cluster for the tests: three masters with a replica each, every node a
 * redis-server on 127.0.0.1 (`--cluster-enabled yes`, joined by `redis-cli --cluster create`), no
 * persistence, each stopped by its PID. Failover is driven by the test (`CLUSTER FAILOVER
 * TAKEOVER` on a replica), and the nodes' own failure detection is slow on purpose
 * (`cluster-node-timeout`), so that nothing in a test depends on how fast this machine is.
 */
import { type ChildProcess, execFile } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { spawnRedis } from './redis.js'
import { freePort } from './stack.js'

const run = promisify(execFile)

/** One node as the cluster sees it now. */
export interface ClusterNode {
  readonly port: number
  readonly id: string
  readonly role: 'master' | 'replica'
  /** a replica's master (its id) */
  readonly masterId?: string
  /** the slot ranges a master serves */
  readonly slots: readonly (readonly [number, number])[]
  readonly failed: boolean
}

/** A running cluster. */
export interface RedisCluster {
  /** every node's `redis://127.0.0.1:<port>` (the seed nodes a client is given) */
  readonly urls: readonly string[]
  readonly ports: readonly number[]
  /** `redis-cli -p <port> <args>` against one node: its output, trimmed */
  cli(port: number, ...args: string[]): Promise<string>
  /** the cluster's nodes, as the node at `via` (default: the first alive) sees them */
  nodes(via?: number): Promise<ClusterNode[]>
  /** the port of the master that serves `key` now */
  masterOf(key: string): Promise<number>
  /** kills the node on `port` (SIGKILL, as a crash) */
  kill(port: number): Promise<void>
  /** stops every node and removes their files */
  stop(): Promise<void>
}

interface Started {
  readonly port: number
  readonly child: ChildProcess
  readonly dir: string
}

async function startNode(nodeTimeout: number): Promise<Started> {
  const port = await freePort()
  const busPort = await freePort()
  const dir = await mkdtemp(join(tmpdir(), 'codeflow-redis-cluster-'))
  const child = await spawnRedis([
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--cluster-enabled',
    'yes',
    '--cluster-port',
    String(busPort),
    '--cluster-config-file',
    join(dir, 'nodes.conf'),
    '--cluster-node-timeout',
    String(nodeTimeout),
    '--dir',
    dir,
  ]).catch(async (error: unknown) => {
    await rm(dir, { recursive: true, force: true })
    throw error
  })
  return { port, child, dir }
}

function parseNodes(text: string): ClusterNode[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [id = '', address = '', flags = '', master = '-', , , , , ...slots] = line.split(' ')
      const port = Number(/:(\d+)@/.exec(address)?.[1])
      const flagList = flags.split(',')
      return {
        port,
        id,
        role: flagList.includes('master') ? 'master' : 'replica',
        ...(master === '-' ? {} : { masterId: master }),
        slots: slots
          .filter((slot) => /^\d+(-\d+)?$/.test(slot))
          .map((slot) => {
            const [from, to = from] = slot.split('-').map(Number) as [number, number?]
            return [from, to] as const
          }),
        failed: flagList.includes('fail') || flagList.includes('fail?'),
      } satisfies ClusterNode
    })
}

/**
 * Starts `masters` masters with `replicas` replicas each and waits until every node says the
 * cluster is ok.
 */
export async function startRedisCluster(
  options: { masters?: number; replicas?: number; nodeTimeout?: number } = {},
): Promise<RedisCluster> {
  const masters = options.masters ?? 3
  const replicas = options.replicas ?? 1
  // failure detection the tests never wait for: failover is the test's own TAKEOVER
  const nodeTimeout = options.nodeTimeout ?? 15_000
  const started: Started[] = []
  const stop = async () => {
    await Promise.all(
      started.map(async ({ child, dir }) => {
        if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
          const exited = once(child, 'exit')
          process.kill(child.pid, 'SIGKILL')
          await exited
        }
        await rm(dir, { recursive: true, force: true })
      }),
    )
  }
  try {
    for (let i = 0; i < masters * (1 + replicas); i++) started.push(await startNode(nodeTimeout))
    const ports = started.map((node) => node.port)
    const cli = async (port: number, ...args: string[]) =>
      (await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args])).stdout.trim()
    await run('redis-cli', [
      '--cluster',
      'create',
      ...ports.map((port) => `127.0.0.1:${port}`),
      '--cluster-replicas',
      String(replicas),
      '--cluster-yes',
    ])
    const alive = (port: number) => {
      const node = started.find((one) => one.port === port)
      return node !== undefined && node.child.exitCode === null && node.child.signalCode === null
    }
    const nodes = async (via?: number) => {
      const port = via ?? ports.find(alive)
      if (port === undefined) throw new Error('no cluster node is alive')
      return parseNodes(await cli(port, 'cluster', 'nodes'))
    }
    // every node says the cluster is ok, and sees every node in its role: the masters with
    // their slots, each replica with its master
    const formed = (view: ClusterNode[]) =>
      view.length === ports.length &&
      view.filter((node) => node.role === 'master' && node.slots.length > 0).length === masters &&
      view.filter((node) => node.role === 'replica' && node.masterId !== undefined).length ===
        masters * replicas
    const deadline = Date.now() + 30_000
    for (;;) {
      const states = await Promise.all(ports.map((port) => cli(port, 'cluster', 'info')))
      const views = await Promise.all(ports.map((port) => nodes(port)))
      if (states.every((state) => /cluster_state:ok/.test(state)) && views.every(formed)) break
      if (Date.now() > deadline) throw new Error(`the cluster did not form:\n${states.join('\n')}`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    return {
      urls: ports.map((port) => `redis://127.0.0.1:${port}`),
      ports,
      cli,
      nodes,
      async masterOf(key) {
        const slot = Number(
          await cli(ports.find(alive) ?? ports[0] ?? 0, 'cluster', 'keyslot', key),
        )
        const master = (await nodes()).find(
          (node) =>
            node.role === 'master' &&
            !node.failed &&
            node.slots.some(([from, to]) => from <= slot && slot <= to),
        )
        if (master === undefined) throw new Error(`no master serves slot ${slot}`)
        return master.port
      },
      async kill(port) {
        const node = started.find((one) => one.port === port)
        if (node?.child.pid === undefined || !alive(port)) return
        const exited = once(node.child, 'exit')
        process.kill(node.child.pid, 'SIGKILL')
        await exited
      },
      stop,
    }
  } catch (error) {
    await stop()
    throw error
  }
}
