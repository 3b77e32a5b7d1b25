// End-to-end: settings and exports. A room is exported (backup, ledger and contributions as CSV,
// ValueFlows JSON), the backup merges back into the device it came from without losing later
// changes, restores the room (and its member) on a device that never had it, and bad files and
// bad server addresses are refused with a reason.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { createRoom, follow, joinAndBeVouched, post, postItem, recordInPot, saved, section, shareLink, standing, useServers, WAIT } from './harness.mjs'

const servers = useServers({ before, after })
const { device, withLogs } = servers

async function download (page, testid) {
  const [file] = await Promise.all([page.waitForEvent('download'), page.getByTestId(testid).click()])
  return { name: file.suggestedFilename(), text: await readFile(await file.path(), 'utf8') }
}

async function importFile (page, file) {
  await page.goto(servers.app.url)
  await page.getByTestId('import-file').setInputFiles(file)
}

describe('settings and exports', () => {
  test('a room is exported, merged back, restored elsewhere; bad files and addresses are refused', () => withLogs(async () => {
    const a = await device('xa').open()
    const pa = await a.page(servers.app.url)
    await createRoom(pa, 'Repair café', 'Ana')
    // Bo joins to confirm Ana's money in: it counts (and is exported as a transfer) only then.
    const b = await device('xb').open()
    const pb = await b.page()
    await joinAndBeVouched(pb, await shareLink(pa), 'Repair café', 'Bo', pa)
    await post(pa, { title: 'Need a soldering iron' })
    await section(pa, 'pot')
    await pa.getByTestId('pot-name').fill('Common pot')
    await pa.getByTestId('open-pot-submit').click()
    const pot = await recordInPot(pa, 'Common pot', 'inflow', '25,50', 'Donation, jar')
    await section(pb, 'pot')
    await pb.locator('[data-testid=pot][data-name="Common pot"] [data-testid=line][data-memo="Donation, jar"]').getByTestId('confirm').click()
    await saved(pb)
    await pot.getByTestId('balance').filter({ hasText: '25.50 EUR' }).waitFor({ timeout: WAIT })
    await b.close()

    await section(pa, 'settings')
    await pa.getByTestId('set-name').fill('Ana María')
    await pa.getByTestId('save-name').click()
    await saved(pa)
    await section(pa, 'members')
    await pa.locator('[data-testid=member] strong').filter({ hasText: 'Ana María' }).waitFor({ timeout: WAIT })

    await section(pa, 'settings')
    const ledger = await download(pa, 'export-ledger')
    assert.match(ledger.name, /^tequio-repair-café-\d{4}-\d{2}-\d{2}-ledger\.csv$/)
    const rows = ledger.text.trim().split('\r\n')
    assert.equal(rows[0], 'pot,time,kind,amount,unit,memo,author,author_key,state,id')
    assert.match(rows[1], /^Common pot,\d{4}-\d\d-\d\dT[\d:]+Z,inflow,25\.50,EUR,"Donation, jar",Ana María,/)
    const contributions = await download(pa, 'export-contributions')
    assert.match(contributions.text, /^date,contributor,contributor_key,value_type,quantity/)
    const vf = JSON.parse((await download(pa, 'export-valueflows')).text)
    const transfer = vf['@graph'].find(e => e.action === 'transfer')
    assert.deepEqual(transfer.resourceQuantity, { hasNumericalValue: '25.50', hasUnit: 'EUR' })
    assert.equal(transfer.provider.name, 'Ana María')
    const link = await shareLink(pa)
    const backup = await download(pa, 'export-backup')
    const backupFile = path.join(os.tmpdir(), `tequio-e2e-${process.pid}-backup.json`)
    await writeFile(backupFile, backup.text)

    // A change made after the backup survives importing it again: imports merge.
    await post(pa, { title: 'Need glue' })
    await importFile(pa, backupFile)
    await pa.getByTestId('import-done').filter({ hasText: 'Merged the backup into “Repair café”' }).waitFor({ timeout: WAIT })
    await pa.getByTestId('room-link').filter({ hasText: 'Repair café' }).click()
    await section(pa, 'board')
    for (const t of ['Need glue', 'Need a soldering iron']) await postItem(pa, t).waitFor({ timeout: WAIT })
    await a.close()

    // A device that never had the room gets it, and Ana, back from the file alone.
    const c = await device('xc').open()
    const pc = await c.page()
    const junk = path.join(os.tmpdir(), `tequio-e2e-${process.pid}-junk.json`)
    await writeFile(junk, '{"format":"something else"}')
    await importFile(pc, junk)
    await pc.getByTestId('import-error').filter({ hasText: 'That file is not a Tequio room backup' }).waitFor({ timeout: WAIT })
    await pc.getByTestId('no-rooms').waitFor({ timeout: WAIT })
    await pc.getByTestId('import-file').setInputFiles(backupFile)
    await pc.getByTestId('import-done').filter({ hasText: 'Restored “Repair café”' }).waitFor({ timeout: WAIT })
    await pc.getByTestId('room-link').filter({ hasText: 'Repair café' }).click()
    await section(pc, 'board')
    await postItem(pc, 'Need a soldering iron').waitFor({ timeout: WAIT })
    await section(pc, 'members')
    await standing(pc, 'admitted')
    await pc.locator('[data-testid=member] strong').filter({ hasText: 'Ana María' }).waitFor({ timeout: WAIT })

    await section(pc, 'settings')
    await pc.getByTestId('room-bytes').filter({ hasText: /This room: \d+ KB/ }).waitFor({ timeout: WAIT })
    await pc.getByTestId('set-signaling').fill('http://example.invalid')
    await pc.getByTestId('save-network').click()
    await pc.getByText('http://example.invalid is not a ws:// or wss:// address.').waitFor({ timeout: WAIT })
    await pc.getByTestId('set-signaling').fill(servers.signaling.url)
    await pc.getByTestId('set-ice').fill('stun:127.0.0.1:3478')
    await pc.getByTestId('save-network').click()
    await pc.getByTestId('network-saved').waitFor({ timeout: WAIT })
    // Kept on the device: shown again after a reload.
    await pc.reload()
    await section(pc, 'settings')
    assert.equal(await pc.getByTestId('set-ice').inputValue(), 'stun:127.0.0.1:3478')

    // Ana on a new phone: she opened the room link there first (a key of its own, no member),
    // then restores her backup. Her member key is offered, not switched silently.
    const d = await device('xd').open()
    const pd = await d.page()
    await follow(pd, link)
    await pd.getByTestId('waiting').waitFor({ timeout: WAIT })
    await importFile(pd, backupFile)
    await pd.getByTestId('import-done').filter({ hasText: 'Merged the backup' }).waitFor({ timeout: WAIT })
    await pd.getByTestId('key-offer').filter({ hasText: 'Ana María' }).waitFor({ timeout: WAIT })
    await pd.getByTestId('use-backup-key').click()
    await pd.getByTestId('import-done').filter({ hasText: 'as Ana María' }).waitFor({ timeout: WAIT })
    await pd.getByTestId('room-link').click()
    await pd.getByTestId('room-name').filter({ hasText: 'Repair café' }).waitFor({ timeout: WAIT })
    await section(pd, 'members')
    await standing(pd, 'admitted')
  }))
})
