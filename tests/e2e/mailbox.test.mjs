// The room's mailbox on real Nostr relays (the `nostr-relay` package, its database on disk),
// with no signaling server: members who are never online at the same time share the room.
// Each device is a separate Chromium process; a device "closes" by closing its browser.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import {
  NostrRelay, WAIT, fleet, boardIs, createRoom, freePort, joinAndBeVouched, post, relayEvents,
  section, shareLink, standing, waitFor,
} from './harness.mjs'

let r1
const { start, app, device, withLogs } = fleet(before, after, async () => {
  r1 = new NostrRelay(await freePort())
  return [r1]
})

/** Waits until the header says every event of this device's reached `n` relays. */
async function sentTo (page, n) {
  await page.locator(`[data-testid=mail-state][data-state=sent][data-count="${n}"]`).waitFor({ timeout: WAIT })
}

/** The ids of the room's mailbox events a relay holds (stored kinds, below the ephemeral range). */
async function mailIds (relay) {
  return (await relayEvents(relay)).filter(e => e.kind < 20000).map(e => e.id).sort()
}

describe('the mailbox on Nostr relays', () => {
  test('a, b, e: Ana posts and closes; Ben, never online with her, gets the room; his offline edit reaches Ana later; the relay learns nothing', () => withLogs(async () => {
    const only = await app({ nostr: [r1.url] })
    const [ana, ben] = [await device('ma'), await device('mb')]
    const pa = await ana.page(only.url)
    await createRoom(pa, 'Night shift garden')
    await post(pa, { title: 'Ladder to lend', description: 'Aluminium, 3 m' })
    await sentTo(pa, 1)
    const link = await shareLink(pa)
    const roomId = pa.url().match(/#\/room\/([^/]+)/)[1]
    await ana.close()

    // (a) Ben opens the link with Ana gone: everything comes from the relay.
    const pb = await ben.page(link)
    await pb.getByTestId('room-name').filter({ hasText: 'Night shift garden' }).waitFor({ timeout: WAIT })
    await boardIs(pb, ['Ladder to lend'])
    await section(pb, 'settings')
    await pb.locator(`[data-testid=mail-relay][data-url="${r1.url}"][data-caught-up="1"]`).waitFor({ timeout: WAIT })

    // (b) The relay goes away: Ben's edit is saved here and waits; he closes the app.
    await r1.stop()
    await post(pb, { title: 'Seedlings, written offline' })
    await pb.locator('[data-testid=mail-state][data-state=waiting]').waitFor({ timeout: WAIT })
    await ben.close()
    // (c, first half) The relay comes back with its database: it still serves.
    await r1.start()
    await ben.open()
    const pb2 = await ben.page(`${only.url}#/room/${roomId}`)
    await pb2.getByTestId('room-name').filter({ hasText: 'Night shift garden' }).waitFor({ timeout: WAIT })
    await sentTo(pb2, 1)
    await ben.close()

    await ana.open()
    const pa2 = await ana.page(`${only.url}#/room/${roomId}`)
    await boardIs(pa2, ['Ladder to lend', 'Seedlings, written offline'])
    await ana.close()

    // (e) What the relay holds: no room name, id, content or fixed topic; four sizes.
    const events = await relayEvents(r1)
    const mail = events.filter(e => e.kind < 20000)
    assert.ok(mail.length >= 3, `mailbox events at the relay: ${mail.length}`)
    const everything = JSON.stringify(events)
    for (const secret of ['Night shift garden', 'Ladder to lend', 'Aluminium', 'Seedlings', roomId, 'tequio']) {
      assert.ok(!everything.toLowerCase().includes(secret.toLowerCase()), `the relay holds "${secret}"`)
    }
    const buckets = [1024, 4096, 16384, 46080].map(b => b + 40)
    for (const e of mail) {
      const bytes = Buffer.from(e.content, 'base64url').length
      assert.ok(buckets.includes(bytes), `an event of ${bytes} sealed bytes`)
      const topics = e.tags.filter(t => t[0] === 't').map(t => t[1])
      assert.equal(topics.length, 1)
      assert.match(topics[0], /^[0-9a-f]{32}$/)
      assert.ok(e.tags.some(t => t[0] === 'expiration'), 'each event may be deleted once no one reads its week')
    }
    // Throwaway keys: one per opening, never the same for two devices' events.
    assert.ok(new Set(mail.map(e => e.pubkey)).size >= 2)
  }))

  test('c: a relay that lost everything is given the room again by the next member online', () => withLogs(async () => {
    // Relays of this room alone: what each holds is this room's.
    const [r1, r2] = [new NostrRelay(await freePort()), new NostrRelay(await freePort())]
    for (const s of [r1, r2]) await start(s)
    const both = await app({ nostr: [r1.url, r2.url] })
    const [ana, ben] = [await device('ra'), await device('rb')]
    const pa = await ana.page(both.url)
    await createRoom(pa, 'Two relays')
    await post(pa, { title: 'Wheelbarrow' })
    await sentTo(pa, 2)
    const link = await shareLink(pa)
    await ana.close()
    const held = await mailIds(r1)
    assert.ok(held.length > 0)
    await r2.forget()
    assert.deepEqual(await mailIds(r2), [])

    const pb = await ben.page(link)
    await boardIs(pb, ['Wheelbarrow'])
    // Ben's device gives the emptied relay every event the other holds, as they were.
    await waitFor('the emptied relay to be repaired', async () => {
      const now = new Set(await mailIds(r2))
      return held.every(id => now.has(id)) || `${now.size} of ${held.length}`
    })
    await ben.close()

    // A device that reaches only the repaired relay gets the room from it.
    const onlyR2 = await app({ nostr: [r2.url] })
    const cy = await device('rc')
    const pc = await cy.page(onlyR2.url + link.slice(link.indexOf('#')))
    await boardIs(pc, ['Wheelbarrow'])
  }))

  test('g: with no page open, the installed app catches up from the relay in the background and says what needs the member', () => withLogs(async () => {
    const relay = await start(new NostrRelay(await freePort()))
    const served = await app({ nostr: [relay.url] })
    const ana = await device('ga')
    const ben = await device('gb', { permissions: ['notifications'] })
    const cy = await device('gc')
    const pa = await ana.page(served.url)
    await createRoom(pa, 'Evening pantry')
    const link = await shareLink(pa)
    const roomId = pa.url().match(/#\/room\/([^/]+)/)[1]
    const pb = await ben.page()
    await joinAndBeVouched(pb, link, 'Evening pantry', 'Ben', pa)
    await section(pb, 'settings')
    await pb.getByTestId('reminders-on').click()
    await pb.locator('[data-testid=reminders-state][data-state=on]').waitFor({ timeout: WAIT })
    // Ben closes the app; his browser (and the app's service worker) stays.
    await pb.goto('about:blank')

    // Meanwhile Cy asks to join and Ana posts; then both close.
    const pc = await cy.page(link)
    await section(pc, 'members')
    await pc.getByTestId('profile-name').fill('Cy')
    await pc.getByTestId('profile-save').click()
    await standing(pc, 'pending')
    await sentTo(pc, 1)
    await post(pa, { title: 'Bike pump' })
    await sentTo(pa, 1)
    await cy.close()
    await ana.close()

    // The browser runs the app's periodic background sync (as Chromium does for an installed app).
    const cdp = await ben.context.newCDPSession(pb)
    const registration = new Promise(resolve => cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations }) => {
      const r = registrations.find(r => r.scopeURL.startsWith(served.url) && !r.isDeleted)
      if (r) resolve(r.registrationId)
    }))
    await cdp.send('ServiceWorker.enable')
    const registrationId = await registration
    await cdp.send('ServiceWorker.dispatchPeriodicSyncEvent', { origin: served.url.replace(/\/$/, ''), registrationId, tag: 'tequio-catch-up' })

    // It said what needs Ben, as a notification of the app.
    const probe = await ben.newPage(`${served.url}manifest.webmanifest`)
    await waitFor('the notification', async () => {
      const shown = await probe.evaluate(async () =>
        (await (await navigator.serviceWorker.ready).getNotifications()).map(n => `${n.title}: ${n.body}`))
      return shown.includes('Evening pantry: A newcomer is waiting for vouches') || JSON.stringify(shown)
    })
    await probe.close()

    // What it fetched was saved: with the relay gone and no one else online, the room has it.
    await relay.stop()
    await pb.goto(`${served.url}#/room/${roomId}`)
    await boardIs(pb, ['Bike pump'])
  }))
})
