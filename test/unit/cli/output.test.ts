import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { age, humanDuration, renderData, renderTable, shortTime } from '../../../src/cli/output.ts';

describe('renderTable', () => {
  it('aligns columns three spaces apart under upper-case headers, like kubectl', () => {
    const text = renderTable(
      ['email', 'role', 'phase'],
      [
        ['liam@acme.com', 'owner', 'Active'],
        ['jo@acme.com', 'developer', 'Invited'],
      ],
    );
    expect(text).toBe(['EMAIL           ROLE        PHASE', 'liam@acme.com   owner       Active', 'jo@acme.com     developer   Invited', ''].join('\n'));
  });

  it('starts every column at the same offset on every line', () => {
    const rows = [
      ['a', 'bbbbbbbb', 'c'],
      ['dddddddddd', 'e', 'ffff'],
      ['g', 'h', 'i'],
    ];
    const lines = renderTable(['X', 'Y', 'Z'], rows).trimEnd().split('\n');
    const offsets = (line: string, cells: string[]) => cells.map((c) => line.indexOf(c, 0));
    expect(offsets(lines[0]!, ['X', 'Y', 'Z'])).toEqual([0, 13, 24]);
    expect(offsets(lines[2]!, rows[1]!)).toEqual([0, 13, 24]);
  });

  it('leaves no trailing blanks, shows <none> for empty cells and keeps each row on one line', () => {
    const text = renderTable(
      ['A', 'B', 'C'],
      [
        ['x', '', 'multi\nline\tvalue'],
        ['', 'y', ''],
      ],
    );
    const lines = text.split('\n');
    expect(lines).toHaveLength(4);
    for (const line of lines) expect(line).toBe(line.trimEnd());
    expect(lines[1]).toBe('x        <none>   multi line value');
    expect(lines[2]).toBe('<none>   y        <none>');
  });

  it('counts characters, not bytes, when aligning', () => {
    const text = renderTable(
      ['NAME', 'X'],
      [
        ['Zoë', '1'],
        ['Bob', '2'],
      ],
    );
    expect(text.split('\n')[1]!.indexOf('1')).toBe(text.split('\n')[2]!.indexOf('2'));
  });
});

describe('renderData', () => {
  const data = { team: 'acme', members: [{ email: 'liam@acme.com', phase: 'Active' }] };
  it('prints JSON and YAML that read back to the same data', () => {
    const json = renderData('json', data);
    expect(json.endsWith('\n')).toBe(true);
    expect(JSON.parse(json)).toEqual(data);
    expect(json).toContain('\n  "team": "acme"');
    expect(parseYaml(renderData('yaml', data))).toEqual(data);
  });
});

describe('humanDuration (kubectl ages)', () => {
  const s = 1000;
  const m = 60 * s;
  const h = 60 * m;
  const d = 24 * h;
  it.each([
    [-5 * s, '<invalid>'],
    [-500, '0s'],
    [0, '0s'],
    [119 * s, '119s'],
    [2 * m, '2m'],
    [5 * m + 30 * s, '5m30s'],
    [45 * m, '45m'],
    [179 * m, '179m'],
    [3 * h, '3h'],
    [5 * h + 30 * m, '5h30m'],
    [47 * h, '47h'],
    [2 * d, '2d'],
    [3 * d + 5 * h, '3d5h'],
    [40 * d, '40d'],
    [800 * d, '2y70d'],
    [365 * 10 * d, '10y'],
  ])('%d ms reads %s', (ms, text) => {
    expect(humanDuration(ms)).toBe(text);
  });

  it('ages a timestamp against now, and says so when it has none', () => {
    const now = new Date('2026-03-01T12:00:00Z');
    expect(age('2026-03-01T11:55:00Z', now)).toBe('5m');
    expect(age(undefined, now)).toBe('<unknown>');
    expect(age('yesterday', now)).toBe('<unknown>');
    expect(shortTime('2026-03-01T11:55:00.123456Z')).toBe('2026-03-01T11:55:00Z');
  });
});
