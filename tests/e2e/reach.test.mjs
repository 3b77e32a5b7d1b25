// How devices find each other with no backend of the room's own: through a real Nostr relay,
// through several transports at once when one goes away, through a member they are both
// connected to, and under a mesh limit. Each device is a separate Chromium process.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import {
  NostrRelay, Signaling, fleet, WAIT, boardIs, createRoom, decodeQr, follow, freePort, peers,
  post, section, shareLink,
} from './harness.mjs'

let relay, s1, s2
const { app, device, withLogs } = fleet(before, after, async () => {
  relay = new NostrRelay(await freePort())
  s1 = new Signaling(await freePort())
  s2 = new Signaling(await freePort())
  return [relay, s1, s2]
})

/** The join link of `page`'s room, opened through another deployment of the app. */
function via (link, appUrl) { return appUrl + link.slice(link.indexOf('#')) }

describe('finding peers', () => {
  test('a: two devices meet through a Nostr relay alone', () => withLogs(async () => {
    const only = await app({ nostr: [relay.url] })
    const [a, b] = [await device('na'), await device('nb')]
    const pa = await a.page(only.url)
    await createRoom(pa, 'Relay garden')
    const pb = await b.page(await shareLink(pa))
    await peers(pa, 1)
    await peers(pb, 1)
    await post(pb, { title: 'Seeds to swap' })
    await boardIs(pa, ['Seeds to swap'])
    await section(pa, 'settings')
    const server = pa.locator(`[data-testid=server][data-url="${relay.url}"]`)
    await server.filter({ hasText: 'Nostr relay' }).waitFor({ timeout: WAIT })
    assert.equal(await server.getAttribute('data-up'), '1')
  }))

  test('b: the signaling server stops mid-session; newcomers still meet through the relay, and it shows as down', () => withLogs(async () => {
    const both = await app({ signaling: [s1.url], nostr: [relay.url] })
    const [a, b, c] = [await device('ba'), await device('bb'), await device('bc')]
    const pa = await a.page(both.url)
    await createRoom(pa, 'Two roads')
    const link = await shareLink(pa)
    const pb = await b.page(link)
    await peers(pa, 1)
    await s1.stop()
    const pc = await c.page(link)
    for (const p of [pa, pb, pc]) await peers(p, 2)
    await post(pc, { title: 'Came in by the relay' })
    await boardIs(pa, ['Came in by the relay'])
    await section(pc, 'settings')
    await pc.locator(`[data-testid=server][data-url="${s1.url}"][data-up="0"]`).filter({ hasText: 'down' }).waitFor({ timeout: WAIT })
    await pc.locator(`[data-testid=server][data-url="${relay.url}"][data-up="1"]`).waitFor({ timeout: WAIT })
    await s1.start()
  }))

  test('c: A and C share no server; with every server stopped they connect directly by signaling through B', () => withLogs(async () => {
    const [appA, appB, appC] = [
      await app({ signaling: [s1.url] }),
      await app({ signaling: [s1.url, s2.url] }),
      await app({ signaling: [s2.url] }),
    ]
    const [a, b, c] = [await device('ca'), await device('cb'), await device('cc')]
    const pb = await b.page(appB.url)
    await createRoom(pb, 'Bridge')
    const link = await shareLink(pb)
    const pa = await a.page(via(link, appA.url))
    await peers(pa, 1)
    // A and B stay connected over WebRTC; the server A knows is gone.
    await s1.stop()
    const pc = await c.page(via(link, appC.url))
    // C reaches B through the server they share (and, as soon as it does, A through B).
    await pc.waitForFunction(() => Number(document.querySelector('[data-testid=peer-count]')?.dataset.count) >= 1, null, { timeout: WAIT })
    await s2.stop()
    // Nothing is left but B: A and C find each other through it and connect directly.
    await peers(pa, 2)
    await peers(pc, 2)
    await post(pa, { title: 'Straight from A' })
    await boardIs(pc, ['Straight from A'])
    await s1.start()
    await s2.start()
  }))

  test('d: with no server at all, devices pair by copying codes, or by scanning them off the screen', () => withLogs(async () => {
    const alone = await app({})
    const [a, b, c] = [await device('da'), await device('db'), await device('dc')]
    const pa = await a.page(alone.url)
    await createRoom(pa, 'Off the grid')
    await post(pa, { title: 'Rainwater barrels' })
    const link = await shareLink(pa)
    const pairing = async page => {
      if (!(await page.getByTestId('share-link').isVisible())) await page.getByRole('button', { name: 'Share' }).click()
      const box = page.getByTestId('pairing')
      if ((await box.getAttribute('open')) === null) await box.locator('summary').click()
      return box
    }
    const codeOf = async page => {
      const code = page.getByTestId('pair-code')
      await code.waitFor({ timeout: WAIT })
      return code.inputValue()
    }
    const use = async (page, code) => {
      const box = await pairing(page)
      await box.getByTestId('pair-paste').fill(code)
      await box.getByTestId('pair-use').click()
    }

    // Copy and paste: A's offer to B, B's answer back to A.
    const pb = await b.page(link)
    await pb.getByTestId('waiting').waitFor({ timeout: WAIT })
    await (await pairing(pa)).getByTestId('pair-make').click()
    const offer = await codeOf(pa)
    // A mangled code, and A's own code, are refused with a reason.
    await use(pb, offer.slice(0, 40))
    assert.match(await pb.getByTestId('pair-error').innerText(), /another room, or it was not copied whole/)
    await use(pb, 'hello there')
    assert.match(await pb.getByTestId('pair-error').innerText(), /not a pairing code/)
    await use(pa, offer)
    assert.match(await pa.getByTestId('pair-error').innerText(), /own code/)
    await use(pb, offer)
    const answer = await codeOf(pb)
    await use(pa, answer)
    await peers(pa, 1)
    await peers(pb, 1)
    await boardIs(pb, ['Rainwater barrels'])
    await post(pb, { title: 'Spare gutter' })
    await boardIs(pa, ['Rainwater barrels', 'Spare gutter'])

    // Scanning: C has the room; its camera reads A's code off A's screen (a link into the app),
    // and A reads C's answer the same way, in a new tab that passes it to the first.
    const pc = await c.page(via(link, alone.url))
    await pc.getByTestId('waiting').waitFor({ timeout: WAIT })
    await (await pairing(pa)).getByTestId('pair-make').click()
    await pa.getByTestId('pair-qr').waitFor({ timeout: WAIT })
    const offerUrl = await decodeQr(pa.getByTestId('pair-qr'))
    assert.ok(offerUrl.startsWith(alone.url + '#/room/'), offerUrl)
    // A code that comes in a link is not used until the person says so.
    const fromLink = page => page.getByTestId('pair-status').filter({ hasText: 'came with the link' })
    await pc.goto(offerUrl)
    await fromLink(pc).waitFor({ timeout: WAIT })
    assert.equal(await pc.getByTestId('pair-qr').count(), 0, 'nothing answered yet')
    await (await pairing(pc)).getByTestId('pair-use').click()
    await pc.getByTestId('pair-qr').waitFor({ timeout: WAIT })
    const answerUrl = await decodeQr(pc.getByTestId('pair-qr'))
    const camera = await a.newPage(answerUrl)
    await fromLink(camera).waitFor({ timeout: WAIT })
    await (await pairing(camera)).getByTestId('pair-use').click()
    await camera.getByTestId('pair-status').filter({ hasText: 'other tab' }).waitFor({ timeout: WAIT })
    await peers(pa, 2)
    await boardIs(pc, ['Rainwater barrels', 'Spare gutter'])
    await camera.close()
  }))

  test('f: what goes to the signaling server and the relay holds no room name, room id, SDP, address or content', () => withLogs(async () => {
    const both = await app({ signaling: [s1.url], nostr: [relay.url] })
    const [a, b] = [await device('fa'), await device('fb')]
    const sent = { [s1.url]: [], [relay.url]: [] }
    // What each device published to the relay (signaling and the mailbox).
    const events = { fa: [], fb: [] }
    const record = (page, who) => page.on('websocket', ws => {
      const url = ws.url().replace(/\/$/, '')
      const to = sent[url]
      if (to) ws.on('framesent', f => to.push(String(f.payload)))
      if (url === relay.url) ws.on('framesent', f => events[who].push(String(f.payload)))
    })
    const pa = await a.page()
    record(pa, 'fa')
    await pa.goto(both.url)
    await createRoom(pa, 'Quiet kitchen')
    const link = await shareLink(pa)
    const pb = await b.page()
    record(pb, 'fb')
    await follow(pb, link)
    await peers(pa, 1)
    await peers(pb, 1)
    await post(pa, { title: 'Grandmother soup recipe', description: 'Leeks and patience' })
    await boardIs(pb, ['Grandmother soup recipe'])
    const roomId = new URL(pa.url()).hash.split('/')[2]
    // The link holds the secret and the founder's key mark: neither may reach a server.
    const [secret, founderMark] = link.split('#/join/')[1].split('.')
    assert.ok(secret.length >= 43 && founderMark.length === 16, 'the link carries the founder mark')
    for (const [server, frames] of Object.entries(sent)) {
      assert.ok(frames.length > 2, `frames were sent to ${server}`)
      const all = frames.join('\n')
      for (const clear of ['Quiet kitchen', roomId, secret, founderMark, 'v=0', 'a=candidate', 'candidate:', '127.0.0.1', 'Grandmother', 'Leeks']) {
        assert.ok(!all.includes(clear), `"${clear}" was sent to ${server} in the clear`)
      }
    }
    // Each visit signs with throwaway keys (one for signaling, one for the mailbox): the two
    // devices' events share no public key.
    const keys = who => new Set(events[who].filter(f => f.startsWith('["EVENT"')).map(f => JSON.parse(f)[1].pubkey))
    const [ka, kb] = [keys('fa'), keys('fb')]
    assert.ok(ka.size >= 1 && ka.size <= 2 && kb.size >= 1 && kb.size <= 2, `keys: ${ka.size}, ${kb.size}`)
    assert.ok([...ka].every(k => !kb.has(k)), 'a key used by both devices')
  }))

  test('g: six devices with a mesh limit of two all converge through each other', () => withLogs(async () => {
    const limited = await app({ signaling: [s1.url], mesh_limit: 2 })
    const names = ['g1', 'g2', 'g3', 'g4', 'g5', 'g6']
    const ds = await Promise.all(names.map(device))
    const first = await ds[0].page(limited.url)
    await createRoom(first, 'Six of us')
    const link = await shareLink(first)
    const pages = [first, ...await Promise.all(ds.slice(1).map(d => d.page(link)))]
    await Promise.all(pages.map((p, i) => post(p, { title: `From ${names[i]}` })))
    const all = names.map(n => `From ${n}`)
    for (const p of pages) await boardIs(p, all)
    // Nobody holds more than two connections once the mesh settles, so most posts came
    // through other devices.
    for (const p of pages) {
      await p.waitForFunction(() => {
        const n = Number(document.querySelector('[data-testid=peer-count]')?.dataset.count)
        return n >= 1 && n <= 2
      }, null, { timeout: WAIT })
    }
  }))
})
