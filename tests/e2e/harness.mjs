// Shared set-up for the end-to-end tests: the release build served on 127.0.0.1, the real
// y-webrtc signaling server on 127.0.0.1, and each device a separate Chromium process with its
// own profile directory (so IndexedDB survives closing and reopening "the browser").
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium'
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-dev-shm-usage']
export const WAIT = 15_000

/** A free TCP port on 127.0.0.1. */
export async function freePort () {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

async function waitForPort (port, child, what) {
  const deadline = Date.now() + WAIT
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`)
    const ok = await new Promise(resolve => {
      const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true) })
      s.once('error', () => resolve(false))
    })
    if (ok) return
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  throw new Error(`${what} did not listen on ${port} within ${WAIT} ms`)
}

function startNode (args, env, what) {
  const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] })
  child.what = what
  return child
}

async function stopChild (child) {
  if (!child || child.exitCode !== null) return
  const exited = new Promise(resolve => child.once('exit', resolve))
  child.kill('SIGTERM')
  await exited
}

/** The real y-webrtc signaling server; stop() and start() again on the same port. */
export class Signaling {
  constructor (port) { this.port = port; this.child = null }
  get url () { return `ws://127.0.0.1:${this.port}` }
  async start () {
    this.child = startNode(['scripts/signaling-server.mjs'], { PORT: String(this.port) }, 'signaling server')
    await waitForPort(this.port, this.child, 'signaling server')
  }
  async stop () { await stopChild(this.child); this.child = null }
}

/**
 * A real Nostr relay (the Python `nostr-relay` package, installed into .venv by
 * scripts/setup.sh), its database in a temporary directory, on 127.0.0.1; stop() and start() again on the same port.
 */
export class NostrRelay {
  constructor (port) { this.port = port; this.child = null; this.dir = null }
  get url () { return `ws://127.0.0.1:${this.port}` }
  async start () {
    if (!this.dir) this.dir = await mkdtemp(path.join(os.tmpdir(), 'tequio-relay-'))
    const conf = path.join(this.dir, 'relay.yaml')
    await writeFile(conf, [
      'max_event_size: 65536',
      'storage:',
      '  sqlalchemy.url: "sqlite+aiosqlite:///relay.sqlite3"',
      '  validators: [nostr_relay.validators.is_not_too_large, nostr_relay.validators.is_signed, nostr_relay.validators.is_recent]',
      'gunicorn:',
      `  bind: 127.0.0.1:${this.port}`,
      'logging:',
      '  version: 1',
      '  root: {level: WARNING}',
    ].join('\n') + '\n')
    this.child = spawn(path.join(root, '.venv/bin/nostr-relay'), ['-c', conf, 'serve', '--use-uvicorn'],
      { cwd: this.dir, stdio: ['ignore', 'ignore', 'ignore'] })
    this.child.what = 'nostr relay'
    await waitForPort(this.port, this.child, 'nostr relay')
  }
  async stop () {
    const child = this.child
    this.child = null
    if (!child || child.exitCode !== null) return
    const exited = new Promise(resolve => child.once('exit', resolve))
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 3_000)
    await exited
    clearTimeout(timer)
  }
  /** The relay loses everything it held (its database deleted) and starts again empty. */
  async forget () {
    await this.stop()
    for (const f of ['relay.sqlite3', 'relay.sqlite3-wal', 'relay.sqlite3-shm']) await rm(path.join(this.dir, f), { force: true })
    await this.start()
  }
  async dispose () { await this.stop(); if (this.dir) await rm(this.dir, { recursive: true, force: true }) }
}

/**
 * The release build (dist/) on 127.0.0.1 with a config.json: a list of y-webrtc signaling
 * server URLs, or a whole network configuration ({ signaling, nostr, mesh_limit, ... }).
 */
export class App {
  constructor (port, config, dir = 'dist') {
    this.port = port
    this.config = Array.isArray(config) ? { signaling: config } : config
    this.dir = dir
  }
  get url () { return `http://127.0.0.1:${this.port}/` }
  async start () {
    const config = JSON.stringify({ ice_servers: [], ...this.config })
    this.child = startNode(['scripts/static-server.mjs', this.dir, String(this.port), config], {}, 'static server')
    await waitForPort(this.port, this.child, 'static server')
  }
  async stop () { await stopChild(this.child) }
}

/** One device: a Chromium process with a persistent profile that can be closed and reopened. */
export class Device {
  constructor (name, options = {}) { this.name = name; this.options = options; this.dir = null; this.context = null; this.logs = [] }
  async open () {
    if (!this.dir) this.dir = await mkdtemp(path.join(os.tmpdir(), `tequio-e2e-${this.name}-`))
    this.context = await chromium.launchPersistentContext(this.dir, {
      executablePath: CHROMIUM, headless: true, args: FLAGS, acceptDownloads: true, permissions: ['clipboard-read', 'clipboard-write'],
      ...this.options,
    })
    return this
  }
  async page (url) {
    const page = this.context.pages()[0] ?? await this.context.newPage()
    return this.watch(page, url)
  }
  async newPage (url) { return this.watch(await this.context.newPage(), url) }
  async watch (page, url) {
    page.on('console', m => this.logs.push(`[${this.name}] ${m.type()}: ${m.text()}`))
    page.on('pageerror', e => this.logs.push(`[${this.name}] pageerror: ${e.message}`))
    if (url) await follow(page, url)
    return page
  }
  async close () { if (this.context) await this.context.close(); this.context = null }
  async dispose () { await this.close(); if (this.dir) await rm(this.dir, { recursive: true, force: true }) }
}

// --- what a person does in the app ------------------------------------------------------------

/**
 * Opens `url` on `page`; a join link to a room not on the device asks first, and the person
 * says yes.
 */
export async function follow (page, url) {
  await page.goto(url)
  if (!url.includes('#/join/')) return
  const confirm = page.getByTestId('join-confirm')
  await confirm.or(page.getByTestId('room-name')).or(page.getByTestId('join-error')).first()
    .waitFor({ timeout: WAIT })
  if (await confirm.isVisible()) await confirm.click()
}

export async function createRoom (page, name, me = 'Ana') {
  await page.getByLabel('Room name').fill(name)
  await page.getByLabel('Your name in this room').fill(me)
  await page.getByRole('button', { name: 'Create a room' }).click()
  await page.getByTestId('room-name').filter({ hasText: name }).waitFor({ timeout: WAIT })
}

/** Opens a section of the open room from its menu ('board', 'members', 'decisions', ...). */
export async function section (page, name) {
  const nav = page.getByTestId(`nav-${name}`)
  await nav.waitFor({ state: 'attached', timeout: WAIT })
  if ((await nav.getAttribute('aria-current')) !== 'page') {
    // On a phone, sections other than the most used are behind "More".
    if (!(await nav.isVisible())) await page.getByTestId('nav-more').click()
    await nav.click()
  }
  await page.locator(`[data-testid=nav-${name}][aria-current=page]`).waitFor({ state: 'attached', timeout: WAIT })
}

/** Waits until the Members section says this device is `tag` (stranger, pending, admitted, ...). */
export async function standing (page, tag) {
  await page.locator(`[data-testid=standing][data-standing=${tag}]`).waitFor({ timeout: WAIT })
}

/**
 * A newcomer opens the room link on `page`, introduces themselves as `name`, and `voucher` (an
 * admitted member's page) vouches for them — enough while the room has one or two members.
 */
export async function joinAndBeVouched (page, link, roomName, name, voucher) {
  await follow(page, link)
  await page.getByTestId('room-name').filter({ hasText: roomName }).waitFor({ timeout: WAIT })
  await section(page, 'members')
  await page.getByTestId('profile-name').fill(name)
  await page.getByTestId('profile-save').click()
  await standing(page, 'pending')
  await section(voucher, 'members')
  await voucher.locator(`[data-testid=pending-member][data-name=${name}]`).getByTestId('vouch').click()
  await standing(page, 'admitted')
}

/**
 * The servers a test file needs (the real signaling server and the static app), started before
 * its tests and stopped after, with the devices it opens; `withLogs` prints their consoles when a
 * test fails.
 */
export function useServers ({ dir = 'dist', before, after, prepare = async () => dir } = {}) {
  const ctx = { signaling: null, app: null, devices: [] }
  before(async () => {
    ctx.signaling = new Signaling(await freePort())
    await ctx.signaling.start()
    ctx.app = new App(await freePort(), [ctx.signaling.url], await prepare())
    await ctx.app.start()
  })
  after(async () => {
    for (const d of ctx.devices) await d.dispose().catch(() => {})
    await ctx.app?.stop()
    await ctx.signaling?.stop()
  })
  ctx.device = (name, options) => { const d = new Device(name, options); ctx.devices.push(d); return d }
  ctx.withLogs = async fn => {
    try { await fn() } catch (e) {
      for (const d of ctx.devices) console.error(d.logs.slice(-40).join('\n'))
      throw e
    }
  }
  return ctx
}

export async function shareLink (page) {
  if (!(await page.getByTestId('share-link').isVisible())) {
    await page.getByRole('button', { name: 'Share' }).click()
  }
  return page.getByTestId('share-link').inputValue()
}

export async function post (page, { kind = 'need', title, description = '', category = 'Goods' }) {
  await section(page, 'board')
  await page.getByLabel(kind === 'need' ? 'Need' : 'Offer', { exact: true }).check()
  await page.getByLabel('Title', { exact: true }).fill(title)
  await page.getByLabel('Description', { exact: true }).fill(description)
  await page.getByLabel('Category', { exact: true }).selectOption(category)
  await page.getByRole('button', { name: 'Post', exact: true }).click()
  await postItem(page, title).waitFor({ timeout: WAIT })
  await saved(page)
}

export function postItem (page, title) {
  return page.locator(`[data-testid=post][data-title="${title.replace(/["\\]/g, '\\$&')}"]`)
}

/** Records money in or out (or an expense request) in the named pot and waits for its line. */
export async function recordInPot (page, potName, kind, amount, memo) {
  const pot = page.locator(`[data-testid=pot][data-name="${potName}"]`)
  await pot.getByTestId(`record-kind-${kind}`).check()
  await pot.getByTestId('record-amount').fill(amount)
  await pot.getByTestId('record-memo').fill(memo)
  await pot.getByTestId('record').click()
  await pot.locator(`[data-testid=line][data-memo="${memo}"]`).waitFor({ timeout: WAIT })
  return pot
}

/** Waits until the page says every change is committed to IndexedDB. */
export async function saved (page) {
  await page.locator('[data-testid=save-state][data-state=saved]').waitFor({ timeout: WAIT })
}

export async function peers (page, n) {
  await page.locator(`[data-testid=peer-count][data-count="${n}"]`).waitFor({ timeout: WAIT })
}

export async function titles (page) {
  await section(page, 'board')
  return (await page.locator('[data-testid=post]').evaluateAll(els => els.map(e => e.dataset.title))).sort()
}

/** Waits (bounded) until the board shows exactly these titles. */
export async function boardIs (page, expected) {
  const want = [...expected].sort()
  const deadline = Date.now() + WAIT
  let got
  while (Date.now() < deadline) {
    got = await titles(page)
    if (JSON.stringify(got) === JSON.stringify(want)) return
    await page.waitForTimeout(50)
  }
  throw new Error(`board shows ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`)
}

export async function descriptionOf (page, title) {
  await section(page, 'board')
  return postItem(page, title).getByTestId('post-description').innerText()
}

export async function editDescription (page, title, text) {
  await section(page, 'board')
  const item = postItem(page, title)
  await item.getByRole('button', { name: 'Edit' }).click()
  await item.getByTestId('edit-description').fill(text)
  await item.getByRole('button', { name: 'Save' }).click()
  await postItem(page, title).getByTestId('post-description').filter({ hasText: text }).waitFor({ timeout: WAIT })
  await saved(page)
}

/** Reads the QR code shown by `locator`, as a phone camera would: from its pixels. */
export async function decodeQr (locator) {
  const { PNG } = await import('pngjs')
  const { default: jsQR } = await import('jsqr')
  const png = PNG.sync.read(await locator.screenshot())
  const found = jsQR(new Uint8ClampedArray(png.data), png.width, png.height)
  if (!found) throw new Error('no QR code could be read from the screen')
  return found.data
}

export async function waitFor (what, check) {
  const deadline = Date.now() + WAIT
  let last
  while (Date.now() < deadline) {
    last = await check()
    if (last === true) return
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`)
}

/**
 * Every event a Nostr relay holds (asked for over its own protocol, as any client would), up to
 * 5,000: what the relay's operator can see.
 */
export async function relayEvents (relay) {
  const { default: WebSocket } = await import('ws')
  const ws = new WebSocket(relay.url)
  const events = []
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the relay did not answer')), WAIT)
    ws.on('error', reject)
    ws.on('open', () => ws.send(JSON.stringify(['REQ', 'all', { since: 0, limit: 5000 }])))
    ws.on('message', data => {
      const msg = JSON.parse(data.toString())
      if (msg[0] === 'EVENT') events.push(msg[2])
      if (msg[0] === 'EOSE') { clearTimeout(timer); resolve() }
    })
  })
  ws.close()
  return events
}

/**
 * What a test file starts and opens — servers (relays, signaling servers, apps) and devices —
 * stopped after its tests, with `withLogs` printing the devices' consoles when a test fails.
 * `servers` are started before the tests, in order.
 */
export function fleet (before, after, servers = () => []) {
  const started = []
  const devices = []
  const ctx = {
    started,
    async start (server) { started.push(server); await server.start(); return server },
    async app (config) { return ctx.start(new App(await freePort(), config)) },
    async device (name, options) { const d = new Device(name, options); devices.push(d); return d.open() },
    async withLogs (fn) {
      try { await fn() } catch (e) {
        for (const d of devices) console.error(d.logs.slice(-30).join('\n'))
        throw e
      }
    },
  }
  before(async () => { for (const s of await servers()) await ctx.start(s) })
  after(async () => {
    for (const d of devices) await d.dispose().catch(() => {})
    for (const s of started.reverse()) await (s.dispose ?? s.stop).call(s).catch(() => {})
  })
  return ctx
}

// --- accessibility --------------------------------------------------------------------------

let axeSource
/**
 * Runs axe-core (node_modules/axe-core) on what `page` shows and returns its WCAG 2.1 A and AA
 * violations, each as { id, impact, help, nodes: [{ target, html }] }. axe is evaluated over the
 * DevTools protocol, which the app's Content-Security-Policy does not govern, so the policy stays
 * as shipped (no inline script is added to the page).
 */
export async function axeViolations (page) {
  axeSource ??= await readFile(path.join(root, 'node_modules/axe-core/axe.min.js'), 'utf8')
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(axeSource)
  return page.evaluate(async () => {
    const { violations } = await window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
      resultTypes: ['violations'],
    })
    return violations.map(v => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map(n => ({ target: n.target.join(' '), html: n.html.replace(/\s+/g, ' ').slice(0, 160) })),
    }))
  })
}

/** Fails, saying which rule, where and on what markup, if axe finds any WCAG 2.1 A/AA violation. */
export async function checkA11y (page, where) {
  const violations = await axeViolations(page)
  if (!violations.length) return
  const lines = violations.flatMap(v => [`${v.id} (${v.impact}): ${v.help}`,
    ...v.nodes.slice(0, 5).map(n => `    at ${n.target}: ${n.html}`),
    ...(v.nodes.length > 5 ? [`    … and ${v.nodes.length - 5} more`] : [])])
  throw new Error(`${where}: ${violations.length} kind(s) of WCAG 2.1 A/AA violation\n  ${lines.join('\n  ')}`)
}

/**
 * Inputs, selects and text areas narrower than what they show: a value that scrolls inside its
 * box, a select whose chosen option is wider than the select, a date or time input whose text is
 * cut off. Returns a description of each.
 */
export async function narrowInputs (page) {
  return page.evaluate(() => {
    const out = []
    const canvas = document.createElement('canvas').getContext('2d')
    const textWidth = (el, text) => {
      const s = getComputedStyle(el)
      canvas.font = `${s.fontStyle} ${s.fontWeight} ${s.fontSize} ${s.fontFamily}`
      return canvas.measureText(text).width
    }
    const inner = el => {
      const s = getComputedStyle(el)
      return el.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight)
    }
    const describe = el => `${el.outerHTML.replace(/\s+/g, ' ').slice(0, 120)}`
    for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
      if (!el.getClientRects().length) continue
      const type = el.tagName === 'INPUT' ? el.type : el.tagName.toLowerCase()
      if (['checkbox', 'radio', 'range', 'color', 'file', 'submit', 'button', 'reset', 'image'].includes(type)) continue
      if (type === 'select') {
        // Room for the chosen option's text and for the arrow (about one line's height).
        const option = el.selectedOptions[0]
        if (!option) continue
        const need = textWidth(el, option.text) + parseFloat(getComputedStyle(el).fontSize)
        if (need > inner(el) + 1) out.push(`${describe(el)} shows "${option.text}" in ${inner(el)}px, needs ${Math.ceil(need)}px`)
      } else if (['date', 'time', 'datetime-local', 'month', 'week'].includes(type)) {
        // The shown text (e.g. "mm/dd/yyyy" or "12/01/2026, 07:30 PM") and the picker icon.
        const shown = type === 'time' ? '00:00 PM' : type === 'date' ? '00/00/0000' : type === 'datetime-local' ? '00/00/0000, 00:00 PM' : type === 'month' ? 'September 0000' : 'Week 00, 0000'
        const need = textWidth(el, shown) + 1.5 * parseFloat(getComputedStyle(el).fontSize)
        if (need > inner(el) + 1) out.push(`${describe(el)} is ${inner(el)}px wide inside, its "${shown}" needs ${Math.ceil(need)}px`)
      } else if (type === 'textarea') {
        if (el.scrollWidth > el.clientWidth + 1) out.push(`${describe(el)} scrolls sideways (${el.scrollWidth}px in ${el.clientWidth}px)`)
        // What a person cannot change (a link to copy) shows whole.
        if (el.readOnly && el.scrollHeight > el.clientHeight + 1) out.push(`${describe(el)} hides part of its text (${el.scrollHeight}px in ${el.clientHeight}px)`)
      } else if (el.value || el.placeholder) {
        const text = el.value || el.placeholder
        const need = textWidth(el, type === 'number' ? text + '00' : text)
        if (el.scrollWidth > el.clientWidth + 1 || (type === 'number' && need > inner(el) + 1)) {
          out.push(`${describe(el)} shows "${text.slice(0, 40)}" in ${inner(el)}px, needs ${Math.ceil(need)}px`)
        }
      }
    }
    return out
  })
}
