// Preloaded into an app process that follows a test clock (test/support/clock.ts):
// `node --import <this file's URL> …` with an IPC channel. Its Date.now() is real time plus an
// offset: the one in CODEFLOW_TEST_CLOCK_OFFSET at start, then each one the test sends, which is
// acknowledged once applied. The core's default clock reads Date.now() at call time, so every
// time-based decision of the app follows; `new Date()`, timers and monotonic clocks do not.
const realNow = Date.now
let offset = Number(process.env.CODEFLOW_TEST_CLOCK_OFFSET ?? '0')
if (!Number.isFinite(offset)) throw new Error('CODEFLOW_TEST_CLOCK_OFFSET is not a number')

Date.now = () => realNow() + offset

function reply(type, seq) {
  process.send?.({ type, seq, pid: process.pid, now: Date.now() })
}

process.on('message', (message) => {
  if (message?.type !== 'codeflow-test-clock' || !Number.isFinite(message.offset)) return
  offset = message.offset
  reply('codeflow-test-clock-ack', message.seq)
})
// the channel must not keep the process alive once the server has stopped
process.channel?.unref()
reply('codeflow-test-clock-ready')
