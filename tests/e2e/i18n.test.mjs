// End-to-end: the app speaks the browser's language (Spanish here), writes amounts the way that
// language writes numbers, and the person can switch languages in Settings; and a whole scenario
// in Spanish shows no English on any screen (the rendered text scanned against the table).
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { checkA11y, follow, saved, section, standing, useServers, WAIT } from './harness.mjs'

const servers = useServers({ before, after })

/** The translation table as the app ships it: [English, Spanish] pairs read from src/i18n_es.rs. */
async function table () {
  const source = await readFile(new URL('../../src/i18n_es.rs', import.meta.url), 'utf8')
  const pairs = []
  const literal = String.raw`"((?:[^"\\]|\\.)*)"`
  for (const m of source.matchAll(new RegExp(String.raw`\(\s*${literal}\s*,\s*${literal}\s*,?\s*\)`, 'g'))) {
    pairs.push([JSON.parse(`"${m[1]}"`), JSON.parse(`"${m[2]}"`)])
  }
  return pairs
}

/**
 * Words that never belong on a Spanish screen (matched as whole words, as written or
 * capitalised).
 */
const ENGLISH_WORDS = [
  'the', 'and', 'of', 'with', 'from', 'by', 'to', 'in', 'out', 'is', 'are', 'at', 'or', 'on', 'for', 'this', 'that',
  'your', 'you', 'yet', 'not', 'here', 'each', 'every', 'member', 'members', 'pot', 'pots', 'counted', 'peer',
  'peers', 'founder', 'work', 'care', 'money', 'materials', 'knowledge', 'share', 'shares', 'expense', 'agree',
  'abstain', 'disagree', 'block', 'hours', 'days', 'week', 'day', 'edited', 'never', 'written', 'pending', 'left',
  'removed', 'approved', 'reversed', 'waiting', 'consent', 'majority', 'licence', 'steward', 'task', 'tasks',
  'things', 'page', 'pages', 'decision', 'decisions', 'room', 'settings', 'save', 'cancel', 'closes', 'closed',
  'proposed', 'taking', 'part', 'none', 'started', 'members only', 'written by', 'since', 'until', 'loan', 'lent',
]

/** Everything a person can read on the page: lines, text nodes, labels given as attributes, dialogs. */
async function screenText (page) {
  return page.evaluate(() => {
    const units = document.body.innerText.split('\n')
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT)
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      if (!['SCRIPT', 'STYLE'].includes(n.parentElement?.tagName)) units.push(n.textContent)
    }
    for (const el of document.querySelectorAll('[placeholder], [aria-label], [title], [alt], input[type=submit], input[type=button]')) {
      for (const a of ['placeholder', 'aria-label', 'title', 'alt']) if (el.hasAttribute(a)) units.push(el.getAttribute(a))
      if (el.matches('input[type=submit], input[type=button]')) units.push(el.value)
    }
    units.push(document.title)
    return units.map(u => u.trim()).filter(Boolean)
  })
}

/**
 * Checks that no text on the page is English: no text unit is an English key of the table whose
 * Spanish differs (templates matched with their values), and no unit holds a word of
 * ENGLISH_WORDS. What the test typed itself (`typed`) and links are taken out first.
 */
function englishIn (units, pairs, typed) {
  const spanish = new Set(pairs.map(([, es]) => es.trim()))
  const escape = s => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  const keys = []
  for (const [en, es] of pairs) {
    const key = en.trim()
    if (key === es.trim() || spanish.has(key) || !/[A-Za-z]{2}/.test(key.replace(/\{\d*\}/g, ''))) continue
    keys.push(/\{\d*\}/.test(key)
      ? { key, re: new RegExp(`^${key.split(/\{\d*\}/).map(escape).join('.+?')}$`, 's') }
      : { key, re: null })
  }
  const words = new Set(ENGLISH_WORDS.flatMap(w => [w, w[0].toUpperCase() + w.slice(1)]))
  const found = new Set()
  for (const unit of units) {
    for (const { key, re } of keys) {
      if (re ? re.test(unit) : unit === key) found.add(`"${unit}" is the English "${key}"`)
    }
    let text = unit.replace(/\S*(?:https?:\/\/|#\/)\S*/g, ' ')
    for (const t of typed) text = text.split(t).join(' ')
    for (const phrase of ENGLISH_WORDS.filter(w => w.includes(' '))) {
      if (text.toLowerCase().includes(phrase)) found.add(`"${unit}" says "${phrase}"`)
    }
    for (const word of text.match(/\p{L}+/gu) ?? []) {
      if (words.has(word)) found.add(`"${unit}" says "${word}"`)
    }
  }
  return [...found]
}

/**
 * Records money in or an expense in the named pot, saying yes when the app asks about an amount
 * far beyond what the pot has seen, and waits for its line.
 */
async function recordInPot (page, potName, kind, amount, memo) {
  const pot = page.locator(`[data-testid=pot][data-name="${potName}"]`)
  await pot.getByTestId(`record-kind-${kind}`).check()
  await pot.getByTestId('record-amount').fill(amount)
  await pot.getByTestId('record-memo').fill(memo)
  await pot.getByTestId('record').click()
  const line = pot.locator(`[data-testid=line][data-memo="${memo}"]`)
  const yes = pot.getByTestId('confirm-large-yes')
  await line.or(yes).first().waitFor({ timeout: WAIT })
  if (await yes.isVisible()) await yes.click()
  await line.waitFor({ timeout: WAIT })
  return pot
}

describe('languages', () => {
  test('a Spanish browser gets Spanish, with Spanish numbers, until English is chosen', () => servers.withLogs(async () => {
    const d = await servers.device('es', { locale: 'es-MX' }).open()
    const page = await d.page(servers.app.url)
    await page.getByRole('heading', { name: 'Mis salas' }).waitFor({ timeout: WAIT })
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'es')
    await checkA11y(page, 'the Spanish start page')
    await page.getByLabel('Nombre de la sala').fill('Cocina vecinal')
    await page.getByLabel('Tu nombre en esta sala').fill('Ana')
    await page.getByTestId('template-time-bank').check()
    await page.getByRole('button', { name: 'Crear una sala' }).click()
    await page.getByTestId('room-name').filter({ hasText: 'Cocina vecinal' }).waitFor({ timeout: WAIT })
    await page.getByTestId('nav-pot').filter({ hasText: 'Fondo común' }).waitFor({ timeout: WAIT })
    // The activity feed is told in Spanish as well.
    await page.getByTestId('activity').getByText('se presentó como Ana').waitFor({ timeout: WAIT })

    await section(page, 'pot')
    // Refusals from the model are in Spanish too.
    await page.getByTestId('open-pot-submit').click()
    await page.getByText('El nombre no puede estar vacío.').waitFor({ timeout: WAIT })
    await page.getByTestId('pot-name').fill('Fondo')
    await page.getByTestId('open-pot-submit').click()
    // Money in waits for another member to confirm it (this room has one), told in Spanish;
    // its amount is written the Spanish way.
    // An amount this large in a new pot is asked about first, in Spanish numbers as well.
    const pot = page.locator('[data-testid=pot][data-name=Fondo]')
    await pot.getByTestId('record-kind-inflow').check()
    await pot.getByTestId('record-amount').fill('12345,50')
    await pot.getByTestId('record-memo').fill('Cuotas')
    await pot.getByTestId('record').click()
    await pot.getByTestId('confirm-large-yes').filter({ hasText: 'Sí, registrar 12.345,50 EUR' }).click()
    const line = pot.locator('[data-testid=line][data-memo=Cuotas]')
    await line.filter({ hasText: 'entrada 12.345,50 EUR' }).waitFor({ timeout: WAIT })
    await line.getByTestId('line-state').filter({ hasText: 'esperando a que otro miembro lo confirme' }).waitFor({ timeout: WAIT })
    await pot.getByTestId('balance').filter({ hasText: '0,00 EUR' }).waitFor({ timeout: WAIT })
    // Every Spanish screen passes axe-core's WCAG 2.1 A/AA rules as the English ones do.
    for (const name of ['home', 'board', 'things', 'tasks', 'pages', 'members', 'pot', 'contributions', 'decisions', 'charter', 'settings']) {
      await section(page, name)
      await checkA11y(page, `${name} in Spanish`)
    }

    await section(page, 'settings')
    await page.getByTestId('set-lang').selectOption('en')
    await page.getByTestId('nav-pot').filter({ hasText: 'Common pot' }).waitFor({ timeout: WAIT })
    await section(page, 'pot')
    await line.filter({ hasText: 'money in 12,345.50 EUR' }).waitFor({ timeout: WAIT })
    await line.getByTestId('line-state').filter({ hasText: 'waiting for another member to confirm it' }).waitFor({ timeout: WAIT })
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'en')
  }))

  test('a whole scenario in Spanish shows no English on any screen', () => servers.withLogs(async () => {
    const pairs = await table()
    assert.ok(pairs.length > 500, `read only ${pairs.length} pairs from the table`)
    // What the test types: names and titles, in Spanish or neutral, taken out before the scan.
    const typed = ['Ana', 'Bo', 'Taller del barrio', 'Taladro', 'Escalera', 'Normas', 'Hola a todas',
      'Caja', 'Cuotas', 'Pintura', 'Limpiar el patio', 'Arreglo de la puerta', '¿Pintamos la puerta?',
      'Muy bien', 'No me convence', 'Sí', 'Amarillo', 'Azul']
    const problems = []
    const dialogs = []
    const scan = async (page, where) => {
      if (await page.getByTestId('save-state').count()) await saved(page)
      for (const p of englishIn(await screenText(page), pairs, typed)) problems.push(`${where}: ${p}`)
    }
    const [a, b] = await Promise.all(['es-a', 'es-b'].map(n => servers.device(n, { locale: 'es-ES' }).open()))
    const pa = await a.page(servers.app.url)
    const pb = await b.page()
    for (const p of [pa, pb]) {
      p.on('dialog', async dialog => { dialogs.push(dialog.message()); await dialog.dismiss() })
    }
    await pa.getByRole('heading', { name: 'Mis salas' }).waitFor({ timeout: WAIT })
    await scan(pa, 'start page')

    // Ana founds a tool library; Bo joins and is vouched in.
    await pa.getByLabel('Nombre de la sala').fill('Taller del barrio')
    await pa.getByLabel('Tu nombre en esta sala').fill('Ana')
    await pa.getByTestId('template-tool-library').check()
    await pa.getByRole('button', { name: 'Crear una sala' }).click()
    await pa.getByTestId('room-name').filter({ hasText: 'Taller del barrio' }).waitFor({ timeout: WAIT })
    if (!(await pa.getByTestId('share-link').isVisible())) await pa.getByRole('button', { name: 'Compartir', exact: true }).click()
    const link = await pa.getByTestId('share-link').inputValue()
    await follow(pb, link)
    await pb.getByTestId('room-name').filter({ hasText: 'Taller del barrio' }).waitFor({ timeout: WAIT })
    await section(pb, 'members')
    await pb.getByTestId('profile-name').fill('Bo')
    await pb.getByTestId('profile-save').click()
    await standing(pb, 'pending')
    await scan(pb, 'members, pending')
    await section(pa, 'members')
    await pa.locator('[data-testid=pending-member][data-name=Bo]').getByTestId('vouch').click()
    await standing(pb, 'admitted')

    // A need on the board, with a reply.
    await section(pa, 'board')
    await pa.getByLabel('Necesidad', { exact: true }).check()
    await pa.getByLabel('Título', { exact: true }).fill('Taladro')
    await pa.getByLabel('Descripción', { exact: true }).fill('Hola a todas')
    await pa.getByRole('button', { name: 'Publicar', exact: true }).click()
    await pa.locator('[data-testid=post][data-title=Taladro]').waitFor({ timeout: WAIT })

    // A thing, lent to Bo.
    await section(pa, 'things')
    await pa.getByTestId('resource-name').fill('Escalera')
    await pa.getByTestId('add-resource-submit').click()
    const ladder = pa.locator('[data-testid=resource][data-name=Escalera]')
    await ladder.waitFor({ timeout: WAIT })
    await ladder.getByTestId('lend-to').selectOption({ label: 'Bo' })
    await ladder.getByTestId('hand-over').click()
    await ladder.getByTestId('holder').filter({ hasText: 'Bo' }).waitFor({ timeout: WAIT })

    // A page.
    await section(pa, 'pages')
    await pa.getByTestId('new-page').click()
    await pa.getByTestId('page-title').fill('Normas')
    await pa.getByTestId('page-text').fill('Hola a todas')
    await pa.getByTestId('create').click()
    await pa.getByTestId('page-rendered').filter({ hasText: 'Hola a todas' }).waitFor({ timeout: WAIT })

    // A pot with money in (confirmed by Bo) and an expense waiting for approval.
    await section(pa, 'pot')
    await pa.getByTestId('pot-name').fill('Caja')
    await pa.getByTestId('open-pot-submit').click()
    await recordInPot(pa, 'Caja', 'inflow', '1234,50', 'Cuotas')
    await recordInPot(pa, 'Caja', 'expense', '20', 'Pintura')
    await section(pb, 'pot')
    await pb.locator('[data-testid=pot][data-name=Caja] [data-testid=line][data-memo=Cuotas]').getByTestId('confirm').click()
    await pa.locator('[data-testid=pot][data-name=Caja] [data-testid=balance]').filter({ hasText: '1.234,50' }).waitFor({ timeout: WAIT })

    // A decision with a change to the charter, and one between options; stances with reasons.
    await section(pa, 'decisions')
    await pa.getByTestId('decision-title').fill('¿Pintamos la puerta?')
    await pa.getByTestId('decision-change').selectOption('method')
    await pa.getByTestId('decision-value').fill('consent')
    await pa.getByTestId('propose').click()
    const decision = p => p.locator('[data-testid=decision][data-title="¿Pintamos la puerta?"]')
    await decision(pa).waitFor({ timeout: WAIT })
    await decision(pa).getByLabel('Razón (opcional)').fill('Muy bien')
    await decision(pa).locator('[data-testid=stance][data-stance=Agree]').click()
    await section(pb, 'decisions')
    await decision(pb).getByLabel('Razón (opcional)').fill('No me convence')
    await decision(pb).locator('[data-testid=stance][data-stance=Block]').click()
    await decision(pa).getByTestId('stance-row').nth(1).waitFor({ timeout: WAIT })
    await pa.getByTestId('decision-title').fill('Sí')
    await pa.getByTestId('method-majority').check()
    await pa.getByTestId('decision-options').fill('Amarillo\nAzul')
    await pa.getByTestId('propose').click()
    // Both answer; the decision closes (or its proposer closes it) and shows its outcome.
    const vote = p => p.locator('[data-testid=decision][data-title="Sí"]')
    await vote(pa).locator('[data-testid=stance][data-stance=Amarillo]').click()
    await vote(pb).locator('[data-testid=stance][data-stance=Azul]').click()
    const closed = pa.locator('[data-testid=decision][data-title="Sí"]:not([data-outcome=open])')
    await closed.or(vote(pa).getByTestId('close-decision')).first().waitFor({ timeout: WAIT })
    if (!(await closed.count())) await vote(pa).getByTestId('close-decision').click()
    await closed.waitFor({ timeout: WAIT })

    // A contribution for Ana, a task Bo takes on.
    await section(pb, 'contributions')
    await pb.getByTestId('contribution-quantity').fill('1:30')
    await pb.getByTestId('contribution-description').fill('Arreglo de la puerta')
    await pb.getByTestId('contribution-beneficiary').selectOption({ label: 'Ana' })
    await pb.getByTestId('log').click()
    await pb.locator('[data-testid=contribution][data-description="Arreglo de la puerta"]').waitFor({ timeout: WAIT })
    await section(pa, 'tasks')
    await pa.getByTestId('task-title').fill('Limpiar el patio')
    await pa.getByTestId('task-slots').fill('1')
    await pa.getByTestId('add').click()
    const task = p => p.locator('[data-testid=task][data-title="Limpiar el patio"]')
    await task(pa).waitFor({ timeout: WAIT })
    await section(pb, 'tasks')
    await task(pb).getByTestId('claim').click()
    await task(pa).getByTestId('claimed-by').filter({ hasText: 'Bo' }).waitFor({ timeout: WAIT })

    // Bo starts to leave the room and thinks better of it (the question is asked in Spanish).
    await section(pb, 'members')
    await pb.getByTestId('leave').click()
    await standing(pb, 'admitted')

    // Every screen, on both devices, with every details element opened.
    for (const [p, who] of [[pa, 'Ana'], [pb, 'Bo']]) {
      for (const name of ['home', 'board', 'things', 'tasks', 'pages', 'members', 'pot', 'contributions', 'decisions', 'charter', 'settings']) {
        await section(p, name)
        await p.evaluate(() => { for (const el of document.querySelectorAll('details')) el.open = true })
        await scan(p, `${who}, ${name}`)
      }
    }
    // Amounts in the activity feed are written the Spanish way too (numbers are no words: the
    // scan above cannot see a "1,234.50").
    await section(pa, 'home')
    await pa.getByTestId('activity').getByText('registró una entrada: 1.234,50 EUR en Caja').waitFor({ timeout: WAIT })
    // Each way of proposing a change shows its own fields.
    await section(pa, 'decisions')
    for (const change of await pa.getByTestId('decision-change').locator('option').evaluateAll(os => os.map(o => o.value))) {
      await pa.getByTestId('decision-change').selectOption(change)
      await scan(pa, `Ana, proposing "${change}"`)
    }
    // The start page, now listing the room.
    await pa.goto(servers.app.url)
    await pa.getByRole('heading', { name: 'Mis salas' }).waitFor({ timeout: WAIT })
    await pa.getByText('Taller del barrio').first().waitFor({ timeout: WAIT })
    await scan(pa, 'start page with a room')
    for (const message of dialogs) {
      for (const p of englishIn([message], pairs, typed)) problems.push(`a dialog: ${p}`)
    }
    assert.ok(dialogs.length > 0, 'leaving asked nothing')
    assert.deepEqual([...new Set(problems)], [])
  }))
})
