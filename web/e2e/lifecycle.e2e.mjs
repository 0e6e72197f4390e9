// An instance's life in a real browser (Debian's Chromium through playwright-core) on a real
// host: tests/e2e/rainbow_lifecycle_browser_test.cpp starts PostgreSQL, sparkle, a twilight on
// libvirt's test driver (host HOST_NAME, online) and rainbow, then runs this with:
//   RAINBOW_URL, SPARKLE_URL (cloud "east"), ADMIN_USER, ADMIN_PASSWORD, HOST_NAME, ARTIFACT_DIR,
//   TWILIGHT_PID (killed at the end, for the outage the operator must confirm).
// The page is never reloaded: every change must arrive by the event stream. Exits non-zero on
// the first failed step, naming it.
import { randomBytes } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { chromium } from 'playwright-core'

const env = (name) => {
  const value = process.env[name]
  if (!value) throw new Error(`${name} is not set`)
  return value
}
const RAINBOW = env('RAINBOW_URL')
const SPARKLE = env('SPARKLE_URL')
const ADMIN = env('ADMIN_USER')
const ADMIN_PASSWORD = env('ADMIN_PASSWORD')
const HOST = env('HOST_NAME')
const TWILIGHT_PID = Number(env('TWILIGHT_PID'))
const ARTIFACTS = process.env.ARTIFACT_DIR ?? 'test-results'
mkdirSync(ARTIFACTS, { recursive: true })
const TIMEOUT = 30000

// --- set-up through Sparkle's API: a tenant, its member, an image ------------------------------
async function api(method, path, token, body, headers = {}) {
  const raw = body instanceof Uint8Array
  const response = await fetch(SPARKLE + path, {
    method,
    headers: { 'Content-Type': raw ? 'application/octet-stream' : 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}), ...headers },
    body: body === undefined ? undefined : raw ? body : JSON.stringify(body),
  })
  const text = await response.text()
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`)
  return text ? JSON.parse(text) : undefined
}
const login = async (tenant) => (await api('POST', '/api/v1/auth/tokens', null, { username: ADMIN, password: ADMIN_PASSWORD, ...(tenant ? { tenant } : {}) })).token
const run = randomBytes(3).toString('hex')
const TENANT = `acme-${run}`
const ALICE = `alice-${run}`
const alicePassword = randomBytes(12).toString('hex')
const adminToken = await login()
const tenant = await api('POST', '/api/v1/tenants', adminToken, { name: TENANT })
await api('POST', '/api/v1/users', adminToken, { username: ALICE, password: alicePassword, home_tenant_id: tenant.id, role: 'member' })
const tenantAdmin = await login(TENANT)
const image = await api('POST', '/api/v1/images', tenantAdmin, { name: 'tiny' })
await api('PUT', `/api/v1/images/${image.id}/file`, tenantAdmin, new Uint8Array(65536))

// --- the browser -------------------------------------------------------------------------------
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
})
let step = 'start'
let stepStarted = Date.now()
// Each step's wall time in the output: where a slow run spent its time.
const begin = (name) => {
  console.log(`${((Date.now() - stepStarted) / 1000).toFixed(1).padStart(6)} s  ${step}`)
  step = name
  stepStarted = Date.now()
}
let page
const shot = (name) => page.screenshot({ path: `${ARTIFACTS}/${name}.png`, fullPage: true })
async function expectVisible(locator, what, timeout = TIMEOUT) {
  try {
    await locator.first().waitFor({ state: 'visible', timeout })
  } catch {
    throw new Error(`not visible: ${what}`)
  }
}
async function logIn(username, password, tenantName) {
  await page.getByLabel('Username').fill(username)
  await page.getByLabel('Password').fill(password)
  if (tenantName) await page.getByLabel('Tenant (optional)').fill(tenantName)
  await page.getByRole('button', { name: 'Log in' }).click()
  await page.getByRole('heading', { level: 1, name: 'east', exact: true }).waitFor({ timeout: TIMEOUT })
}
// Every text the state badge shows, in order, however briefly: a pending state may last only
// as long as the host takes to act.
const recordStates = () =>
  page.evaluate(() => {
    window.__states = []
    const note = () => {
      const badge = document.querySelector('[data-testid=state]')
      const text = badge?.textContent?.trim()
      if (text && window.__states.at(-1) !== text) window.__states.push(text)
    }
    note()
    new MutationObserver(note).observe(document.body, { subtree: true, childList: true, characterData: true })
  })
const states = () => page.evaluate(() => window.__states)

try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } })
  page = await context.newPage()
  page.on('dialog', (dialog) => dialog.accept())
  page.on('pageerror', (error) => console.error('page error:', error.message))

  begin('alice logs in')
  await page.goto(`${RAINBOW}/#/c/east/login`)
  // A reload would lose this: it proves that everything below happened in one page load.
  await page.evaluate(() => (window.__sameLoad = true))
  await logIn(ALICE, alicePassword, TENANT)

  begin('create an instance in the form')
  await page.getByRole('link', { name: 'Instances' }).click()
  await page.getByRole('link', { name: 'New instance' }).click()
  await page.getByLabel('Name', { exact: true }).fill('lifecycle-1')
  await page.getByLabel('Image').selectOption({ label: 'tiny' })
  await page.getByRole('button', { name: 'Create instance' }).click()
  await expectVisible(page.getByRole('heading', { name: 'lifecycle-1' }), 'the new instance page')
  await recordStates()

  begin('the instance becomes running without a reload')
  await expectVisible(page.getByTestId('state').getByText('running', { exact: true }), 'the instance running')
  await expectVisible(page.getByTestId('events').locator('li[data-kind=created]'), 'the created event in the list')
  await expectVisible(page.getByTestId('events').locator('li[data-kind=state_changed]').getByText('running'), 'the change to running in the event list')
  await expectVisible(page.getByTestId('console').or(page.getByTestId('console-empty')), 'the console section')

  begin('the tenant sees its performance graphs fill')
  const graphs = page.getByTestId('instance-metrics')
  await expectVisible(graphs.locator('svg[aria-label^="CPU (of its vCPUs): now"]'), 'the CPU graph with samples')
  await expectVisible(graphs.locator('svg[aria-label^="Disk write: now"]'), 'the disk graph with samples')
  await graphs.getByRole('button', { name: '24 hours' }).click()
  await expectVisible(graphs.locator('svg[aria-label^="Memory: now"]'), 'the day graph')
  await graphs.getByRole('button', { name: '1 hour' }).click()
  await shot('instance-running')

  begin('stop it: stopping… until the host reports it stopped')
  await recordStates()
  await page.getByRole('button', { name: 'Stop' }).click()
  await expectVisible(page.getByTestId('state').getByText('stopped', { exact: true }), 'the instance stopped')
  const seen = await states()
  if (!seen.includes('stopping…')) throw new Error(`the page never showed "stopping…": ${JSON.stringify(seen)}`)
  if (seen.indexOf('stopping…') > seen.lastIndexOf('stopped')) throw new Error(`stopped came before stopping…: ${JSON.stringify(seen)}`)
  await expectVisible(page.getByRole('button', { name: 'Start' }), 'start offered once stopped')
  await expectVisible(page.getByTestId('events').getByText('running → stopped'), 'the change to stopped in the event list')
  await shot('instance-stopped')

  begin('the instance list shows it stopped')
  await page.getByRole('link', { name: 'Instances' }).click()
  const row = page.locator('tr', { has: page.getByRole('link', { name: 'lifecycle-1' }) })
  await expectVisible(row.getByText('stopped', { exact: true }), 'lifecycle-1 stopped in the list')
  await shot('instances')

  begin('delete it: gone once the host removed it')
  await row.getByRole('link', { name: 'lifecycle-1' }).click()
  await expectVisible(page.getByRole('heading', { name: 'lifecycle-1' }), 'the instance page again')
  await page.getByRole('button', { name: 'Delete' }).click()
  await expectVisible(page.getByText('This instance was deleted.'), 'the instance gone')
  if (!(await page.evaluate(() => window.__sameLoad === true))) throw new Error('the page was reloaded')

  begin('the operator: overview with Sparkle\'s failover headroom')
  await page.getByRole('button', { name: 'Log out of east' }).click()
  await page.goto(`${RAINBOW}/#/c/east/login`)
  await logIn(ADMIN, ADMIN_PASSWORD)
  await expectVisible(page.getByTestId('headroom').getByText('survives'), 'the headroom from /placement/headroom')
  await expectVisible(page.getByText('1 / 1'), 'one host online of one')
  await shot('overview')

  begin('the operator: hosts page, host detail, load, evacuation plan')
  await page.getByRole('link', { name: 'Hosts' }).click()
  const hostRow = page.locator('tr', { has: page.getByRole('button', { name: HOST, exact: true }) })
  await expectVisible(hostRow.getByTestId('host-state').getByText('online'), `${HOST} online`)
  await hostRow.getByRole('button', { name: HOST, exact: true }).click()
  const detail = page.getByTestId('host-detail')
  await expectVisible(detail.getByRole('heading', { name: HOST }), 'the host detail')
  await expectVisible(detail.getByTestId('sparkline-latest'), 'the host load sparklines')
  await detail.getByRole('button', { name: 'Evacuation plan' }).click()
  await expectVisible(detail.getByTestId('evacuation-plan'), 'the evacuation plan')
  await shot('hosts')

  begin('an outage: the host stops, the page alerts, the operator confirms it is off')
  // The host dies without a word (kill -9); it has no fence method, so Sparkle must ask.
  process.kill(TWILIGHT_PID, 'SIGKILL')
  const alert = page.locator(`[data-host-alert="${HOST}"]`)
  await expectVisible(alert.getByText('no fence method'), 'the fencing alert', 60000)
  await expectVisible(hostRow.getByTestId('host-state').getByText('suspect'), `${HOST} suspect`)
  await shot('hosts-outage')
  await alert.getByRole('button', { name: `Confirm ${HOST} is off…` }).click()
  const dialog = page.getByRole('dialog', { name: `Confirm that ${HOST} is off` })
  await expectVisible(dialog, 'the confirmation dialog')
  const confirm = dialog.getByRole('button', { name: 'Confirm it is off' })
  if (!(await confirm.isDisabled())) throw new Error('confirm-off possible before the operator said they checked')
  await dialog.getByLabel(`I checked that ${HOST} is powered off`).check()
  await shot('confirm-off')
  await confirm.click()
  await dialog.waitFor({ state: 'detached', timeout: TIMEOUT })
  // Fenced, then at once recovering (its instances restart elsewhere) and down.
  await expectVisible(hostRow.getByTestId('host-state').getByText(/^(fenced|recovering|down)$/), `${HOST} fenced`)
  await expectVisible(alert.getByText('It is off'), 'the alert now says the host is off')
  begin('done')
  console.log('lifecycle e2e: all steps passed')
} catch (error) {
  console.error(`lifecycle e2e FAILED at step "${step}": ${error.message}`)
  if (page) await shot('failure').catch(() => {})
  process.exitCode = 1
} finally {
  await browser.close()
}
