/**
 * Reading patch features from a CSV file as SlideChat writes them: one row per patch, with or
 * without a header row; the first 512 or 1024 columns are the feature; a few trailing columns
 * (patch coordinates, names) may follow. A file written by pandas' default `DataFrame.to_csv`
 * starts each row with the row index, under an empty header cell: that column is dropped.
 * Rows are converted as they stream in, so memory stays near the size of the features themselves.
 */
import { CsvError, parse } from 'csv-parse';
import { FormatError, IoError } from '../errors.js';
import { describeFsError, openRegularFile } from './fileBytes.js';
import type { StoredTensor } from './storedTensor.js';

/** Feature widths a CSV may hold: CONCH (512) and UNI / ResNet (1024). */
const FEATURE_WIDTHS = [1024, 512] as const;
/** Trailing columns accepted after the features: coordinates, an index, a patch name, … */
const MAX_TRAILING_COLUMNS = 8;
const NOT_A_NUMBER_WORDS: Readonly<Record<string, number>> = { nan: NaN, inf: Infinity, '+inf': Infinity, '-inf': -Infinity };

/** The number in a CSV cell, or undefined when the cell is text (or empty). Accepts nan / inf as numpy writes them. */
function cellNumber(cell: string): number | undefined {
  if (cell === '') return undefined;
  const value = Number(cell);
  if (!Number.isNaN(value)) return value;
  return NOT_A_NUMBER_WORDS[cell.toLowerCase()];
}

/** True when a first row is a header: some cell is text, or the cells are pandas' default names 0, 1, 2, … */
function isHeaderRow(cells: string[]): boolean {
  return cells.some((cell) => cellNumber(cell) === undefined) || cells.every((cell, i) => cell === String(i));
}

/**
 * True when a header row starts with pandas' index column: an empty first cell, then column
 * names (`,0,1,…,1023` for a DataFrame made from an array). The index (0, 1, 2, … or any
 * labels) is then the first cell of every row, not a feature.
 */
function hasIndexColumn(header: string[]): boolean {
  return header.length > 1 && header[0] === '' && header.slice(1).every((cell) => cell !== '');
}

/**
 * The patch features of a SlideChat feature CSV: `features` [N, 512 | 1024] float32 (widths
 * decided by the column count), and `coords` [N, 2] float32 when at least two trailing columns
 * are numeric in every row (the first two such columns). Throws {@link FormatError} naming the
 * file, row (1-based, as in a spreadsheet) and column for a text cell in a feature column, a
 * ragged row, or a column count that is not 512 or 1024 plus at most 8 trailing columns.
 */
export async function readFeatureCsv(path: string): Promise<Map<string, StoredTensor>> {
  const { handle } = await openRegularFile(path);
  const input = handle.createReadStream();
  const parser = parse({ skip_empty_lines: true, trim: true });
  input.on('error', (error) => parser.destroy(error));
  input.pipe(parser);
  let header: string[] | undefined;
  /** 1 when the first column is pandas' row index, which is skipped. */
  let skip = 0;
  let width = 0;
  let trailing = 0;
  let features = new Float32Array(0);
  let extra = new Float64Array(0);
  let patches = 0;
  let row = 0;
  try {
    for await (const allCells of parser as AsyncIterable<string[]>) {
      row++;
      if (row === 1) {
        if (isHeaderRow(allCells) && hasIndexColumn(allCells)) skip = 1;
        const columns = allCells.length - skip;
        width = FEATURE_WIDTHS.find((w) => columns >= w) ?? 0;
        trailing = columns - width;
        if (width === 0 || trailing > MAX_TRAILING_COLUMNS) {
          throw new FormatError(`${path}: ${columns} columns per row; expected 512 or 1024 feature columns followed by at most ${MAX_TRAILING_COLUMNS} others`);
        }
        if (isHeaderRow(allCells)) {
          header = allCells.slice(skip);
          continue;
        }
      }
      const cells = skip ? allCells.slice(skip) : allCells;
      if (patches * width === features.length) {
        const capacity = Math.max(1024, patches * 2);
        features = grow(features, capacity * width);
        extra = grow(extra, capacity * trailing);
      }
      for (let column = 0; column < width; column++) {
        const value = cellNumber(cells[column]);
        if (value === undefined) {
          const name = header ? ` (${JSON.stringify(header[column])})` : '';
          throw new FormatError(`${path}: row ${row}, column ${column + 1 + skip}${name}: ${JSON.stringify(cells[column])} is not a number (feature columns must be numeric)`);
        }
        features[patches * width + column] = value;
      }
      for (let column = 0; column < trailing; column++) extra[patches * trailing + column] = cellNumber(cells[width + column]) ?? NaN;
      patches++;
    }
  } catch (error) {
    if (error instanceof FormatError) throw error;
    if (error instanceof CsvError) throw new FormatError(`${path}: ${error.message}`, { cause: error });
    throw new IoError(`${path}: cannot read file (${describeFsError(error)})`, { cause: error });
  } finally {
    parser.destroy();
    input.destroy();
  }
  const tensors = new Map<string, StoredTensor>([['features', { dtype: 'F32', shape: [patches, width], data: features.slice(0, patches * width) }]]);
  const coords = coordinateColumns(extra, patches, trailing);
  if (coords) tensors.set('coords', { dtype: 'F32', shape: [patches, 2], data: coords });
  return tensors;
}

/** The first two trailing columns that are numeric in every row, as [N, 2]; undefined when fewer exist. */
function coordinateColumns(extra: Float64Array, patches: number, trailing: number): Float32Array | undefined {
  const numeric: number[] = [];
  for (let column = 0; column < trailing && numeric.length < 2; column++) {
    let allNumbers = patches > 0;
    for (let p = 0; p < patches && allNumbers; p++) allNumbers = !Number.isNaN(extra[p * trailing + column]);
    if (allNumbers) numeric.push(column);
  }
  if (numeric.length < 2) return undefined;
  const coords = new Float32Array(patches * 2);
  for (let p = 0; p < patches; p++) {
    coords[p * 2] = extra[p * trailing + numeric[0]];
    coords[p * 2 + 1] = extra[p * trailing + numeric[1]];
  }
  return coords;
}

function grow<T extends Float32Array | Float64Array>(array: T, length: number): T {
  const grown = new (array.constructor as new (n: number) => T)(length);
  grown.set(array);
  return grown;
}
