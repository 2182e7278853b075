// `release TEAM`: lets the removals the removal brake holds go through (SPEC §8). The Team's
// status lists what is held and names the hold; the release puts that hold id on each held
// Membership, so it lets go of exactly what the person saw — a removal asked for after they
// looked is held again until they look again.
import type { Membership, Team } from '../../api/generated.ts';
import { resources } from '../../api/resources.ts';
import { RELEASE_ANNOTATION } from '../../audit/actor.ts';
import { getTeam } from '../cluster.ts';
import { emit, type Command } from '../command.ts';
import { ExitCode, refuse } from '../errors.ts';
import { PROGRAM } from '../help.ts';
import { parseObjectName } from '../values.ts';

const NAME = 'release';

export const release: Command = {
  spec: {
    name: NAME,
    summary: 'Let the removals the removal brake holds for a team go through',
    description: [
      'Let held removals go through. When deletions in a team would take access from more than a',
      'share of its active members within a short window (a deleted folder, a wrong --prune), Roster',
      'removes only a few and holds the rest: their access and their Memberships stay, and the Team',
      'shows RemovalsHeld=True listing them. An owner or admin who has checked that the removals are',
      'intended releases them with this command; they then lose access at once.',
      '',
      'The release covers exactly the removals held when you run it (the hold id in the Team status);',
      'a removal asked for later is held again until released again.',
    ].join('\n'),
    args: [{ name: 'TEAM', description: 'the Team' }],
    flags: [],
    examples: [`# See what is held, then let it go`, `kubectl get team acme -n acme -o jsonpath='{.status.removals.held}'`, `${PROGRAM} release acme -n acme`],
  },

  async run({ args, global, io, connect }) {
    const teamName = parseObjectName(args[0]!, 'TEAM', NAME);
    const conn = await connect();
    const ns = conn.namespace;
    const team: Team = await getTeam(conn, teamName);
    const removals = team.status?.removals;
    const held = removals?.held ?? [];
    if (!removals?.holdId || held.length === 0) throw refuse(`team ${teamName} has no held removals`);
    const released: string[] = [];
    for (const h of held) {
      if (!h.name) continue;
      const m = await conn.client.find<Membership>(resources.membership, ns, h.name);
      if (!m?.metadata.deletionTimestamp) continue; // gone already, or not on its way out
      await conn.client.patch(resources.membership, ns, h.name, 'merge', { metadata: { annotations: { [RELEASE_ANNOTATION]: removals.holdId } } });
      released.push(`${h.email ?? m.spec.email} (${h.name})`);
    }
    if (released.length === 0) throw refuse(`team ${teamName}'s held removals are no longer pending`);
    emit(
      io,
      global.output,
      { team: teamName, namespace: ns, holdId: removals.holdId, released },
      () => `released ${released.length} removal(s) in team ${teamName}: ${released.join(', ')}; their access is being removed\n`,
    );
    return ExitCode.ok;
  },
};
