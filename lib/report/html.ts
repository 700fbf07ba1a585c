/** A self-contained HTML report: sections of text, tables and inline SVG charts, nothing fetched. */
import { escapeXml } from './svg.js';

export type ReportBlock = { kind: 'svg'; svg: string } | { kind: 'table'; header: string[]; rows: (string | number)[][] } | { kind: 'text'; text: string };

export interface ReportSection {
  title: string;
  blocks: ReportBlock[];
}

/** A table cell: numbers (and numbers with units, "87.5 % (56/64; …)") right-aligned, text left. */
function cell(value: string | number): string {
  const text = typeof value === 'number' ? (Number.isInteger(value) ? String(value) : value.toFixed(4)) : value;
  const numeric = typeof value === 'number' || /^-?[\d.]+( %)?( \(.*)?$/.test(value);
  return `<td${numeric ? ' class="num"' : ''}>${escapeXml(text)}</td>`;
}

function block(b: ReportBlock): string {
  switch (b.kind) {
    case 'svg':
      return `<figure>${b.svg}</figure>`;
    case 'text':
      return `<p>${escapeXml(b.text)}</p>`;
    case 'table':
      return `<table><thead><tr>${b.header.map((h) => `<th>${escapeXml(h)}</th>`).join('')}</tr></thead><tbody>${b.rows.map((r) => `<tr>${r.map(cell).join('')}</tr>`).join('')}</tbody></table>`;
  }
}

/** The whole page. */
export function renderReport(title: string, sections: ReportSection[]): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeXml(title)}</title>
<style>body{font-family:sans-serif;max-width:1200px;margin:2em auto;color:#222}section{margin-bottom:2em}figure{display:inline-block;margin:0 1em 1em 0}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}th{background:#f4f4f4}td.num{text-align:right}p{max-width:60em;line-height:1.4}</style>
</head><body><h1>${escapeXml(title)}</h1>
${sections.map((s) => `<section><h2>${escapeXml(s.title)}</h2>\n${s.blocks.map(block).join('\n')}</section>`).join('\n')}
</body></html>
`;
}
