// `next start` of the built example, bound to HOST (by default 127.0.0.1: a loopback address, as
// every example) on PORT: `next start` alone listens on every interface. Runs Next's own CLI in
// this process, so that the server's process is this one.
const host = process.env.HOST || '127.0.0.1'
process.argv = [process.argv[0], 'next', 'start', '--hostname', host, ...process.argv.slice(2)]
await import('next/dist/bin/next')
