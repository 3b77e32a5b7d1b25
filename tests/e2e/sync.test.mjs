// End-to-end: real Chromium processes as separate devices, WebRTC between them, the real
// y-webrtc signaling server and IndexedDB — nothing mocked.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {
  boardIs, useServers, createRoom, section, descriptionOf, editDescription, peers,
  post, postItem, saved, shareLink, waitFor, WAIT,
} from './harness.mjs'

const servers = useServers({ before, after })

/** Keeps a handle on every RTCPeerConnection the device's pages make (`window.__pcs`). */
async function trackConnections (device) {
  await device.context.addInitScript(() => {
    const Real = window.RTCPeerConnection
    window.__pcs = []
    window.RTCPeerConnection = function (...args) { const pc = new Real(...args); window.__pcs.push(pc); return pc }
    window.RTCPeerConnection.prototype = Real.prototype
  })
}
const { device, withLogs } = servers

describe('a room that syncs between browsers', () => {
  test('a: A creates, B joins by link, both post, both see both; b: B reloads alone', () => withLogs(async () => {
    const a = await device('a').open()
    const b = await device('b').open()
    const pa = await a.page(servers.app.url)
    await createRoom(pa, 'Elm Street commons')
    await section(pa, 'board')
    await pa.getByText('Nothing posted yet.').waitFor()
    const link = await shareLink(pa)
    // The secret, then the founder's key mark that pins who founded the room.
    assert.match(link, /^http:\/\/127\.0\.0\.1:\d+\/#\/join\/[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{16}$/)

    const pb = await b.page(link)
    await pb.getByTestId('room-name').filter({ hasText: 'Elm Street commons' }).waitFor({ timeout: WAIT })
    await peers(pa, 1)
    await peers(pb, 1)

    await post(pa, { kind: 'offer', title: 'Ladder', description: 'A 3 m ladder', category: 'Goods' })
    await post(pb, { kind: 'need', title: 'Help moving', description: 'Saturday', category: 'Services' })
    await boardIs(pa, ['Help moving', 'Ladder'])
    await boardIs(pb, ['Help moving', 'Ladder'])

    // Edits and status changes travel too; each changes only their own post (the other's shows
    // no controls).
    assert.equal(await postItem(pb, 'Ladder').getByRole('button', { name: 'Edit' }).count(), 0, 'only the author edits a post')
    await editDescription(pb, 'Help moving', 'Saturday, from 10')
    await postItem(pa, 'Help moving').getByTestId('post-description').filter({ hasText: 'from 10' }).waitFor({ timeout: WAIT })
    await section(pa, 'board')
    assert.equal(await postItem(pa, 'Help moving').getByRole('button', { name: 'Mark fulfilled' }).count(), 0, 'only the author moves its status')
    await postItem(pa, 'Ladder').getByRole('button', { name: 'Mark fulfilled' }).click()
    await pb.locator('[data-testid=post][data-title="Ladder"][data-status=fulfilled]').waitFor({ timeout: WAIT })
    await saved(pa)
    await saved(pb)
    // Both say who is here, by name (B has not introduced themselves), and that everything is
    // shared with them.
    for (const [p, who] of [[pa, 'Someone new is here'], [pb, 'Ana is here']]) {
      await p.locator('[data-testid=sync-state][data-in-sync="1"][data-behind="0"]').waitFor({ timeout: WAIT })
      assert.equal(await p.getByTestId('sync-state').innerText(), 'everything is shared')
      assert.equal(await p.getByTestId('peer-count').innerText(), who)
    }

    // The room is in B's own list.
    await pb.goto(servers.app.url)
    await pb.getByTestId('room-link').filter({ hasText: 'Elm Street commons' }).waitFor({ timeout: WAIT })

    // b: A's browser is closed; B reloads and still has everything, from IndexedDB alone.
    await a.close()
    await pb.getByTestId('room-link').click()
    await pb.reload()
    await boardIs(pb, ['Help moving', 'Ladder'])
    await section(pb, 'board')
    assert.equal(await descriptionOf(pb, 'Help moving'), 'Saturday, from 10')
    await pb.locator('[data-testid=post][data-title="Ladder"][data-status=fulfilled]').waitFor()
    await peers(pb, 0)
  }))

  test('c, d: edits made apart converge; of one author\'s edits made apart on two devices, the later shows on both', () => withLogs(async () => {
    const a = await device('a2').open()
    const b = await device('b2').open()
    const pa = await a.page(servers.app.url)
    await createRoom(pa, 'Tool library')
    await post(pa, { kind: 'offer', title: 'Drill', description: 'Cordless drill', category: 'Goods' })
    const roomUrl = pa.url()
    // Only a post's author edits it: B is the author's second device, restored from her backup.
    await section(pa, 'settings')
    const [download] = await Promise.all([pa.waitForEvent('download'), pa.getByTestId('export-backup').click()])
    const backupFile = path.join(os.tmpdir(), `tequio-e2e-${process.pid}-sync-backup.json`)
    await writeFile(backupFile, await readFile(await download.path(), 'utf8'))
    const pb = await b.page(servers.app.url)
    await pb.getByTestId('import-file').setInputFiles(backupFile)
    await pb.getByTestId('import-done').filter({ hasText: 'Restored “Tool library”' }).waitFor({ timeout: WAIT })
    await pb.getByTestId('room-link').filter({ hasText: 'Tool library' }).click()
    await boardIs(pb, ['Drill'])
    await peers(pb, 1)

    // Cut: the signaling server goes away and A's browser is closed.
    await servers.signaling.stop()
    await a.close()
    await peers(pb, 0)
    await post(pb, { kind: 'need', title: 'Bike pump', category: 'Goods' })
    await editDescription(pb, 'Drill', 'Cordless drill with two batteries')

    await a.open()
    const pa2 = await a.page(roomUrl)
    await boardIs(pa2, ['Drill'])
    await post(pa2, { kind: 'offer', title: 'Sewing machine', category: 'Goods' })
    await editDescription(pa2, 'Drill', 'Borrow: Cordless drill')
    await peers(pa2, 0)

    // Reconnect: both converge to the union. The two edits of the post are both signed
    // versions by its author, made apart: both devices show the later one.
    await servers.signaling.start()
    await peers(pa2, 1)
    await boardIs(pa2, ['Bike pump', 'Drill', 'Sewing machine'])
    await boardIs(pb, ['Bike pump', 'Drill', 'Sewing machine'])
    const later = 'Borrow: Cordless drill'
    await waitFor('the later edit on A', async () => (await descriptionOf(pa2, 'Drill')) === later || await descriptionOf(pa2, 'Drill'))
    await waitFor('the later edit on B', async () => (await descriptionOf(pb, 'Drill')) === later || await descriptionOf(pb, 'Drill'))
  }))

  test('e: three peers joining at different times converge', () => withLogs(async () => {
    const [a, b, c] = await Promise.all(['a3', 'b3', 'c3'].map(n => device(n).open()))
    const pa = await a.page(servers.app.url)
    await createRoom(pa, 'Food share')
    await post(pa, { title: 'Bread', category: 'Food' })
    const link = await shareLink(pa)
    const pb = await b.page(link)
    await boardIs(pb, ['Bread'])
    await post(pb, { kind: 'offer', title: 'Apples', category: 'Food' })
    await boardIs(pa, ['Apples', 'Bread'])
    const pc = await c.page(link)
    await boardIs(pc, ['Apples', 'Bread'])
    await post(pc, { kind: 'offer', title: 'Soup', category: 'Food' })
    for (const p of [pa, pb, pc]) {
      await boardIs(p, ['Apples', 'Bread', 'Soup'])
      await peers(p, 2)
    }
  }))

  test('f: a malformed or truncated join link shows an error and creates nothing; a good one asks first', () => withLogs(async () => {
    const d = await device('f').open()
    const p = await d.page(servers.app.url)
    await p.getByTestId('no-rooms').waitFor()
    for (const bad of ['#/join/', '#/join/not*a*secret', '#/join/AAAAAAAAAAAAAAAAAAAA']) {
      await p.goto(servers.app.url + bad)
      const error = p.getByTestId('join-error')
      await error.waitFor({ timeout: WAIT })
      assert.match(await error.innerText(), /link does not work/)
    }
    // A good link from elsewhere asks first: "Not now" adds nothing; "Join" adds the room.
    await p.goto(servers.app.url + '#/join/' + 'A'.repeat(43))
    await p.getByText('Join this room?').waitFor({ timeout: WAIT })
    await p.getByTestId('join-cancel').click()
    await p.getByTestId('no-rooms').waitFor({ timeout: WAIT })
    await p.goto(servers.app.url + '#/join/' + 'A'.repeat(43))
    await p.getByTestId('join-confirm').click()
    await p.getByTestId('waiting').waitFor({ timeout: WAIT })
    await p.goto(servers.app.url)
    await p.getByTestId('room-list').waitFor({ timeout: WAIT })
    // Pasting a truncated link on the start page is refused next to the field.
    await p.goto(servers.app.url)
    await p.getByLabel('Room link').fill(servers.app.url + '#/join/abcdefghij')
    await p.getByRole('button', { name: 'Join' }).click()
    await p.getByText('That link does not work').waitFor()
    await p.reload()
    await p.getByTestId('room-list').waitFor({ timeout: WAIT })
    assert.equal(await p.getByTestId('room-entry').count(), 1, 'only the room joined above')
    // Inside another page's frame the app refuses to run (no clicks, joins or pairing unseen).
    await p.setContent(`<iframe src="${servers.app.url}" width="400" height="300"></iframe>`)
    await p.frameLocator('iframe').getByText('does not run inside another page').waitFor({ timeout: WAIT * 2 })
  }))

  test('g: two tabs of one browser sync with no signaling server (BroadcastChannel)', () => withLogs(async () => {
    await servers.signaling.stop()
    try {
      const d = await device('g').open()
      const t1 = await d.page(servers.app.url)
      await createRoom(t1, 'Same browser')
      const t2 = await d.newPage(t1.url())
      await t2.getByTestId('room-name').filter({ hasText: 'Same browser' }).waitFor({ timeout: WAIT })
      await peers(t1, 1)
      await peers(t2, 1)
      await post(t1, { title: 'From tab one', category: 'Time' })
      await boardIs(t2, ['From tab one'])
      await post(t2, { kind: 'offer', title: 'From tab two', category: 'Time' })
      await boardIs(t1, ['From tab one', 'From tab two'])
    } finally {
      await servers.signaling.start()
    }
  }))
})

describe('storage failures', () => {
  test('h: a write refused for lack of space gives a clear error and creates nothing', () => withLogs(async () => {
    const d = await device('h').open()
    // Shrink this origin's quota to one byte (Chromium's own quota override, through the
    // DevTools protocol): IndexedDB now refuses writes with a real QuotaExceededError. Before
    // the app starts: once it wrote (it keeps config.json), Chromium goes by the space it
    // found free then for a while.
    const p = await d.page()
    const cdp = await d.context.newCDPSession(p)
    const origin = new URL(servers.app.url).origin
    await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: 1 })
    await p.goto(servers.app.url)
    await p.getByTestId('no-rooms').waitFor()
    await p.getByLabel('Room name').fill('Small disk')
    await p.getByLabel('Your name in this room').fill('Ana')
    await p.getByRole('button', { name: 'Create a room' }).click()
    const error = p.getByText('The room was not created')
    await error.waitFor({ timeout: WAIT })
    assert.match(await error.innerText(), /storage is full/)
    await p.reload()
    await p.getByTestId('no-rooms').waitFor()

    // Space comes back: the same form works, and the room survives a reload.
    await cdp.send('Storage.overrideQuotaForOrigin', { origin })
    await createRoom(p, 'Small disk')
    await post(p, { title: 'Saved at last', category: 'Goods' })
    await p.reload()
    await boardIs(p, ['Saved at last'])
  }))

  test('i: an edit the disk refuses shows as not saved, and is saved by a retry once space is back', () => withLogs(async () => {
    const d = await device('i').open()
    let p = await d.page(servers.app.url)
    await createRoom(p, 'Full disk later')
    await post(p, { title: 'Saved first', category: 'Goods' })
    // A new browser process, with the quota shrunk before it writes anything.
    await d.close()
    await d.open()
    p = await d.page(servers.app.url)
    await p.getByTestId('room-link').waitFor({ timeout: WAIT })
    const cdp = await d.context.newCDPSession(p)
    const origin = new URL(servers.app.url).origin
    await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: 1 })
    await p.getByTestId('room-link').click()
    await boardIs(p, ['Saved first'])
    await section(p, 'board')
    const noise = Array.from({ length: 3000 }, (_, i) => String.fromCharCode(97 + (i * 7919 % 26))).join('')
    await p.getByLabel('Title', { exact: true }).fill('Written while full')
    await p.getByLabel('Description', { exact: true }).fill(noise)
    await p.getByRole('button', { name: 'Post', exact: true }).click()
    await p.locator('[data-testid=save-state][data-state=error]').waitFor({ timeout: WAIT })
    assert.match(await p.getByTestId('save-state').innerText(), /Not saved: .*storage is full/)

    await cdp.send('Storage.overrideQuotaForOrigin', { origin })
    await p.getByRole('button', { name: 'Retry saving' }).click()
    await saved(p)
    await p.reload()
    await boardIs(p, ['Saved first', 'Written while full'])
  }))
})

describe('recovery', () => {
  test('j: connections killed under a peer are rebuilt on their own, and what changed meanwhile syncs', () => withLogs(async () => {
    const [a, b] = [await device('ja').open(), await device('jb').open()]
    for (const d of [a, b]) await trackConnections(d)
    const pa = await a.page(servers.app.url)
    await createRoom(pa, 'Night shift')
    const pb = await b.page(await shareLink(pa))
    await peers(pa, 1)
    await peers(pb, 1)
    await post(pa, { title: 'Before the cut' })
    await section(pb, 'board')
    await postItem(pb, 'Before the cut').waitFor({ timeout: WAIT })

    // Every connection of B's is closed under it (as when a phone drops its network).
    const cut = await pb.evaluate(() => { const open = window.__pcs.filter(pc => pc.connectionState === 'connected'); open.forEach(pc => pc.close()); return open.length })
    assert.equal(cut, 1)
    await post(pa, { title: 'During the cut' })
    // A new connection forms by itself and the missed post arrives, with no reload.
    await peers(pb, 1)
    await postItem(pb, 'During the cut').waitFor({ timeout: WAIT })
    await pb.locator('[data-testid=sync-state][data-in-sync="1"][data-behind="0"]').waitFor({ timeout: WAIT })
    assert.ok(await pb.evaluate(() => window.__pcs.length) >= 2, 'a new connection was made')

    // Waking up (network back, app visible again) restarts the sync sessions from scratch
    // without losing or looping anything: later changes still flow both ways.
    await pb.evaluate(() => { window.dispatchEvent(new Event('online')); document.dispatchEvent(new Event('visibilitychange')) })
    await post(pa, { title: 'After waking' })
    await post(pb, { title: 'Reply after waking' })
    await postItem(pb, 'After waking').waitFor({ timeout: WAIT })
    await postItem(pa, 'Reply after waking').waitFor({ timeout: WAIT })
    for (const p of [pa, pb]) await p.locator('[data-testid=sync-state][data-in-sync="1"][data-behind="0"]').waitFor({ timeout: WAIT })
  }))

  test('m: a connection that loses its path restarts ICE on the same connection, and keeps syncing', () => withLogs(async () => {
    const [a, b] = [await device('ma').open(), await device('mb').open()]
    for (const d of [a, b]) await trackConnections(d)
    const pa = await a.page(servers.app.url)
    await createRoom(pa, 'Moving train')
    const pb = await b.page(await shareLink(pa))
    await peers(pa, 1)
    await peers(pb, 1)
    // The side that offered is the one that restarts.
    const offered = async p => p.evaluate(() => window.__pcs.some(pc => pc.connectionState === 'connected' && pc.localDescription?.type === 'offer'))
    const offerer = (await offered(pa)) ? pa : pb
    const ufrag = () => offerer.evaluate(() => {
      const pc = window.__pcs.find(pc => pc.connectionState === 'connected' || window.__lost === pc)
      return pc.remoteDescription.sdp.match(/a=ice-ufrag:(\S+)/)[1]
    })
    const before = await ufrag()
    const counts = async () => [await pa.evaluate(() => window.__pcs.length), await pb.evaluate(() => window.__pcs.length)]
    const pcsBefore = await counts()
    // The browser reports the path lost (as when a phone changes networks).
    await offerer.evaluate(() => {
      const pc = window.__pcs.find(pc => pc.connectionState === 'connected')
      window.__lost = pc
      const real = Object.getOwnPropertyDescriptor(RTCPeerConnection.prototype, 'connectionState').get
      Object.defineProperty(pc, 'connectionState', { configurable: true, get: () => window.__fake ?? real.call(pc) })
      window.__fake = 'disconnected'
      pc.dispatchEvent(new Event('connectionstatechange'))
    })
    // ICE restarts: new credentials negotiated on the same connection, none built anew.
    await waitFor('an ICE restart', async () => (await ufrag()) !== before)
    await offerer.evaluate(() => { window.__fake = undefined })
    assert.deepEqual(await counts(), pcsBefore)
    await post(pa, { title: 'After the tunnel' })
    await section(pb, 'board')
    await postItem(pb, 'After the tunnel').waitFor({ timeout: WAIT })
    await peers(pa, 1)
    await peers(pb, 1)
  }))

  test('k: a device that cannot connect directly is told so and pointed to the TURN setting', () => withLogs(async () => {
    const [a, b] = [await device('ka2').open(), await device('kb2').open()]
    const pa = await a.page(servers.app.url)
    await createRoom(pa, 'Behind a strict router')
    const pb = await b.page(await shareLink(pa))
    await peers(pb, 1)
    // B allows relayed connections only, and there is no relay: A is found but never reached.
    await section(pb, 'settings')
    await pb.getByTestId('set-relay-only').check()
    await pb.getByTestId('save-network').click()
    await pb.getByTestId('network-saved').waitFor({ timeout: WAIT })
    await pb.reload()
    const notice = pb.getByTestId('cant-connect')
    await notice.waitFor({ timeout: WAIT * 2 })
    assert.equal(await pb.getByTestId('peer-count').getAttribute('data-count'), '0')
    await notice.getByRole('link', { name: 'add one in Settings' }).click()
    await pb.getByTestId('set-relay-only').waitFor({ timeout: WAIT })
    assert.ok(await pb.getByTestId('set-relay-only').isChecked())
  }))
})
