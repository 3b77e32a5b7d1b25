// Benchmarks (not tests): wasm size, time to an interactive board (empty and 5,000-post rooms),
// time for a 5,000-post room to reach a freshly joined peer, time from opening a room link to
// the first synced peer per transport, a large room's open time and initial sync with the
// longest main-thread block during each, and room search on 5,000 posts. Prints the figures, and
// the anchors' (the same room in automerge JS and Yjs) with the ratios when they can be run.
// Run: source scripts/setup.sh && trunk build --release && node scripts/bench.mjs
// BENCH_RUNS (default 5), BENCH_LARGE_MB (default 10; a list such as 10,50 for several rooms),
// BENCH_ANCHORS=0 to skip the anchors.
import { execFileSync } from 'node:child_process'
import { cpSync, existsSync, readdirSync, readFileSync } from 'node:fs'
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

// Every long task (a main-thread block over 50 ms) a page runs, from its document's start: the
// longest is how long the page stopped responding.
const LONG_TASKS = `(() => {
  window.__longTasks = []
  try {
    new PerformanceObserver(list => {
      for (const e of list.getEntries()) window.__longTasks.push(Math.round(e.duration))
    }).observe({ type: 'longtask', buffered: true })
  } catch {}
})()`
/** The page's longest main-thread block so far, and how many went over 200 ms. */
async function blocks (page) {
  const tasks = await page.evaluate(() => window.__longTasks ?? [])
  return { longest: Math.max(0, ...tasks), over200: tasks.filter(t => t > 200).length }
}
const blockText = b => `longest main-thread block ${b.longest} ms, ${b.over200} over 200 ms`
async function watched (name) {
  const d = await new Device(name).open()
  await d.context.addInitScript(LONG_TASKS)
  return d
}

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

const figures = {}
const signaling = new Signaling(await freePort())
await signaling.start()
const app = new App(await freePort(), [signaling.url])
await app.start()
const devices = []
try {
  const a = await watched('bench-a'); devices.push(a)
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
  let bigBlock = { longest: 0, over200: 0 }
  for (let i = 0; i < RUNS; i++) {
    big.push(await interactive(bigUrl, 5000))
    const b = await blocks(page)
    if (b.longest > bigBlock.longest) bigBlock = b
  }
  console.log(`5,000-post room interactive: ${fmt(big)}; ${blockText(bigBlock)}`)
  figures.interactive = median(big)

  // A stays in the room; fresh devices join by link and wait for all 5,000 posts.
  await page.goto(bigUrl)
  await page.locator('[data-testid=post-count]:text-is("5000")').waitFor({ timeout: WAIT * 4 })
  console.log(`room search on 5,000 posts: ${await searchBench(page)}`)
  const synced = []
  let syncBlock = { longest: 0, over200: 0 }
  for (let i = 0; i < RUNS; i++) {
    const b = await watched(`bench-b${i}`); devices.push(b)
    const pb = await b.page()
    const t0 = Date.now()
    await follow(pb, `${app.url}#/join/${room.secret}`)
    await pb.getByTestId('nav-board').click({ timeout: WAIT * 4 })
    await pb.locator('[data-testid=post-count]:text-is("5000")').waitFor({ timeout: WAIT * 4 })
    synced.push(Date.now() - t0)
    const blk = await blocks(pb)
    if (blk.longest > syncBlock.longest) syncBlock = blk
    await b.dispose()
  }
  console.log(`5,000-post room synced to a new peer: ${fmt(synced)}; new device: ${blockText(syncBlock)}`)
  figures.synced = median(synced)
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

  // Large rooms: a backup of MB megabytes of posts restored on A; its open time (navigation to an
  // interactive board), then a fresh device joins and waits for every post. The longest
  // main-thread block is taken on A while it opens and on the new device while it syncs.
  for (const MB of String(process.env.BENCH_LARGE_MB ?? 10).split(',').map(Number)) {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tequio-large-'))
    const file = path.join(dir, 'large.json')
    const large = JSON.parse(execFileSync('cargo', ['run', '--quiet', '--release', '--example', 'large_room', '--', file, String(MB)], { stdio: ['ignore', 'pipe', 'inherit'] }))
    const what = `${MB} MB of posts (${large.posts} posts, document ${large.doc_bytes} bytes)`
    const host = await watched(`bench-large-a${MB}`); devices.push(host)
    const ph = await host.page(app.url)
    await ph.getByTestId('import-file').setInputFiles(file)
    const largeUrl = `${app.url}#/room/${large.id}/board`
    await ph.locator(`[data-testid=room-link][href="#/room/${large.id}"], [data-testid=room-name]`).first().waitFor({ timeout: WAIT * 40 })
    const opens = []
    let openBlock = { longest: 0, over200: 0 }
    for (let i = 0; i < Math.min(RUNS, 3); i++) {
      await ph.goto('about:blank')
      const t0 = Date.now()
      await ph.goto(largeUrl)
      await ph.locator(`[data-testid=post-count]:text-is("${large.posts}")`).waitFor({ timeout: WAIT * 40 })
      await ph.getByRole('button', { name: 'Post', exact: true, disabled: false }).waitFor({ timeout: WAIT * 40 })
      opens.push(Date.now() - t0)
      const b = await blocks(ph)
      if (b.longest > openBlock.longest) openBlock = b
    }
    console.log(`${what} opened to an interactive board: ${fmt(opens)}; ${blockText(openBlock)}`)
    await ph.evaluate(() => { window.__longTasks = [] })
    const guest = await watched(`bench-large-b${MB}`); devices.push(guest)
    const pg = await guest.page()
    const t0 = Date.now()
    await follow(pg, `${app.url}#/join/${large.secret}`)
    await pg.getByTestId('nav-board').click({ timeout: WAIT * 40 })
    await pg.locator(`[data-testid=post-count]:text-is("${large.posts}")`).waitFor({ timeout: WAIT * 200 })
    const ms = Date.now() - t0
    console.log(`${what} synced to a new peer: ${ms} ms (${(large.doc_bytes / 1e6 / (ms / 1000)).toFixed(1)} MB/s of document); new device: ${blockText(await blocks(pg))}; sending device: ${blockText(await blocks(ph))}`)
    await guest.dispose()
    await host.dispose()
    await rm(dir, { recursive: true, force: true })
  }
} finally {
  for (const d of devices) await d.dispose().catch(() => {})
  await app.stop()
  await signaling.stop()
}

// The anchors: the same 5,000-post room in automerge JS and in Yjs (../shared/anchors), measured
// in this run so the ratios compare like with like. Copied to target/anchors and installed from
// its own lock file the first time.
const anchorSource = path.resolve('../shared/anchors/automerge-js')
if (process.env.BENCH_ANCHORS !== '0' && existsSync(anchorSource)) {
  const here = path.resolve('target/anchors/automerge-js')
  if (!existsSync(path.join(here, 'node_modules'))) {
    cpSync(anchorSource, here, { recursive: true })
    execFileSync('chmod', ['-R', 'u+w', here])
    execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: here, stdio: ['ignore', 'ignore', 'inherit'] })
  }
  const runs = String(Math.min(RUNS, 3))
  const anchor = engine => JSON.parse(execFileSync('node', ['run.mjs', '5000', runs, engine], { cwd: here, stdio: ['ignore', 'pipe', 'inherit'] }))
  const yjs = anchor('yjs')
  const am = anchor('automerge')
  const ratio = (ours, theirs) => `${(ours / theirs).toFixed(2)}×`
  console.log(`anchor ${yjs.anchor}: code ${yjs.js_gzip_bytes} B gzipped; open nav→rendered ${yjs.open_nav_to_rendered_ms_median} ms; nav→synced ${yjs.nav_to_synced_saved_rendered_ms_median} ms`)
  console.log(`anchor ${am.anchor}: wasm ${am.wasm_gzip_bytes} B gzipped; open nav→rendered ${am.open_nav_to_rendered_ms_median} ms; nav→synced ${am.nav_to_synced_saved_rendered_ms_median} ms`)
  console.log(`Tequio ÷ Yjs: 5,000-post room interactive ${ratio(figures.interactive, yjs.open_nav_to_rendered_ms_median)} (target ≤ 1.0×); synced to a new device ${ratio(figures.synced, yjs.nav_to_synced_saved_rendered_ms_median)} (target ≤ 1.5×)`)
}
