// Browsers that lack something the app would like: one with no WebRTC (WebKitGTK, or WebRTC
// switched off) still gets the room through the relays' mailbox and says why it is not live;
// Safari, which may delete a site's data after 7 days without use, says so once.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import {
  NostrRelay, WAIT, fleet, boardIs, createRoom, follow, freePort, post, shareLink,
} from './harness.mjs'

let relay
const { app, device, withLogs } = fleet(before, after, async () => {
  relay = new NostrRelay(await freePort())
  return [relay]
})

const IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 ' +
  '(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1'

async function noticeState (page, state) {
  await page.locator(`[data-testid=safari-notice-state][data-state=${state}]`).waitFor({ state: 'attached', timeout: WAIT })
}

describe('browsers that lack something', () => {
  test('a: with no RTCPeerConnection, Ben is told so and still gets the room through the mailbox, both ways', () => withLogs(async () => {
    const served = await app({ nostr: [relay.url] })
    const [ana, ben] = [await device('wa'), await device('wb')]
    const pa = await ana.page(served.url)
    await createRoom(pa, 'Tool library')
    await post(pa, { title: 'Drill to lend' })
    await pa.locator('[data-testid=mail-state][data-state=sent][data-count="1"]').waitFor({ timeout: WAIT })
    const link = await shareLink(pa)
    // Ana has direct connections: no such notice for her.
    assert.equal(await pa.getByTestId('no-webrtc').count(), 0)

    const pb = await ben.page()
    const errors = []
    pb.on('pageerror', e => errors.push(e.message))
    await pb.addInitScript(() => { delete window.RTCPeerConnection; delete window.webkitRTCPeerConnection })
    await follow(pb, link)
    assert.equal(await pb.evaluate(() => typeof window.RTCPeerConnection), 'undefined')
    await pb.locator('[data-testid=no-webrtc][data-relays=true]').waitFor({ timeout: WAIT })
    // Ana is online the whole time, but what she wrote reaches Ben through the relay.
    await pb.getByTestId('room-name').filter({ hasText: 'Tool library' }).waitFor({ timeout: WAIT })
    await boardIs(pb, ['Drill to lend'])
    await pb.getByTestId('no-webrtc').waitFor({ timeout: WAIT })
    // And what Ben writes reaches Ana the same way.
    await post(pb, { title: 'Ladder, 3 m' })
    await boardIs(pa, ['Drill to lend', 'Ladder, 3 m'])
    // Chromium is no Safari: no storage notice.
    await noticeState(pb, 'none')
    assert.equal(await pb.getByTestId('safari-storage-notice').count(), 0)

    assert.deepEqual(errors, [])
    const warnings = ben.logs.filter(l => l.includes('cannot create a peer connection'))
    assert.ok(warnings.length <= 1, `warned ${warnings.length} times:\n${warnings.join('\n')}`)
    assert.ok(!ben.logs.some(l => /panicked|RuntimeError|unreachable executed/.test(l)), ben.logs.join('\n'))
  }))

  test('b: Safari on an iPhone explains once that its data may be deleted; dismissed, it stays gone', () => withLogs(async () => {
    const served = await app({ nostr: [relay.url] })
    const phone = await device('wi', { userAgent: IPHONE })
    const page = await phone.page(served.url)
    await noticeState(page, 'shown')
    const notice = page.getByTestId('safari-storage-notice')
    assert.equal(await notice.count(), 1)
    assert.match(await notice.innerText(), /7 days/)
    assert.match(await notice.innerText(), /Add to Home Screen/)
    await page.getByTestId('safari-notice-dismiss').click()
    await noticeState(page, 'dismissed')
    assert.equal(await notice.count(), 0)

    await page.reload()
    await noticeState(page, 'dismissed')
    assert.equal(await notice.count(), 0)
    // Still gone in a room.
    await createRoom(page, 'Phone room')
    assert.equal(await notice.count(), 0)
  }))
})
