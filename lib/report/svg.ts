/** Small self-contained SVG charts for reports: no scripts, no external files, readable in any browser. */

const WIDTH = 560;
const HEIGHT = 240;
const MARGIN = { left: 56, right: 16, top: 28, bottom: 36 };
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];

function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function formatTick(value: number): string {
  if (value === 0) return '0';
  const magnitude = Math.abs(value);
  return magnitude >= 1000 || magnitude < 0.01 ? value.toExponential(1) : Number(value.toPrecision(3)).toString();
}

/** A line chart of one or more series of (x, y) points sharing the axes. */
export function lineChart(title: string, series: { name: string; points: [number, number][] }[], axes: { x: string; y: string }): string {
  const all = series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const [xMin, xMax] = all.length ? [Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0]))] : [0, 1];
  const [yMinRaw, yMaxRaw] = all.length ? [Math.min(...all.map((p) => p[1])), Math.max(...all.map((p) => p[1]))] : [0, 1];
  const yMin = Math.min(0, yMinRaw);
  const yMax = yMaxRaw > yMin ? yMaxRaw : yMin + 1;
  const px = (x: number) => MARGIN.left + ((x - xMin) / (xMax - xMin || 1)) * (WIDTH - MARGIN.left - MARGIN.right);
  const py = (y: number) => HEIGHT - MARGIN.bottom - ((y - yMin) / (yMax - yMin)) * (HEIGHT - MARGIN.top - MARGIN.bottom);
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => yMin + f * (yMax - yMin));
  const lines = series.map((s, i) => {
    const d = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)).map(([x, y], j) => `${j ? 'L' : 'M'}${px(x).toFixed(1)},${py(y).toFixed(1)}`).join('');
    return `<path d="${d}" fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="1.5"/>`;
  });
  const legend = series.map((s, i) => `<text x="${WIDTH - MARGIN.right - 4}" y="${MARGIN.top + 14 * i}" text-anchor="end" fill="${COLORS[i % COLORS.length]}">${escapeXml(s.name)}</text>`);
  return svg(title, [
    ...ticks.map((t) => `<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${py(t)}" y2="${py(t)}" stroke="#ddd"/><text x="${MARGIN.left - 6}" y="${py(t) + 4}" text-anchor="end">${formatTick(t)}</text>`),
    `<text x="${MARGIN.left}" y="${HEIGHT - 8}">${formatTick(xMin)}</text><text x="${WIDTH - MARGIN.right}" y="${HEIGHT - 8}" text-anchor="end">${formatTick(xMax)}</text>`,
    `<text x="${(WIDTH + MARGIN.left) / 2}" y="${HEIGHT - 8}" text-anchor="middle">${escapeXml(axes.x)}</text>`,
    `<text transform="translate(14 ${HEIGHT / 2}) rotate(-90)" text-anchor="middle">${escapeXml(axes.y)}</text>`,
    ...lines,
    ...legend,
  ]);
}

/** Options of {@link barChart}. */
export interface BarChartOptions {
  /** The value axis's label. */
  axis?: string;
  /** Values shown as percentages (0.25 → "25 %") on the bars and the axis. Default true. */
  percent?: boolean;
  /** Dashed vertical lines across the plot with a label, e.g. chance at 0.25. */
  references?: { value: number; label: string }[];
}

/**
 * Grouped horizontal bars: one group per category, one bar per series (values in [0, 1], with
 * optional intervals), each bar labelled with its value. The light grid lies under the bars.
 */
export function barChart(title: string, categories: string[], series: { name: string; values: number[]; intervals?: [number, number][] }[], options: BarChartOptions = {}): string {
  const percent = options.percent ?? true;
  const format = (v: number) => (percent ? `${(100 * v).toFixed(1)} %` : v.toFixed(3));
  const barHeight = 14;
  const groupHeight = barHeight * series.length + 10;
  const left = 180;
  const right = WIDTH - MARGIN.right - 44; // room for the value of a full bar
  const plotBottom = MARGIN.top + categories.length * groupHeight;
  const axisLabelY = plotBottom + 30;
  const height = axisLabelY + 16 + 14 * Math.ceil((series.length + (options.references?.length ?? 0)) / 2);
  const px = (v: number) => left + Math.max(0, Math.min(1, v)) * (right - left);
  const parts: string[] = [];
  for (const f of [0, 0.25, 0.5, 0.75, 1]) {
    parts.push(`<line x1="${px(f)}" x2="${px(f)}" y1="${MARGIN.top - 4}" y2="${plotBottom}" stroke="#eee"/><text x="${px(f)}" y="${plotBottom + 14}" text-anchor="middle">${percent ? `${100 * f} %` : f}</text>`);
  }
  categories.forEach((category, c) => {
    const y0 = MARGIN.top + c * groupHeight;
    parts.push(`<text x="${left - 6}" y="${y0 + (barHeight * series.length) / 2 + 4}" text-anchor="end">${escapeXml(category)}</text>`);
    series.forEach((s, i) => {
      const y = y0 + i * barHeight;
      const v = s.values[c];
      if (!Number.isFinite(v)) return;
      parts.push(`<rect x="${left}" y="${y}" width="${(px(v) - left).toFixed(1)}" height="${barHeight - 2}" fill="${COLORS[i % COLORS.length]}"><title>${escapeXml(`${s.name}: ${format(v)}`)}</title></rect>`);
      const interval = s.intervals?.[c];
      if (interval && Number.isFinite(interval[0])) parts.push(`<line x1="${px(interval[0])}" x2="${px(interval[1])}" y1="${y + barHeight / 2 - 1}" y2="${y + barHeight / 2 - 1}" stroke="#000"/>`);
      const labelX = Math.max(px(v), interval && Number.isFinite(interval[1]) ? px(interval[1]) : 0) + 3;
      parts.push(`<text x="${labelX.toFixed(1)}" y="${y + barHeight - 4}" font-size="10">${format(v)}</text>`);
    });
  });
  for (const r of options.references ?? []) parts.push(`<line x1="${px(r.value)}" x2="${px(r.value)}" y1="${MARGIN.top - 4}" y2="${plotBottom}" stroke="#555" stroke-dasharray="4 3"/>`);
  if (options.axis) parts.push(`<text x="${(left + right) / 2}" y="${axisLabelY}" text-anchor="middle">${escapeXml(options.axis)}</text>`);
  // The legend: two entries per line under the axis label, so long names fit.
  const legend = [...series.map((s, i) => ({ name: s.name, mark: `<rect width="10" height="10" fill="${COLORS[i % COLORS.length]}"/>` })), ...(options.references ?? []).map((r) => ({ name: r.label, mark: '<line x1="5" x2="5" y1="-1" y2="11" stroke="#555" stroke-dasharray="4 3"/>' }))];
  legend.forEach((entry, i) => {
    const [x, y] = [MARGIN.left + (i % 2) * 240, axisLabelY + 10 + 14 * Math.floor(i / 2)];
    parts.push(`<g transform="translate(${x} ${y})">${entry.mark}<text x="14" y="9">${escapeXml(entry.name)}</text></g>`);
  });
  return svg(title, parts, height);
}

function svg(title: string, parts: string[], height = HEIGHT): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="11">`,
    `<text x="${WIDTH / 2}" y="16" text-anchor="middle" font-size="13" font-weight="bold">${escapeXml(title)}</text>`,
    ...parts,
    '</svg>',
  ].join('\n');
}

export { escapeXml };
