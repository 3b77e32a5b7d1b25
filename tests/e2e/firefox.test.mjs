// End-to-end in Firefox ESR: Debian's firefox-esr, headless, driven over W3C WebDriver by
// geckodriver (both installed by scripts/setup.sh), with a fresh profile kept off the network.
// Firefox creates a room and posts; a Chromium device joins by the share link and sees the post
// over real WebRTC through the real signaling server (no relay: there is no other way); Chromium
// posts and Firefox sees it. Firefox's controls are found by their visible labels.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { WAIT, boardIs, freePort, peers, post, useServers, waitFor } from './harness.mjs'

const FIREFOX = process.env.FIREFOX ?? '/usr/bin/firefox-esr'
const cargoBin = path.join(os.homedir(), '.cargo/bin/geckodriver')
const GECKODRIVER = process.env.GECKODRIVER ?? (existsSync(cargoBin) ? cargoBin : 'geckodriver')
// Starting Firefox with a new profile takes a few seconds, more on a busy machine.
const START = 60_000

// Off the network: no updates, telemetry, studies, captive-portal or connectivity checks,
// safe-browsing lists or download checks, add-on lists, DNS over HTTPS, prefetching, geolocation
// or region lookups, no OpenH264 download (geckodriver and Marionette set several of these too,
// and point remote settings at a dummy server). WebRTC with no STUN server: host candidates
// written as addresses, not mDNS names, so the other browser needs no multicast DNS to reach
// this one (it connects to this host's own address), and loopback candidates offered as well.
const PREFS = {
  'app.update.disabledForTesting': true,
  'app.update.auto': false,
  'app.normandy.enabled': false,
  'messaging-system.rsexperimentloader.enabled': false,
  'app.shield.optoutstudies.enabled': false,
  'browser.shell.checkDefaultBrowser': false,
  'browser.startup.page': 0,
  'browser.startup.homepage': 'about:blank',
  'browser.newtabpage.enabled': false,
  'browser.aboutwelcome.enabled': false,
  'browser.search.update': false,
  'browser.region.network.url': '',
  'browser.region.update.enabled': false,
  'browser.safebrowsing.malware.enabled': false,
  'browser.safebrowsing.phishing.enabled': false,
  'browser.safebrowsing.blockedURIs.enabled': false,
  'browser.safebrowsing.downloads.enabled': false,
  'browser.safebrowsing.downloads.remote.enabled': false,
  'browser.safebrowsing.provider.google.updateURL': '',
  'browser.safebrowsing.provider.google4.updateURL': '',
  'browser.safebrowsing.provider.mozilla.updateURL': '',
  'browser.ping-centre.telemetry': false,
  'browser.newtabpage.activity-stream.feeds.telemetry': false,
  'browser.newtabpage.activity-stream.telemetry': false,
  'datareporting.policy.dataSubmissionEnabled': false,
  'datareporting.healthreport.uploadEnabled': false,
  'toolkit.telemetry.enabled': false,
  'toolkit.telemetry.unified': false,
  'toolkit.telemetry.archive.enabled': false,
  'toolkit.telemetry.server': '',
  'network.captive-portal-service.enabled': false,
  'captivedetect.canonicalURL': '',
  'network.connectivity-service.enabled': false,
  'network.trr.mode': 5,
  'network.dns.disablePrefetch': true,
  'network.prefetch-next': false,
  'network.http.speculative-parallel-limit': 0,
  'network.proxy.type': 0,
  'extensions.update.enabled': false,
  'extensions.getAddons.cache.enabled': false,
  'extensions.blocklist.enabled': false,
  'extensions.systemAddon.update.enabled': false,
  'media.gmp-manager.updateEnabled': false,
  'media.gmp-gmpopenh264.enabled': false,
  'geo.provider.network.url': '',
  'identity.fxaccounts.enabled': false,
  'media.peerconnection.ice.loopback': true,
  'media.peerconnection.ice.obfuscate_host_addresses': false,
  // The page's console on Firefox's stdout, kept for the failure report.
  'devtools.console.stdout.content': true,
}

// Firefox's own switch for its test runs: with it, a release build honours the dummy
// remote-settings server instead of looking up Mozilla's (seen with strace: without it, Firefox
// resolves its remote-settings host; with it, it connects to nothing but this host's addresses).
const ENV = { MOZ_CRASHREPORTER_DISABLE: '1', MOZ_DISABLE_NONLOCAL_CONNECTIONS: '1' }

const ELEMENT = 'element-6066-11e4-a52e-4f735466cecf'

// Finds a visible control the way a person does: a form control by its label's own text (or
// aria-label), a button by its name, a link by its text. Run in the page.
const FIND = `
const [kind, name, within] = arguments
const norm = s => (s ?? '').replace(/\\s+/g, ' ').trim()
const shown = el => !!el && el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden'
const scope = within ? document.querySelector(within) : document
if (!scope) return null
if (kind === 'label') {
  for (const l of scope.querySelectorAll('label')) {
    const own = l.cloneNode(true)
    for (const c of own.querySelectorAll('input, select, textarea')) c.remove()
    if (norm(own.textContent) === name && shown(l.control)) return l.control
  }
  return [...scope.querySelectorAll('[aria-label]')].find(e => norm(e.getAttribute('aria-label')) === name && shown(e)) ?? null
}
const sel = kind === 'button' ? 'button, [role=button]' : kind === 'link' ? 'a[href]' : kind
return [...scope.querySelectorAll(sel)].find(e => norm(e.getAttribute('aria-label') ?? e.textContent) === name && shown(e)) ?? null
`

/** Firefox ESR under geckodriver, with a profile of its own; `close()` stops both. */
class Firefox {
  constructor () { this.logs = []; this.driver = null; this.session = null; this.pid = null; this.profile = null }

  async open () {
    this.profile = await mkdtemp(path.join(os.tmpdir(), 'tequio-e2e-firefox-'))
    const port = await freePort()
    this.base = `http://127.0.0.1:${port}`
    this.driver = spawn(GECKODRIVER, ['--host', '127.0.0.1', '--port', String(port),
      '--websocket-port', String(await freePort()), '--binary', FIREFOX, '--log', 'warn'],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...ENV } })
    for (const stream of [this.driver.stdout, this.driver.stderr]) {
      stream.on('data', d => this.logs.push(...d.toString().split('\n').filter(Boolean).map(l => `[firefox] ${l}`)))
    }
    const exited = new Promise((resolve, reject) => {
      this.driver.once('error', reject)
      this.driver.once('exit', code => reject(new Error(`geckodriver exited with ${code}`)))
    })
    exited.catch(() => {})
    await waitFor('geckodriver to answer', () => Promise.race([exited,
      fetch(`${this.base}/status`).then(r => r.ok, () => false)]))
    const { sessionId, capabilities } = await this.command('POST', '/session', {
      capabilities: {
        alwaysMatch: {
          browserName: 'firefox',
          'moz:firefoxOptions': { binary: FIREFOX, args: ['-headless', '-profile', this.profile], prefs: PREFS },
        },
      },
    }, START)
    this.session = sessionId
    this.pid = capabilities['moz:processID']
    this.logs.push(`[firefox] ${capabilities.browserName} ${capabilities.browserVersion}`)
    return this
  }

  async command (method, url, body, timeout = WAIT) {
    const res = await fetch(this.base + url, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeout),
    })
    const { value } = await res.json()
    if (!res.ok) throw new Error(`WebDriver ${method} ${url}: ${value?.error}: ${value?.message}`)
    return value
  }

  s (url) { return `/session/${this.session}${url}` }
  goto (url) { return this.command('POST', this.s('/url'), { url }) }
  run (script, ...args) { return this.command('POST', this.s('/execute/sync'), { script, args }) }

  /** Waits (bounded) until the visible control named `name` exists; returns its reference. */
  async find (kind, name, within) {
    let el
    await waitFor(`${kind} "${name}" in Firefox`, async () => (el = await this.run(FIND, kind, name, within ?? null)) !== null)
    return el
  }

  async click (kind, name, within) {
    const el = await this.find(kind, name, within)
    await this.command('POST', this.s(`/element/${el[ELEMENT]}/click`), {})
  }

  async fill (label, text) {
    const el = await this.find('label', label)
    await this.command('POST', this.s(`/element/${el[ELEMENT]}/clear`), {})
    await this.command('POST', this.s(`/element/${el[ELEMENT]}/value`), { text })
  }

  async select (label, option) {
    const select = await this.find('label', label)
    const el = await this.run('return [...arguments[0].options].find(o => o.textContent.trim() === arguments[1]) ?? null', select, option)
    assert.ok(el, `no option "${option}" under "${label}"`)
    await this.command('POST', this.s(`/element/${el[ELEMENT]}/click`), {})
  }

  async value (label) {
    const el = await this.find('label', label)
    return this.command('GET', this.s(`/element/${el[ELEMENT]}/property/value`))
  }

  /** Waits (bounded) until `selector` matches an element in the page. */
  async present (selector) {
    await waitFor(`${selector} in Firefox`, async () => await this.run('return document.querySelector(arguments[0]) !== null', selector))
  }

  /** A section of the open room, by its name in the room's menu. */
  async section (name) {
    await this.click('link', name, 'nav[aria-label="Room sections"]')
    await waitFor(`"${name}" to be the current section`, () => this.run(`
      return [...document.querySelectorAll('nav[aria-label="Room sections"] a[aria-current=page]')]
        .some(a => a.textContent.trim() === arguments[0])`, name))
  }

  async close () {
    let closed = !this.session
    if (this.session) {
      closed = await this.command('DELETE', this.s(''), undefined, START)
        .then(() => true, e => { this.logs.push(`[firefox] closing: ${e.message}`); return false })
      this.session = null
    }
    const driver = this.driver
    this.driver = null
    if (driver && driver.exitCode === null && driver.signalCode === null) {
      const gone = new Promise(resolve => driver.once('exit', resolve))
      driver.kill('SIGTERM')
      await gone
    }
    // Firefox itself, should it have outlived a session that could not be closed (its command
    // line names this profile, so no other process is hit).
    if (!closed && this.pid) {
      const cmdline = await readFile(`/proc/${this.pid}/cmdline`, 'utf8').catch(() => '')
      if (cmdline.includes(this.profile)) process.kill(this.pid, 'SIGKILL')
    }
    this.pid = null
    if (this.profile) await rm(this.profile, { recursive: true, force: true })
    this.profile = null
  }
}

const servers = useServers({ before, after })
let firefox = null
after(async () => { await firefox?.close() })

describe('Firefox ESR', () => {
  test('Firefox creates a room and posts; a Chromium device joins by link and both see both posts', async () => {
    try {
      firefox = await new Firefox().open()
      const ff = firefox
      await ff.goto(servers.app.url)
      await ff.fill('Room name', 'Tool library')
      await ff.fill('Your name in this room', 'Fer')
      await ff.click('button', 'Create a room')
      await waitFor('the room in Firefox', () => ff.run(
        'return document.querySelector("[data-testid=room-name]")?.textContent.includes("Tool library") ?? false'))

      await ff.section('Needs & offers')
      await ff.click('label', 'Need')
      await ff.fill('Title', 'Drill, 18 V')
      await ff.fill('Description', 'For a shelf')
      await ff.select('Category', 'Goods')
      await ff.click('button', 'Post')
      await ff.present('[data-testid=post].need[data-title="Drill, 18 V"]')
      await ff.present('[data-testid=save-state][data-state=saved]')

      await ff.click('button', 'Share')
      const link = await ff.value('Anyone with this link can read and change the room:')
      assert.match(link, /^http:\/\/127\.0\.0\.1:\d+\/#\/join\//)

      // Chromium joins; there is no relay, so what it gets comes over WebRTC from Firefox.
      const chromium = await servers.device('chromium').open()
      const pc = await chromium.page(link)
      await pc.getByTestId('room-name').filter({ hasText: 'Tool library' }).waitFor({ timeout: WAIT })
      await peers(pc, 1)
      await ff.present('[data-testid=peer-count][data-count="1"]')
      await boardIs(pc, ['Drill, 18 V'])

      await post(pc, { kind: 'offer', title: 'Ladder, 3 m', description: 'Aluminium', category: 'Goods' })
      await ff.present('[data-testid=post].offer[data-title="Ladder, 3 m"]')
      const titles = await ff.run('return [...document.querySelectorAll("[data-testid=post]")].map(p => p.dataset.title).sort()')
      assert.deepEqual(titles, ['Drill, 18 V', 'Ladder, 3 m'])
      const failures = ff.logs.filter(l => /panicked|RuntimeError|unreachable executed/.test(l))
      assert.deepEqual(failures, [])
    } catch (e) {
      console.error([...(firefox?.logs ?? []), ...servers.devices.flatMap(d => d.logs)].slice(-80).join('\n'))
      throw e
    } finally {
      await firefox?.close()
    }
  })
})
