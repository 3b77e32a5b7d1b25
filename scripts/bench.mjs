// Benchmarks (not tests): wasm size, time to an interactive board (empty and 5,000-post rooms),
// time for a 5,000-post room to reach a freshly joined peer, time from opening a room link to
// the first synced peer per transport, the initial sync of a large room, and room search on 5,000
// posts. Prints the figures.
// Run: source scripts/setup.sh && trunk build --release && node scripts/bench.mjs
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { brotliCompressSync, constants, gzipSync } from 'node:zlib'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { benchRoom, storeRoom } from './bench-room.mjs'
import { App, Device, NostrRelay, Signaling, createRoom, follow, freePort, WAIT } from '../tests/e2e/harness.mjs'

const RUNS = Number(process.env.BENCH_RUNS ?? 5)
const median = xs => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const fmt = xs => `median ${median(xs)} ms (runs: ${xs.join(', ')})`

// Each wasm the build ships (the app, and the catch-up worker the service worker loads), raw,
// gzipped and with brotli (what static hosts that serve it send).
for (const wasm of readdirSync('dist').filter(f => f.endsWith('.wasm')).sort()) {
  const bytes = readFileSync(`dist/${wasm}`)
  const brotli = brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length
  console.log(`${wasm}: ${bytes.length} bytes raw, ${gzipSync(bytes, { level: 9 }).length} gzipped, ${brotli} with brotli`)
}

const room = benchRoom(5000)

/**
 * Room search on the open 5,000-post room: from typing a first word (the index is built, the
 * query run, the results shown) and from changing it (the query alone), to the results shown.
 */
async function searchBench (page) {
  const field = page.getByRole('searchbox', { name: 'Search this room' })
  const first = []
  const next = []
  for (let i = 0; i < RUNS; i++) {
    await field.fill('')
    await page.getByTestId('search-results').waitFor({ state: 'detached', timeout: WAIT })
    let t0 = Date.now()
    await field.fill(`number ${i}`)
    await page.getByTestId('search-result').first().waitFor({ timeout: WAIT })
    first.push(Date.now() - t0)
    t0 = Date.now()
    await field.fill(`number ${4990 + i}`)
    await page.locator(`[data-testid=search-result]:has-text("Post number ${4990 + i}")`).first().waitFor({ timeout: WAIT })
    next.push(Date.now() - t0)
  }
  await field.fill('')
  return `first word ${fmt(first)}; next word ${fmt(next)}`
}

const signaling = new Signaling(await freePort())
await signaling.start()
const app = new App(await freePort(), [signaling.url])
await app.start()
const devices = []
try {
  const a = await new Device('bench-a').open(); devices.push(a)
  const page = await a.page(app.url)
  await createRoom(page, 'Empty room')
  // The board section of the room (a room opens on its home).
  const emptyUrl = page.url().replace(/\/$/, '') + '/board'
  await page.goto(emptyUrl)

  /** ms from navigation start to the board's form being usable and the list rendered. */
  async function interactive (url, count) {
    await page.goto('about:blank')
    const t0 = Date.now()
    await page.goto(url)
    await page.locator(`[data-testid=post-count]:text-is("${count}")`).waitFor({ timeout: WAIT * 4 })
    await page.getByRole('button', { name: 'Post', exact: true, disabled: false }).waitFor()
    return Date.now() - t0
  }
  const empty = []
  for (let i = 0; i < RUNS; i++) empty.push(await interactive(emptyUrl, 0))
  console.log(`empty room interactive: ${fmt(empty)}`)

  async function shareLinkOf (p) {
    await p.getByRole('button', { name: 'Share' }).click()
    return p.getByTestId('share-link').inputValue()
  }

  // A post made on one device, until another connected device shows it.
  {
    const b = await new Device('bench-live').open(); devices.push(b)
    const pb = await b.page(`${app.url}#/join/${new URL(await shareLinkOf(page)).hash.slice('#/join/'.length)}`)
    await pb.locator('[data-testid=peer-count][data-count="1"]').waitFor({ timeout: WAIT })
    await pb.getByTestId('nav-board').click()
    const live = []
    for (let i = 0; i < RUNS; i++) {
      const title = `Live ${i}`
      await page.getByLabel('Title', { exact: true }).fill(title)
      const t0 = Date.now()
      await page.getByRole('button', { name: 'Post', exact: true }).click()
      await pb.locator(`[data-testid=post][data-title="${title}"]`).waitFor({ timeout: WAIT })
      live.push(Date.now() - t0)
    }
    console.log(`a post reaching a connected peer: ${fmt(live)}`)
    await b.dispose()
  }

  // Put the 5,000-post room into this device's IndexedDB, as the app itself stores rooms.
  await storeRoom(page, room)
  const bigUrl = `${app.url}#/room/${room.id}/board`
  const big = []
  for (let i = 0; i < RUNS; i++) big.push(await interactive(bigUrl, 5000))
  console.log(`5,000-post room interactive: ${fmt(big)}`)

  // A stays in the room; fresh devices join by link and wait for all 5,000 posts.
  await page.goto(bigUrl)
  await page.locator('[data-testid=post-count]:text-is("5000")').waitFor({ timeout: WAIT * 4 })
  console.log(`room search on 5,000 posts: ${await searchBench(page)}`)
  const synced = []
  for (let i = 0; i < RUNS; i++) {
    const b = await new Device(`bench-b${i}`).open(); devices.push(b)
    const pb = await b.page()
    const t0 = Date.now()
    await follow(pb, `${app.url}#/join/${room.secret}`)
    await pb.getByTestId('nav-board').click({ timeout: WAIT * 4 })
    await pb.locator('[data-testid=post-count]:text-is("5000")').waitFor({ timeout: WAIT * 4 })
    synced.push(Date.now() - t0)
    await b.dispose()
  }
  console.log(`5,000-post room synced to a new peer: ${fmt(synced)}`)
  await a.dispose()

  // Opening a room link to the first synced peer, per transport: A waits in a fresh room; B
  // (a fresh Chromium process, or for the BroadcastChannel a second tab of A's browser) opens
  // the link; until B's header says it holds everything its one peer has.
  const relay = new NostrRelay(await freePort())
  await relay.start()
  const transports = [
    ['y-webrtc signaling server', { signaling: [signaling.url] }],
    ['Nostr relay', { nostr: [relay.url] }],
    ['BroadcastChannel (tabs of one browser)', {}],
  ]
  for (const [label, config] of transports) {
    const served = new App(await freePort(), config)
    await served.start()
    const times = []
    for (let i = 0; i < RUNS; i++) {
      const host = await new Device(`bench-t${i}`).open(); devices.push(host)
      const ph = await host.page(served.url)
      await createRoom(ph, `Transport ${i}`)
      const link = (await shareLinkOf(ph)).replace(/^[^#]*/, served.url)
      const tab = label.startsWith('Broadcast')
      const guest = tab ? host : await new Device(`bench-g${i}`).open()
      if (!tab) devices.push(guest)
      const pg = tab ? await guest.newPage() : await guest.page()
      const t0 = Date.now()
      await follow(pg, link)
      await pg.locator('[data-testid=sync-state][data-in-sync="1"][data-behind="0"]').waitFor({ timeout: WAIT * 2 })
      times.push(Date.now() - t0)
      await guest.dispose()
      if (!tab) await host.dispose()
    }
    console.log(`room link to first synced peer, ${label}: ${fmt(times)}`)
    await served.stop()
  }
  await relay.dispose()

  // A large room's initial sync: a backup of MB megabytes of posts restored on A, then a fresh
  // device joins and waits for every post.
  const MB = Number(process.env.BENCH_LARGE_MB ?? 10)
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tequio-large-'))
  const file = path.join(dir, 'large.json')
  const large = JSON.parse(execFileSync('cargo', ['run', '--quiet', '--release', '--example', 'large_room', '--', file, String(MB)], { stdio: ['ignore', 'pipe', 'inherit'] }))
  const host = await new Device('bench-large-a').open(); devices.push(host)
  const ph = await host.page(app.url)
  await ph.getByTestId('import-file').setInputFiles(file)
  const largeUrl = `${app.url}#/room/${large.id}/board`
  await ph.locator(`[data-testid=room-link][href="#/room/${large.id}"], [data-testid=room-name]`).first().waitFor({ timeout: WAIT * 8 })
  await ph.goto(largeUrl)
  await ph.locator(`[data-testid=post-count]:text-is("${large.posts}")`).waitFor({ timeout: WAIT * 8 })
  const guest = await new Device('bench-large-b').open(); devices.push(guest)
  const pg = await guest.page()
  const t0 = Date.now()
  await follow(pg, `${app.url}#/join/${large.secret}`)
  await pg.getByTestId('nav-board').click({ timeout: WAIT * 8 })
  await pg.locator(`[data-testid=post-count]:text-is("${large.posts}")`).waitFor({ timeout: WAIT * 40 })
  const ms = Date.now() - t0
  console.log(`${MB} MB of posts (${large.posts} posts, document ${large.doc_bytes} bytes) synced to a new peer: ${ms} ms (${(large.doc_bytes / 1e6 / (ms / 1000)).toFixed(1)} MB/s of document)`)
  await rm(dir, { recursive: true, force: true })
} finally {
  for (const d of devices) await d.dispose().catch(() => {})
  await app.stop()
  await signaling.stop()
}
