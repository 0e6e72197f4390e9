// The dashboard in a real browser (Debian's Chromium through playwright-core) against a real
// rainbow and real sparkles. tests/e2e/rainbow_browser_test.cpp starts those and runs this with:
//   RAINBOW_URL, SPARKLE_URL (cloud "east"), WEST_SPARKLE_URL (cloud "west"),
//   ADMIN_USER, EAST_ADMIN_PASSWORD, WEST_ADMIN_PASSWORD, ARTIFACT_DIR (screenshots).
// Exits non-zero on the first failed step, naming it.
import { createHash, randomBytes } from 'node:crypto'
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
const EAST_PASSWORD = env('EAST_ADMIN_PASSWORD')
const WEST_PASSWORD = env('WEST_ADMIN_PASSWORD')
const ARTIFACTS = process.env.ARTIFACT_DIR ?? 'test-results'
mkdirSync(ARTIFACTS, { recursive: true })
const TIMEOUT = 15000

// --- set-up through Sparkle's API: a tenant and a member who works in the browser -------------
async function api(method, path, token, body) {
  const response = await fetch(SPARKLE + path, {
    method,
    headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await response.text()
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`)
  return text ? JSON.parse(text) : undefined
}
const adminToken = (await api('POST', '/api/v1/auth/tokens', null, { username: ADMIN, password: EAST_PASSWORD })).token
// Unique names, so that the script can run again against the same clouds.
const run = randomBytes(3).toString('hex')
const ACME = `acme-${run}`
const GLOBEX = `globex-${run}`
const ALICE = `alice-${run}`
const BOB = `bob-${run}`
const tenant = await api('POST', '/api/v1/tenants', adminToken, { name: ACME })
const alicePassword = randomBytes(12).toString('hex')
await api('POST', '/api/v1/users', adminToken, { username: ALICE, password: alicePassword, home_tenant_id: tenant.id, role: 'member' })
const other = await api('POST', '/api/v1/tenants', adminToken, { name: GLOBEX })
const bobPassword = randomBytes(12).toString('hex')
await api('POST', '/api/v1/users', adminToken, { username: BOB, password: bobPassword, home_tenant_id: other.id, role: 'member' })

// --- the browser -------------------------------------------------------------------------------
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
})
let step = 'start'
let page
const shot = (name) => page.screenshot({ path: `${ARTIFACTS}/${name}.png`, fullPage: true })
async function logIn(cloud, username, password, tenantName) {
  await page.goto(`${RAINBOW}/#/c/${cloud}/login`)
  await page.getByLabel('Username').fill(username)
  await page.getByLabel('Password').fill(password)
  if (tenantName) await page.getByLabel('Tenant (optional)').fill(tenantName)
  await page.getByRole('button', { name: 'Log in' }).click()
  await page.getByRole('heading', { level: 1, name: cloud, exact: true }).waitFor({ timeout: TIMEOUT })
}
async function expectVisible(locator, what) {
  try {
    await locator.first().waitFor({ state: 'visible', timeout: TIMEOUT })
  } catch {
    throw new Error(`not visible: ${what}`)
  }
}

try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } })
  page = await context.newPage()
  page.on('dialog', (dialog) => dialog.accept())
  page.on('pageerror', (error) => console.error('page error:', error.message))

  step = 'combined overview lists every cloud, the one down as unavailable'
  await page.goto(RAINBOW + '/')
  await expectVisible(page.getByRole('heading', { name: 'All clouds' }), 'the combined overview')
  await expectVisible(page.locator('[data-cloud="gone"]').getByText('unavailable'), 'cloud gone marked unavailable')
  await expectVisible(page.getByRole('link', { name: 'Log in to east' }), 'a way to log in to east')
  await shot('overview-logged-out')

  step = 'a wrong password is refused on the login page'
  await page.goto(`${RAINBOW}/#/c/east/login`)
  await page.getByLabel('Username').fill(ALICE)
  await page.getByLabel('Password').fill('not-her-password')
  await page.getByRole('button', { name: 'Log in' }).click()
  await expectVisible(page.getByRole('alert'), 'the login error')

  step = 'alice logs in to east'
  await logIn('east', ALICE, alicePassword, ACME)
  await shot('cloud-overview')

  step = 'upload an image with progress and checksum'
  const disk = randomBytes(2 << 20)
  const sha = createHash('sha256').update(disk).digest('hex')
  await page.getByRole('link', { name: 'Images' }).click()
  await page.getByLabel('Name', { exact: true }).fill('tiny')
  await page.getByLabel('Disk file (qcow2 or raw)').setInputFiles({ name: 'tiny.raw', mimeType: 'application/octet-stream', buffer: disk })
  await page.getByRole('button', { name: 'Upload', exact: true }).click()
  await expectVisible(page.getByRole('progressbar', { name: 'Upload progress' }), 'the upload progress bar')
  await expectVisible(page.getByTestId('sha256').getByText(sha), 'the checksum of the uploaded file')
  await expectVisible(page.getByText('matches the file'), 'the checksum verified against the file')
  await shot('images')

  step = 'an API error shows next to the field it names'
  await page.getByRole('link', { name: 'Networks' }).click()
  await page.getByRole('button', { name: 'New' }).first().click()
  await page.getByLabel('Name', { exact: true }).first().fill('bad-net')
  await page.getByLabel('MTU (optional)').fill('100')
  await page.getByRole('button', { name: 'Create' }).click()
  const mtuError = page.locator('#new-networks-spec\\.mtu-error')
  await expectVisible(mtuError, 'the MTU error under the MTU field')

  step = 'create a network and a subnet'
  await page.getByLabel('MTU (optional)').fill('')
  await page.getByLabel('Name', { exact: true }).first().fill('app-net')
  await page.getByRole('button', { name: 'Create' }).click()
  await expectVisible(page.getByRole('cell', { name: 'app-net' }), 'the new network in the list')
  await page.getByRole('button', { name: 'New' }).nth(1).click()
  await page.locator('#new-subnets-name').fill('app-v4')
  await page.locator('#new-subnets-network_id').selectOption({ label: 'app-net' })
  await page.locator('#new-subnets-cidr').fill('10.20.0.0/24')
  await page.getByRole('button', { name: 'Create' }).click()
  await expectVisible(page.getByRole('cell', { name: '10.20.0.0/24' }), 'the new subnet in the list')
  await shot('networks')

  step = 'create an instance'
  await page.getByRole('link', { name: 'Instances' }).click()
  await page.getByRole('link', { name: 'New instance' }).click()
  await page.getByLabel('Name', { exact: true }).fill('web-1')
  await page.getByLabel('Image').selectOption({ label: 'tiny' })
  await page.getByLabel('app-net (vxlan)').check()
  await page.getByLabel('Cloud-init user-data (optional)').fill('#cloud-config\nhostname: web-1\n')
  await shot('instance-create')
  await page.getByRole('button', { name: 'Create instance' }).click()
  await expectVisible(page.getByRole('heading', { name: 'web-1' }), 'the new instance page')
  // No host runs here: the instance stays pending, and the page says so.
  await expectVisible(page.getByTestId('state').getByText('creating…'), 'the instance shown as pending')
  await shot('instance-detail')

  step = 'stop the instance: pending until a host reports it'
  await page.getByRole('button', { name: 'Stop' }).click()
  await expectVisible(page.getByTestId('state').getByText('stopping…'), 'the instance shown as stopping')
  await expectVisible(page.getByRole('button', { name: 'Start' }), 'start offered once stop was asked')

  step = 'the instance is listed'
  await page.getByRole('link', { name: 'Instances' }).click()
  const row = page.locator('tr', { has: page.getByRole('link', { name: 'web-1' }) })
  await expectVisible(row, 'web-1 in the instance list')
  await shot('instances')

  step = 'delete the instance'
  await row.getByRole('button', { name: 'Delete web-1' }).click()
  await row.waitFor({ state: 'detached', timeout: TIMEOUT })

  step = 'a member of another tenant sees nothing of acme'
  await page.getByRole('button', { name: 'Log out of east' }).click()
  await logIn('east', BOB, bobPassword, GLOBEX)
  await page.getByRole('link', { name: 'Networks' }).click()
  await expectVisible(page.getByRole('heading', { name: 'Networks' }), 'the networks page')
  await page.getByText('Loading…').first().waitFor({ state: 'detached', timeout: TIMEOUT })
  if ((await page.getByRole('cell', { name: 'app-net' }).count()) !== 0) throw new Error('bob sees acme\'s network')
  await page.getByRole('link', { name: 'Images' }).click()
  await page.getByRole('heading', { name: 'Library' }).waitFor({ timeout: TIMEOUT })
  await page.getByText('Loading…').first().waitFor({ state: 'detached', timeout: TIMEOUT })
  if ((await page.getByRole('cell', { name: 'tiny', exact: true }).count()) !== 0) throw new Error('bob sees acme\'s image')

  step = 'two clouds at once in the combined overview'
  await logIn('west', ADMIN, WEST_PASSWORD)
  await page.getByRole('link', { name: 'Rainbow' }).click()
  await expectVisible(page.locator('[data-cloud="east"]').getByTestId('instances'), 'east figures')
  await expectVisible(page.locator('[data-cloud="west"]').getByTestId('instances'), 'west figures')
  await expectVisible(page.getByTestId('totals').getByText('across 2 cloud(s)'), 'totals across both clouds')
  await shot('overview-combined')

  step = 'hosts page for operators'
  await page.goto(`${RAINBOW}/#/c/west/hosts`)
  await expectVisible(page.getByRole('heading', { name: 'Hosts of this cloud' }), 'the hosts page')
  await shot('hosts')
  console.log('dashboard e2e: all steps passed')
} catch (error) {
  console.error(`dashboard e2e FAILED at step "${step}": ${error.message}`)
  if (page) await shot('failure').catch(() => {})
  process.exitCode = 1
} finally {
  await browser.close()
}
