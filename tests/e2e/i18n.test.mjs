// End-to-end: the app speaks the browser's language (Spanish here), writes amounts the way that
// language writes numbers, and the person can switch languages in Settings.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { checkA11y, section, useServers, WAIT } from './harness.mjs'

const servers = useServers({ before, after })

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
    await pot.getByTestId('record-amount').fill('1234,50')
    await pot.getByTestId('record-memo').fill('Cuotas')
    await pot.getByTestId('record').click()
    await pot.getByTestId('confirm-large-yes').filter({ hasText: 'Sí, registrar 1.234,50 EUR' }).click()
    const line = pot.locator('[data-testid=line][data-memo=Cuotas]')
    await line.filter({ hasText: 'entrada 1.234,50 EUR' }).waitFor({ timeout: WAIT })
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
    await line.filter({ hasText: 'money in 1,234.50 EUR' }).waitFor({ timeout: WAIT })
    await line.getByTestId('line-state').filter({ hasText: 'waiting for another member to confirm it' }).waitFor({ timeout: WAIT })
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'en')
  }))
})
