// Following an invitation the way its person would: find their mail at the test SMTP
// server, take the link, press Accept.
import type { ParsedMail } from 'mailparser';
import { expect } from 'vitest';
import { eventually } from './eventually.ts';
import type { TestSmtpServer } from './smtp.ts';

export function mailsTo(smtp: TestSmtpServer, email: string): ParsedMail[] {
  return smtp.messages.filter((m) => (Array.isArray(m.to) ? m.to : [m.to]).some((t) => t?.value.some((v) => v.address === email)));
}

const LINK = /(http:\/\/127\.0\.0\.1:\d+\/invite\/[A-Za-z0-9_-]+)/;

/** The accept link in a mail, if it has one. */
export function linkIn(mail: ParsedMail | undefined): string | undefined {
  return LINK.exec(mail?.text ?? '')?.[1];
}

/** The accept link in the newest mail to `email`, waiting for one to arrive. */
export async function latestLink(smtp: TestSmtpServer, email: string, timeoutMs = 30_000): Promise<string> {
  return await eventually(() => {
    const link = linkIn(mailsTo(smtp, email).at(-1));
    if (!link) throw new Error(`no mail with a link for ${email} yet`);
    return link;
  }, timeoutMs);
}

/** The accept link in the `n`-th mail to `email` (1 = the first; a resend is the second), waiting for it. */
export async function nthLink(smtp: TestSmtpServer, email: string, n: number, timeoutMs = 30_000): Promise<string> {
  return await eventually(() => {
    const link = linkIn(mailsTo(smtp, email)[n - 1]);
    if (!link) throw new Error(`no mail number ${n} with a link for ${email} yet (${mailsTo(smtp, email).length} so far)`);
    return link;
  }, timeoutMs);
}

/** The token of every link mailed so far (optionally only to these addresses): what must never leak. */
export function mailedTokens(smtp: TestSmtpServer, emails?: readonly string[]): string[] {
  const mails = emails ? emails.flatMap((e) => mailsTo(smtp, e)) : smtp.messages;
  const tokens = mails.flatMap((m) => linkIn(m)?.split('/invite/')[1] ?? []);
  return [...new Set(tokens)];
}

/** Presses Accept on a link (the page's form POSTs to the link itself). */
export async function accept(link: string): Promise<{ status: number; body: string }> {
  const res = await fetch(link, { method: 'POST' });
  return { status: res.status, body: await res.text() };
}

/** Accepts the newest invitation mailed to `email`. */
export async function acceptLatest(smtp: TestSmtpServer, email: string): Promise<void> {
  const res = await accept(await latestLink(smtp, email));
  expect(res.status, res.body).toBe(200);
}
