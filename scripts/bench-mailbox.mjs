// Benchmark (not a test): a fresh device catching up the 5,000-post room from a Nostr relay
// alone, no peer online. Device A holds the room (built by examples/bench_room.rs, stored into
// IndexedDB as the app stores rooms), opens it with only a relay configured, leaves the week's
// snapshot there and closes; then fresh Chromium processes open the join link. Prints the
// figures. Run: source scripts/setup.sh && trunk build --release && node scripts/bench-mailbox.mjs
import { benchRoom, storeRoom } from './bench-room.mjs'
import { App, Device, NostrRelay, WAIT, follow, freePort, relayEvents } from '../tests/e2e/harness.mjs'

const RUNS = Number(process.env.BENCH_RUNS ?? 5)
const median = xs => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const fmt = xs => `median ${median(xs)} ms (runs: ${xs.join(', ')})`

const room = benchRoom(5000)
const relay = new NostrRelay(await freePort())
await relay.start()
const app = new App(await freePort(), { nostr: [relay.url] })
await app.start()
const devices = []
try {
  const a = await new Device('mail-a').open(); devices.push(a)
  const page = await a.page(app.url)
  await storeRoom(page, room)
  // A opens the room: it finds no snapshot of this week on the relay and leaves one.
  const t0 = Date.now()
  await page.goto(`${app.url}#/room/${room.id}/board`)
  await page.locator('[data-testid=post-count]:text-is("5000")').waitFor({ timeout: WAIT * 4 })
  await page.locator('[data-testid=mail-state][data-state=sent][data-count="1"]').waitFor({ timeout: WAIT * 8 })
  console.log(`opening the room until its snapshot is stored at the relay: ${Date.now() - t0} ms`)
  await a.dispose()

  const events = (await relayEvents(relay)).filter(e => e.kind < 20000)
  const stored = events.reduce((n, e) => n + JSON.stringify(e).length, 0)
  console.log(`at the relay: ${events.length} mailbox events, ${stored} bytes of events (sent to it by A, read from it by each new device)`)

  const times = []
  for (let i = 0; i < RUNS; i++) {
    const b = await new Device(`mail-b${i}`).open(); devices.push(b)
    const pb = await b.page()
    const t1 = Date.now()
    await follow(pb, `${app.url}#/join/${room.secret}`)
    await pb.getByTestId('nav-board').click({ timeout: WAIT * 4 })
    await pb.locator('[data-testid=post-count]:text-is("5000")').waitFor({ timeout: WAIT * 4 })
    times.push(Date.now() - t1)
    await b.dispose()
  }
  console.log(`5,000-post room caught up from the relay alone: ${fmt(times)}`)
} finally {
  for (const d of devices) await d.dispose().catch(() => {})
  await app.stop()
  await relay.dispose()
}
