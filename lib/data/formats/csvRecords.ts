/** Rows of a dataset CSV file with a header row, as objects keyed by column name, with their line numbers. */
import { CsvError, parse } from 'csv-parse/sync';
import type { DatasetProblem } from '../sample.js';

/** One data row: cells by (trimmed) column name, and its 1-based line in the file. */
export interface CsvRow {
  cells: Record<string, string>;
  row: number;
}

/**
 * The data rows of `text`, or a single whole-file problem (with the line csv-parse stopped at)
 * when the CSV itself is malformed. Column names are trimmed (`" Question"` → `"Question"`).
 */
export function readCsvRows(text: string, file: string): { rows: CsvRow[]; problems: DatasetProblem[] } {
  try {
    const records = parse(text, {
      columns: (header: string[]) => header.map((name) => name.trim()),
      info: true,
      skip_empty_lines: true,
      bom: true,
    }) as { record: Record<string, string>; info: { lines: number } }[];
    return { rows: records.map(({ record, info }) => ({ cells: record, row: info.lines })), problems: [] };
  } catch (error) {
    if (!(error instanceof CsvError)) throw error;
    const line = typeof error.lines === 'number' ? error.lines : 0;
    return { rows: [], problems: [{ file, row: line, message: `malformed CSV: ${error.message}` }] };
  }
}

/** True when every column in `names` is in the header row of `text`. */
export function hasColumns(text: string, names: readonly string[]): boolean {
  const header = text.split(/\r?\n/, 1)[0].replace(/^\uFEFF/, '');
  const columns = new Set(header.split(',').map((c) => c.trim().replace(/^"|"$/g, '')));
  return names.every((name) => columns.has(name));
}
