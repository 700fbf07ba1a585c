/** Shared pieces of the dataset format parsers: their context, and checked access to record fields. */
import { basename } from 'node:path';
import type { DatasetProblem, ParsedDataset, Sample } from '../sample.js';

/** What a format parser needs besides the file's text. */
export interface FormatContext {
  /** The dataset file, named in problems. */
  file: string;
  /** The folder relative feature references are resolved against. */
  featuresDir: string;
  /** Feature files under `featuresDir` (only listed for formats that name cases rather than files). */
  featureFiles?: readonly string[];
}

/** A record that cannot become a sample; the message says why. */
export class RecordError extends Error {}

/** The record as an object, or a {@link RecordError}. */
export function asRecord(value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new RecordError(`record is not an object (${describeValue(value)})`);
  return value as Record<string, unknown>;
}

/**
 * A short description of a JSON value for a message: a scalar as JSON (cut at 40 characters), a
 * list or object by its size. Never walks into a value, which may be nested 100 000 levels deep.
 */
export function describeValue(value: unknown): string {
  if (Array.isArray(value)) return `a list of ${value.length} item(s)`;
  if (typeof value === 'object' && value !== null) return `an object with ${Object.keys(value).length} key(s)`;
  return String(JSON.stringify(value)).slice(0, 40);
}

/** A non-empty string field (numbers are accepted and turned into text), or a {@link RecordError} naming the field. */
export function requireText(record: Record<string, unknown>, key: string): string {
  const value = record[key];
  if (typeof value === 'number') return String(value);
  if (typeof value !== 'string' || value.trim() === '') throw new RecordError(`field "${key}" is missing or empty`);
  return value;
}

/** An optional string field. */
export function optionalText(record: Record<string, unknown>, key: string): string | undefined {
  const value = record[key];
  return value === undefined || value === null ? undefined : requireText(record, key);
}

/** A non-empty list of non-empty strings, or a {@link RecordError} naming the field. */
export function requireTextList(record: Record<string, unknown>, key: string): string[] {
  const value = record[key];
  if (!Array.isArray(value) || value.length === 0 || !value.every((v) => typeof v === 'string' && v.trim() !== '')) {
    throw new RecordError(`field "${key}" must be a non-empty list of texts`);
  }
  return value as string[];
}

/**
 * Samples built from `records` one by one: a record whose `build` throws a {@link RecordError}
 * becomes a problem at its row instead of a sample. `rowOf(i)` is the 1-based row of record i.
 */
export function buildSamples<T>(
  records: readonly T[],
  file: string,
  rowOf: (index: number) => number,
  build: (record: T, row: number) => Sample,
): ParsedDataset {
  const samples: Sample[] = [];
  const problems: DatasetProblem[] = [];
  records.forEach((record, index) => {
    const row = rowOf(index);
    try {
      samples.push(build(record, row));
    } catch (error) {
      if (!(error instanceof RecordError)) throw error;
      problems.push({ file, row, message: error.message });
    }
  });
  return { samples, problems };
}

/** An id for records that have none, unique within the dataset: `<file name>:<row>`. */
export function rowId(file: string, row: number): string {
  return `${basename(file)}:${row}`;
}
