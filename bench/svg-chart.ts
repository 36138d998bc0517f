/**
 * A small line chart as SVG text, written by hand so the bench needs no
 * charting dependency: a title, linear axes from zero with round ticks, one
 * line with markers per series, a legend, and an optional vertical marker
 * (where a limit cut a curve).
 */

export interface Series {
  name: string;
  /** [x, y] pairs; a y of null leaves a gap. */
  points: [number, number | null][];
}

export interface ChartSpec {
  title: string;
  /** A second line under the title: the run's conditions. */
  subtitle?: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** A dashed vertical line at x, with its label (e.g. the open-file limit). */
  marker?: { x: number; label: string };
  /** x takes whole values only (replicas): no ticks between them. */
  integerX?: boolean;
}

const WIDTH = 640;
const HEIGHT = 380;
const MARGIN = { left: 72, right: 24, top: 64, bottom: 56 };
const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd"];

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** Round tick values from 0 to at least `max`: steps of 1, 2 or 5 × 10^k, about five of them. */
export function ticks(max: number, minStep = 0): number[] {
  if (!(max > 0)) return [0, 1];
  const rough = Math.max(max / 5, minStep);
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((factor) => factor * power).find((candidate) => candidate >= rough)!;
  const count = Math.ceil(max / step - 1e-9);
  return Array.from({ length: count + 1 }, (_, i) => Number((i * step).toPrecision(12)));
}

function label(value: number): string {
  if (value >= 10_000) return `${value / 1000}k`;
  return value.toLocaleString("en-US", { maximumFractionDigits: 3 });
}

/** The chart as a standalone SVG document. */
export function lineChart(spec: ChartSpec): string {
  const all = spec.series.flatMap((series) => series.points);
  const xs = all.map(([x]) => x).concat(spec.marker ? [spec.marker.x] : []);
  const ys = all.map(([, y]) => y).filter((y): y is number => y !== null && Number.isFinite(y));
  const xTicks = ticks(Math.max(1, ...xs), spec.integerX ? 1 : 0);
  const yTicks = ticks(Math.max(0, ...ys) * 1.05);
  const xMax = xTicks.at(-1)!;
  const yMax = yTicks.at(-1)!;
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const px = (x: number) => MARGIN.left + (x / xMax) * plotWidth;
  const py = (y: number) => MARGIN.top + plotHeight - (y / yMax) * plotHeight;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12" role="img">`,
    // What a screen reader (and an image viewer's tooltip) says for the chart.
    `<title>${escapeXml(spec.title)}</title>`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${WIDTH / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(spec.title)}</text>`,
  ];
  if (spec.subtitle) out.push(`<text x="${WIDTH / 2}" y="40" text-anchor="middle" fill="#555">${escapeXml(spec.subtitle)}</text>`);
  for (const y of yTicks) {
    out.push(
      `<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${py(y)}" y2="${py(y)}" stroke="#e5e5e5"/>`,
      `<text x="${MARGIN.left - 6}" y="${py(y) + 4}" text-anchor="end">${label(y)}</text>`,
    );
  }
  for (const x of xTicks) {
    out.push(`<text x="${px(x)}" y="${HEIGHT - MARGIN.bottom + 18}" text-anchor="middle">${label(x)}</text>`);
  }
  out.push(
    `<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${py(0)}" y2="${py(0)}" stroke="#333"/>`,
    `<line x1="${MARGIN.left}" x2="${MARGIN.left}" y1="${MARGIN.top}" y2="${py(0)}" stroke="#333"/>`,
    `<text x="${MARGIN.left + plotWidth / 2}" y="${HEIGHT - 14}" text-anchor="middle">${escapeXml(spec.xLabel)}</text>`,
    `<text transform="translate(18 ${MARGIN.top + plotHeight / 2}) rotate(-90)" text-anchor="middle">${escapeXml(spec.yLabel)}</text>`,
  );
  if (spec.marker) {
    const x = px(spec.marker.x);
    out.push(
      `<line x1="${x}" x2="${x}" y1="${MARGIN.top}" y2="${py(0)}" stroke="#888" stroke-dasharray="4 3"/>`,
      `<text x="${x - 4}" y="${MARGIN.top + 12}" text-anchor="end" fill="#555">${escapeXml(spec.marker.label)}</text>`,
    );
  }
  spec.series.forEach((series, index) => {
    const color = COLORS[index % COLORS.length]!;
    const points = series.points.filter((point): point is [number, number] => point[1] !== null && Number.isFinite(point[1]));
    if (points.length > 1) {
      const path = points.map(([x, y], i) => `${i === 0 ? "M" : "L"}${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(" ");
      out.push(`<path d="${path}" fill="none" stroke="${color}" stroke-width="2"/>`);
    }
    for (const [x, y] of points) out.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3.5" fill="${color}"/>`);
    const legendY = MARGIN.top + 4 + index * 18;
    const legendX = MARGIN.left + 12;
    out.push(
      `<rect x="${legendX}" y="${legendY}" width="14" height="4" fill="${color}"/>`,
      `<text x="${legendX + 20}" y="${legendY + 6}">${escapeXml(series.name)}</text>`,
    );
  });
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}
