/**
 * Parsers of command-line option values: a value out of the option's range is refused when the
 * command line is parsed, before any work, with an error naming the option and the value.
 */
import { InvalidArgumentError } from 'commander';

/** A non-negative integer (a seed, a rank, "every n steps" where 0 means never). */
export function integerOption(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) throw new InvalidArgumentError(`expected a non-negative integer, got '${value}'`);
  return n;
}

/** A positive integer (a count or a size: batch size, epochs, patches, tokens). */
export function positiveIntegerOption(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n === 0) throw new InvalidArgumentError(`expected a positive integer, got '${value}'`);
  return n;
}

/** A TCP port, 1 … 65535. */
export function portOption(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < 1 || n > 65535) throw new InvalidArgumentError(`expected a port number from 1 to 65535, got '${value}'`);
  return n;
}

/** A finite number. */
export function numberOption(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`expected a number, got '${value}'`);
  return n;
}

/** A finite number above 0 (a learning rate, a size in MB). */
export function positiveNumberOption(value: string): number {
  const n = numberOption(value);
  if (!(n > 0)) throw new InvalidArgumentError(`expected a number above 0, got '${value}'`);
  return n;
}

/** A finite number of 0 or more (a temperature). */
export function nonNegativeNumberOption(value: string): number {
  const n = numberOption(value);
  if (!(n >= 0)) throw new InvalidArgumentError(`expected a number of 0 or more, got '${value}'`);
  return n;
}
