// End-to-end: meeting points known offline (issue 13). The network configuration (config.json:
// relays, signaling servers, ICE servers) goes with the installed app and is kept in IndexedDB,
// and a device that started without it syncs as soon as the network returns, with no reload.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createRoom, post, section, shareLink, useServers, waitFor, WAIT } from './harness.mjs'

const servers = useServers({ before, after })
const { device, withLogs } = servers

/** A device whose browser has no app cache to lean on (service workers blocked). */
function bare (name) {
  return device(name, { serviceWorkers: 'block' })
}

/** Makes config.json unreachable for the device (as with no network), until `reachable`. */
async function unreachable (d) {
  await d.context.route('**/config.json', route => route.abort('internetdisconnected'))
}
async function reachable (d) {
  await d.context.unroute('**/config.json')
}

/** Follows a room link within the page already open (no load: it may be offline) and joins. */
async function joinHere (page, link) {
  await page.evaluate(hash => { location.hash = hash }, new URL(link).hash)
  await page.getByTestId('join-confirm').click({ timeout: WAIT })
  await page.getByTestId('room-name').waitFor({ timeout: WAIT })
}

/** Ana's room, with a post in it, on a device that starts online. */
async function anasRoom (name, title) {
  const ana = await device(`ana-${name.replace(/\W/g, '-')}`).open()
  const pa = await ana.page(servers.app.url)
  await createRoom(pa, name)
  await post(pa, { kind: 'offer', title, category: 'Goods' })
  return shareLink(pa)
}

/** A device setting as IndexedDB holds it (null if unset). */
async function setting (page, key) {
  return page.evaluate(key => new Promise((resolve, reject) => {
    const open = indexedDB.open('tequio')
    open.onerror = () => reject(open.error)
    open.onsuccess = () => {
      const get = open.result.transaction('settings').objectStore('settings').get(key)
      get.onsuccess = () => { open.result.close(); resolve(get.result ?? null) }
      get.onerror = () => { open.result.close(); reject(get.error) }
    }
  }), key)
}

/** Waits until the room shows Ana's post, and Settings lists the configured signaling server up. */
async function synced (page, name, title) {
  await page.getByTestId('room-name').filter({ hasText: name }).waitFor({ timeout: WAIT })
  await section(page, 'board')
  await page.locator(`[data-testid=post][data-title="${title}"]`).waitFor({ timeout: WAIT })
  await section(page, 'settings')
  await page.locator(`[data-testid=server][data-url="${servers.signaling.url}"][data-up="1"]`)
    .waitFor({ timeout: WAIT })
}

describe('meeting points known offline', () => {
  test('a first visit made offline syncs as soon as the network returns, with no reload', () => withLogs(async () => {
    const link = await anasRoom('Seed library', 'Tomato seeds')

    // Ben's app starts while config.json cannot be fetched, then the network goes.
    const ben = await bare('ben').open()
    await unreachable(ben)
    const pb = await ben.page(servers.app.url)
    await pb.getByLabel('Room name').waitFor({ timeout: WAIT })
    await ben.context.setOffline(true)
    await pb.getByTestId('offline').waitFor({ timeout: WAIT })
    await joinHere(pb, link)
    assert.equal(await pb.getByTestId('room-name').innerText(), 'Waiting for the room…')
    await pb.evaluate(() => { window.__sameVisit = true })

    // The network returns: the room arrives, and Settings lists where devices meet.
    await reachable(ben)
    await ben.context.setOffline(false)
    await synced(pb, 'Seed library', 'Tomato seeds')
    assert.equal(await pb.evaluate(() => window.__sameVisit), true, 'the page was not reloaded')
    // Kept for the next start without a network.
    assert.deepEqual(JSON.parse(await setting(pb, 'shipped_net')).signaling, [servers.signaling.url])
  }))

  test('a device that once fetched config.json starts without it from the copy it kept', () => withLogs(async () => {
    const link = await anasRoom('Tool shed', 'Ladder')

    // Cara's first start fetches config.json; her next one cannot.
    const cara = await bare('cara').open()
    const pc = await cara.page(servers.app.url)
    await pc.getByLabel('Room name').waitFor({ timeout: WAIT })
    await waitFor('config.json kept', async () => typeof (await setting(pc, 'shipped_net')) === 'string')
    await cara.close()
    await cara.open()
    await unreachable(cara)
    const again = await cara.page(servers.app.url)
    await again.getByLabel('Room name').waitFor({ timeout: WAIT })
    await joinHere(again, link)
    await synced(again, 'Tool shed', 'Ladder')
  }))

  test('the installed app keeps config.json with its shell', () => withLogs(async () => {
    const dan = await device('dan').open()
    const page = await dan.page(servers.app.url)
    // Control comes once the worker installed (caching the shell) and activated.
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: WAIT })
    const kept = await page.evaluate(async () => {
      const response = await caches.match('./config.json')
      return response ? (await response.json()).signaling : null
    })
    assert.deepEqual(kept, [servers.signaling.url])
  }))
})
