// The removal brake with plain data (SPEC §8).
import { describe, expect, it } from 'vitest';
import { decideRemovals, DEFAULT_BRAKE, holdIdOf, removalsAllowed, stricter, type PendingRemoval } from '../../../src/domain/removal-brake.ts';

const NOW = new Date('2026-06-01T12:00:00Z');
const ago = (s: number) => new Date(NOW.getTime() - s * 1000).toISOString();
const pending = (n: number, start = 60): PendingRemoval[] =>
  Array.from({ length: n }, (_, i) => ({ name: `m${i}`, email: `m${i}@acme.com`, requestedAt: ago(start - i) }));

describe('removalsAllowed', () => {
  it('is a quarter of the active members, and never fewer than two people', () => {
    expect(removalsAllowed(DEFAULT_BRAKE, 10)).toBe(2);
    expect(removalsAllowed(DEFAULT_BRAKE, 40)).toBe(10);
    expect(removalsAllowed(DEFAULT_BRAKE, 3)).toBe(2);
  });
});

describe('decideRemovals', () => {
  it('lets 2 of 6 removals in a team of 10 through and holds the rest, oldest first', () => {
    const d = decideRemovals({ policy: DEFAULT_BRAKE, activeMembers: 10, past: [], pending: pending(6), now: NOW });
    expect(d.proceed.map((r) => r.name)).toEqual(['m0', 'm1']);
    expect(d.held.map((r) => r.name)).toEqual(['m2', 'm3', 'm4', 'm5']);
    expect(d.holdId).toBe(holdIdOf(d.held));
  });

  it('lets a single removal through at once', () => {
    const d = decideRemovals({ policy: DEFAULT_BRAKE, activeMembers: 10, past: [], pending: pending(1), now: NOW });
    expect(d.proceed).toHaveLength(1);
    expect(d.held).toHaveLength(0);
    expect(d.holdId).toBeUndefined();
  });

  it('counts removals already made in the window, and forgets older ones', () => {
    const inWindow = decideRemovals({
      policy: DEFAULT_BRAKE,
      activeMembers: 10,
      past: [
        { name: 'x', at: ago(60) },
        { name: 'y', at: ago(30) },
      ],
      pending: pending(1),
      now: NOW,
    });
    expect(inWindow.proceed).toHaveLength(0);
    const old = decideRemovals({
      policy: DEFAULT_BRAKE,
      activeMembers: 10,
      past: [
        { name: 'x', at: ago(3600) },
        { name: 'y', at: ago(3600) },
      ],
      pending: pending(1),
      now: NOW,
    });
    expect(old.proceed).toHaveLength(1);
    expect(old.recent).toEqual([]);
  });

  it('lets held removals go once released with the hold id in force, one by one, and not with a stale one', () => {
    const first = decideRemovals({ policy: DEFAULT_BRAKE, activeMembers: 10, past: [], pending: pending(6), now: NOW });
    const holdId = first.holdId!;
    // The release marks the held Memberships one at a time; the hold id stays while anything is held.
    const halfway = pending(6).map((r) => (r.name === 'm2' ? { ...r, releasedWith: holdId } : r));
    const partly = decideRemovals({ policy: DEFAULT_BRAKE, activeMembers: 10, past: [], pending: halfway, now: NOW, holdId });
    expect(partly.proceed.map((r) => r.name)).toEqual(['m0', 'm1', 'm2']);
    expect(partly.holdId).toBe(holdId);
    const released = pending(6).map((r) => (first.held.some((h) => h.name === r.name) ? { ...r, releasedWith: holdId } : r));
    const second = decideRemovals({ policy: DEFAULT_BRAKE, activeMembers: 10, past: [], pending: released, now: NOW, holdId });
    expect(second.proceed).toHaveLength(6);
    expect(second.held).toEqual([]);
    expect(second.holdId).toBeUndefined();
    const stale = pending(6).map((r) => ({ ...r, releasedWith: 'not-this-hold' }));
    expect(decideRemovals({ policy: DEFAULT_BRAKE, activeMembers: 10, past: [], pending: stale, now: NOW, holdId }).held).toHaveLength(4);
  });

  it('a removal asked for after the release was looked at stays held', () => {
    const first = decideRemovals({ policy: DEFAULT_BRAKE, activeMembers: 10, past: [], pending: pending(6), now: NOW });
    const later = [
      ...pending(6).map((r) => (first.held.some((h) => h.name === r.name) ? { ...r, releasedWith: first.holdId! } : r)),
      { name: 'late', email: 'late@acme.com', requestedAt: ago(1) },
    ];
    const d = decideRemovals({ policy: DEFAULT_BRAKE, activeMembers: 10, past: [], pending: later, now: NOW, holdId: first.holdId! });
    expect(d.held.map((r) => r.name)).toEqual(['late']);
  });
});

describe('stricter', () => {
  it('lets a Team tighten the operator policy, never loosen it', () => {
    expect(stricter(DEFAULT_BRAKE, { maxFraction: 0.1, minPeople: 1 })).toEqual({ ...DEFAULT_BRAKE, maxFraction: 0.1, minPeople: 1 });
    expect(stricter(DEFAULT_BRAKE, { maxFraction: 0.9, minPeople: 5, windowMs: 60_000 })).toEqual(DEFAULT_BRAKE);
  });
});
