// Small line charts as plain SVG text: one panel per series, side by side, linear axes
// from zero, a labelled point per measurement. No dependencies, diff-friendly output.

export interface Panel {
  title: string;
  xLabel: string;
  yLabel: string;
  points: ReadonlyArray<{ x: number; y: number }>;
}

const PANEL_WIDTH = 420;
const PANEL_HEIGHT = 300;
const MARGIN = { left: 60, right: 20, top: 40, bottom: 50 };

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A round step so that an axis up to `max` has about `ticks` ticks. */
function niceStep(max: number, ticks: number): number {
  const raw = max / ticks;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * magnitude).find((s) => s >= raw);
  return step ?? 10 * magnitude;
}

const label = (n: number) => (Math.abs(n) >= 1000 ? `${n / 1000}k` : String(Math.round(n * 100) / 100));

function panel(p: Panel, offsetX: number): string {
  const w = PANEL_WIDTH - MARGIN.left - MARGIN.right;
  const h = PANEL_HEIGHT - MARGIN.top - MARGIN.bottom;
  const points = [...p.points].sort((a, b) => a.x - b.x);
  const xStep = niceStep(Math.max(1, ...points.map((q) => q.x)), 5);
  const yStep = niceStep(Math.max(1e-9, ...points.map((q) => q.y)), 5);
  const xMax = Math.ceil(Math.max(1, ...points.map((q) => q.x)) / xStep) * xStep;
  const yMax = Math.ceil(Math.max(1e-9, ...points.map((q) => q.y)) / yStep) * yStep;
  const sx = (x: number) => offsetX + MARGIN.left + (x / xMax) * w;
  const sy = (y: number) => MARGIN.top + h - (y / yMax) * h;
  const parts: string[] = [];
  parts.push(`<text x="${offsetX + PANEL_WIDTH / 2}" y="22" text-anchor="middle" font-size="14" font-weight="bold">${escape(p.title)}</text>`);
  for (let y = 0; y <= yMax + yStep / 2; y += yStep) {
    parts.push(`<line x1="${sx(0)}" y1="${sy(y)}" x2="${sx(xMax)}" y2="${sy(y)}" stroke="#ddd"/>`);
    parts.push(`<text x="${sx(0) - 6}" y="${sy(y) + 4}" text-anchor="end" font-size="11">${label(y)}</text>`);
  }
  for (let x = 0; x <= xMax + xStep / 2; x += xStep) {
    parts.push(`<line x1="${sx(x)}" y1="${sy(0)}" x2="${sx(x)}" y2="${sy(0) + 4}" stroke="#333"/>`);
    parts.push(`<text x="${sx(x)}" y="${sy(0) + 16}" text-anchor="middle" font-size="11">${label(x)}</text>`);
  }
  parts.push(`<line x1="${sx(0)}" y1="${sy(0)}" x2="${sx(xMax)}" y2="${sy(0)}" stroke="#333"/>`);
  parts.push(`<line x1="${sx(0)}" y1="${sy(0)}" x2="${sx(0)}" y2="${sy(yMax)}" stroke="#333"/>`);
  parts.push(`<text x="${sx(xMax / 2)}" y="${PANEL_HEIGHT - 12}" text-anchor="middle" font-size="12">${escape(p.xLabel)}</text>`);
  parts.push(
    `<text x="${offsetX + 16}" y="${MARGIN.top + h / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 ${offsetX + 16} ${MARGIN.top + h / 2})">${escape(p.yLabel)}</text>`,
  );
  if (points.length > 0) {
    parts.push(
      `<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="${points.map((q) => `${sx(q.x).toFixed(1)},${sy(q.y).toFixed(1)}`).join(' ')}"/>`,
    );
    for (const q of points) {
      parts.push(`<circle cx="${sx(q.x).toFixed(1)}" cy="${sy(q.y).toFixed(1)}" r="4" fill="#1f77b4"/>`);
      parts.push(`<text x="${sx(q.x).toFixed(1)}" y="${(sy(q.y) - 8).toFixed(1)}" text-anchor="middle" font-size="11">${label(q.y)}</text>`);
    }
  }
  return parts.join('\n');
}

/** One SVG document with the panels next to each other. */
export function svgPanels(panels: readonly Panel[]): string {
  const width = PANEL_WIDTH * panels.length;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${PANEL_HEIGHT}" viewBox="0 0 ${width} ${PANEL_HEIGHT}" font-family="sans-serif">\n` +
    `<rect width="100%" height="100%" fill="white"/>\n` +
    panels.map((p, i) => panel(p, i * PANEL_WIDTH)).join('\n') +
    `\n</svg>\n`
  );
}
