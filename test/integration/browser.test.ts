// A person's path through the accept page in a real browser (Debian's Chromium driven by
// playwright-core): open the link from the mail, read the invitation, press Accept. The
// screenshots are kept under test-results/ as artifacts. After Accept the page names the
// scope in words, polls until the Membership is Active and shows the can-i line that proves it.
import { existsSync, mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import type { Membership } from '../../src/api/generated.ts';
import { resources } from '../../src/api/resources.ts';
import { KubeClient } from '../../src/runtime/kube-client.ts';
import { kubectl } from './kubectl.ts';
import { eventually } from './support/eventually.ts';
import { startOperator, type OperatorProcess } from './support/operator.ts';
import { removeNamespaces } from './support/cleanup.ts';
import { startSmtpServer, type TestSmtpServer } from './support/smtp.ts';

const kubeconfig = inject('kubeconfigPath');
const ns = 'browser-e2e';
const artifacts = new URL('../../test-results/', import.meta.url).pathname;
let admin: KubeClient;
let smtp: TestSmtpServer;
let operator: OperatorProcess;
let browser: Browser;

beforeAll(async () => {
  mkdirSync(artifacts, { recursive: true });
  admin = KubeClient.fromFile(kubeconfig);
  for (const name of [ns, 'browser-web']) {
    await admin.apply(resources.namespace, {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name, ...(name === ns ? {} : { labels: { 'roster.dev/team': ns } }) },
    });
  }
  smtp = await startSmtpServer();
  operator = await startOperator({ kubeconfigPath: kubeconfig, smtpPort: smtp.port });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});

afterAll(async () => {
  await browser?.close();
  if (admin) await removeNamespaces(admin, [ns, 'browser-web']); // while the operator runs its finalizers
  await operator?.kill('SIGTERM');
  await smtp?.stop();
  admin?.close();
});

describe('the accept page in a browser', () => {
  it('shows the invitation from the mail and accepts it with one click', async () => {
    const applied = await kubectl(
      kubeconfig,
      ['apply', '-f', '-'],
      `apiVersion: roster.dev/v1alpha1
kind: Team
metadata: { name: browser, namespace: ${ns} }
spec:
  displayName: "Browser & Co <script>"
  owner: { email: owner@browser.example, name: Olive Owner }
  seats: 3
  invitations: { welcomeUrl: "https://welcome.browser.example/start?from=roster" }
---
apiVersion: roster.dev/v1alpha1
kind: Project
metadata: { name: web, namespace: ${ns} }
spec: { team: browser, environments: [{ name: production, namespace: browser-web }] }
---
apiVersion: roster.dev/v1alpha1
kind: Membership
metadata: { name: bea, namespace: ${ns} }
spec: { team: browser, email: bea@browser.example, name: Bea, role: developer, projects: [{ name: web }] }
`,
    );
    expect(applied.stderr).toBe('');
    const mail = await eventually(() => {
      const found = smtp.messages.find((m) => m.text?.includes('bea@browser.example') || JSON.stringify(m.to).includes('bea@browser.example'));
      expect(found).toBeDefined();
      return found!;
    }, 30_000);
    const link = /(http:\/\/127\.0\.0\.1:\d+\/invite\/[A-Za-z0-9_-]+)/.exec(mail.text ?? '')?.[1];
    expect(link).toBeDefined();

    const page = await browser.newPage();
    await page.goto(link!);
    await expect(page.title()).resolves.toContain('Browser & Co <script>');
    const body = await page.locator('main').innerText();
    expect(body).toContain('developer');
    expect(body).toContain('Olive Owner');
    expect(body).toContain('developer in project web, environment production (namespace browser-web)');
    expect(await page.locator('script').count()).toBe(0); // the display name was escaped, not run
    await page.screenshot({ path: `${artifacts}accept-page.png`, fullPage: true });

    await page.getByRole('button', { name: 'Accept invitation' }).click();
    await page.waitForSelector('text=Welcome to');
    const accepted = await page.locator('main').innerText();
    expect(accepted).toContain('You joined as developer');
    expect(accepted).toContain('developer in project web, environment production (namespace browser-web)');
    expect(await page.getByRole('link', { name: /Get started with/ }).getAttribute('href')).toBe('https://welcome.browser.example/start?from=roster');
    await page.screenshot({ path: `${artifacts}accept-page-accepted.png`, fullPage: true });
    expect(existsSync(`${artifacts}accept-page-accepted.png`)).toBe(true);

    await eventually(async () => expect((await admin.get<Membership>(resources.membership, ns, 'bea')).status?.phase).toBe('Active'));
    // The page polls on its own: once the Membership is Active it says so and shows the proof.
    await page.waitForSelector('text=Your access is live', { timeout: 20_000 });
    const canI = 'kubectl auth can-i create deployments -n browser-web --as bea@browser.example';
    expect(await page.locator('#checks pre').allInnerTexts()).toEqual([canI]);
    await page.screenshot({ path: `${artifacts}accept-page-live.png`, fullPage: true });
    // ...and the line it shows is true against the API server.
    const proof = await kubectl(kubeconfig, canI.split(' ').slice(1));
    expect(proof.stdout.trim()).toBe('yes');
    // The status id in the page is not the link, and the link does not answer as one.
    const html = await page.content();
    expect(html).not.toContain(link!.split('/').pop()!);
    expect((await fetch(link!.replace('/invite/', '/invite/status/'))).status).toBe(404);
    // The same link in the browser again: refused.
    await page.goto(link!);
    expect(await page.locator('h1').innerText()).toBe('This invitation link is not valid');
  });

  it('refuses a welcome link that is not https, saying what to use', async () => {
    const applied = await kubectl(
      kubeconfig,
      ['apply', '--dry-run=server', '-f', '-'],
      `apiVersion: roster.dev/v1alpha1
kind: Team
metadata: { name: plain, namespace: ${ns} }
spec: { owner: { email: owner@browser.example }, seats: 1, invitations: { welcomeUrl: "http://welcome.browser.example/" } }
`,
    );
    expect(applied.stderr).toContain('invitations.welcomeUrl must be an https URL');
  });
});
