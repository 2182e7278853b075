// Renewal arithmetic of the operator-managed webhook certificates (pure: no Secret, no
// server). Lifetimes are seconds so the points in time are easy to read.
import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { rotate, rotationDue, splitPemBundle, type RotationPolicy } from '../../../src/admission/certificates.ts';

const sans = { dnsNames: ['roster-webhook.roster-system.svc'], ipAddresses: ['127.0.0.1'] };
const policy: RotationPolicy = { caValidityMs: 90_000, servingValidityMs: 30_000, renewBeforeFraction: 1 / 3, caPropagationMs: 10_000 };
const t0 = new Date('2026-11-23T12:00:00Z');
const at = (seconds: number) => new Date(t0.getTime() + seconds * 1000);

describe('webhook certificate rotation', () => {
  it("counts a certificate's life from issuance, not from its back-dated notBefore", async () => {
    const { state } = await rotate(undefined, sans, t0, policy);
    expect(rotationDue(state, sans, at(1), policy)).toMatchObject({ ca: false, serving: false });
    // Serving: 30 s, renewed with a third left (after 20 s). CA: 90 s, renewed after 60 s.
    expect(rotationDue(state, sans, at(19), policy).serving).toBe(false);
    expect(rotationDue(state, sans, at(21), policy).serving).toBe(true);
    expect(rotationDue(state, sans, at(59), policy).ca).toBe(false);
    expect(rotationDue(state, sans, at(61), policy).ca).toBe(true);
  });

  it('adds a new CA to the bundle first and signs with it only after it had time to propagate', async () => {
    const first = (await rotate(undefined, sans, t0, policy)).state;
    const firstCa = new X509Certificate(splitPemBundle(first.caBundle)[0]!);
    const renewedCa = (await rotate(first, sans, at(61), policy)).state;
    const bundle = splitPemBundle(renewedCa.caBundle).map((pem) => new X509Certificate(pem));
    expect(bundle).toHaveLength(2);
    expect(bundle[1]!.fingerprint256).toBe(firstCa.fingerprint256);
    // The serving certificate issued at 61 s (it was due too) by the new CA; nothing more to do right after.
    expect(new X509Certificate(renewedCa.cert).verify(bundle[0]!.publicKey)).toBe(true);
    expect((await rotate(renewedCa, sans, at(62), policy)).reasons).toEqual([]);
  });

  it('keeps a serving certificate that is not due on the old CA until the new CA propagated', async () => {
    const first = (await rotate(undefined, sans, t0, policy)).state;
    const servingAt55 = (await rotate(first, sans, at(55), policy)).state; // renewed (due since 20 s), old CA
    const withNewCa = (await rotate(servingAt55, sans, at(61), policy)).state;
    const [newest] = splitPemBundle(withNewCa.caBundle).map((pem) => new X509Certificate(pem));
    expect(withNewCa.cert).toBe(servingAt55.cert);
    expect(new X509Certificate(withNewCa.cert).verify(newest!.publicKey)).toBe(false);
    expect(rotationDue(withNewCa, sans, at(65), policy).serving).toBe(false);
    const switched = (await rotate(withNewCa, sans, at(72), policy)).state;
    expect(new X509Certificate(switched.cert).verify(newest!.publicKey)).toBe(true);
  });
});
