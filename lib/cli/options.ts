/** Parsers of command-line option values: a bad value is an error naming the option's value. */
import { InvalidArgumentError } from 'commander';

/** A non-negative integer. */
export function integerOption(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) throw new InvalidArgumentError(`expected a non-negative integer, got '${value}'`);
  return n;
}

/** A finite number. */
export function numberOption(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`expected a number, got '${value}'`);
  return n;
}
