// `seats TEAM`: limit / used / pending / available from the Team's status, and who holds
// which seat (the operator's own seat rules, domain/seats.ts).
import { loadTeam } from '../cluster.ts';
import { emit, type Command } from '../command.ts';
import { ExitCode } from '../errors.ts';
import { PROGRAM } from '../help.ts';
import { renderTable } from '../output.ts';
import { seatLabel, seatReport } from '../team-view.ts';
import { parseObjectName } from '../values.ts';

const NAME = 'seats';

export const seats: Command = {
  spec: {
    name: NAME,
    summary: "Show a team's seats: limit, used, pending, available, and who holds them",
    description: [
      "Show a team's seats. The numbers are the Team's status.seats as the operator last reported them:",
      'used (the owner and accepted members), pending (members and standalone invitations not accepted',
      'yet) and available. Below them, who holds which seat: used, pending, shared (the same person',
      'holds a seat through another object) or over limit (admitted past the limit; no access until a',
      "seat frees). Raise the Team's spec.seats to add seats.",
    ].join('\n'),
    args: [{ name: 'TEAM', description: 'the Team' }],
    flags: [],
    examples: [`${PROGRAM} seats acme -n acme`, '', '# Seats left, for a script', `${PROGRAM} seats acme -n acme -o json | jq .available`],
  },

  async run({ args, global, io, connect, now }) {
    const teamName = parseObjectName(args[0]!, 'TEAM', NAME);
    const conn = await connect();
    const snapshot = await loadTeam(conn, teamName);
    const report = seatReport(snapshot, now());
    if (report.source === 'computed') {
      io.err(`note: the operator has not reported seats for team ${teamName} yet; these are counted from the objects\n`);
    }
    emit(io, global.output, { ...report, namespace: conn.namespace }, () => {
      const summary = renderTable(
        ['TEAM', 'LIMIT', 'USED', 'PENDING', 'AVAILABLE'],
        [[report.team, String(report.limit), String(report.used), String(report.pending), String(report.available)]],
      );
      const breakdown = renderTable(
        ['EMAIL', 'SEAT', 'ROLE', 'PHASE', 'OBJECT'],
        report.breakdown.map((r) => [r.email, seatLabel(r.seat), r.role, r.phase, r.object]),
      );
      return `${summary}\n${breakdown}`;
    });
    return ExitCode.ok;
  },
};
