/** The parsers of numeric command-line values: each range refused with the value named. */
import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { integerOption, nonNegativeNumberOption, numberOption, portOption, positiveIntegerOption, positiveNumberOption } from '../lib/cli/options.js';

describe('numeric option parsers', () => {
  const refuses = (parse: (value: string) => number, values: string[], message: string) => {
    for (const value of values) {
      expect(() => parse(value), value).toThrow(InvalidArgumentError);
      expect(() => parse(value), value).toThrow(`${message}, got '${value}'`);
    }
  };

  it('accept what is in range, as numbers', () => {
    expect(['0', ' 7 ', '9007199254740991'].map(integerOption)).toEqual([0, 7, 2 ** 53 - 1]);
    expect(['1', '10240'].map(positiveIntegerOption)).toEqual([1, 10240]);
    expect(['1', '65535'].map(portOption)).toEqual([1, 65535]);
    expect(['-2.5', '1e-3'].map(numberOption)).toEqual([-2.5, 1e-3]);
    expect(['1e-5', '0.0009765625'].map(positiveNumberOption)).toEqual([1e-5, 2 ** -10]);
    expect(['0', '0.7'].map(nonNegativeNumberOption)).toEqual([0, 0.7]);
  });

  it('refuse what is not, naming the value', () => {
    refuses(integerOption, ['-3', '1.5', '1e3', '', 'x', '9007199254740993'], 'expected a non-negative integer');
    refuses(positiveIntegerOption, ['0', '00', '-1', '2.0', 'NaN'], 'expected a positive integer');
    refuses(portOption, ['0', '65536', '-80', 'http'], 'expected a port number from 1 to 65535');
    refuses(numberOption, ['', ' ', 'Infinity', 'abc'], 'expected a number');
    refuses(positiveNumberOption, ['0', '-5', '-0'], 'expected a number above 0');
    refuses(nonNegativeNumberOption, ['-1', '-1e-9'], 'expected a number of 0 or more');
  });
});
