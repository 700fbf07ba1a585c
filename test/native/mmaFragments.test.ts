/**
 * The fragment index math of the flash-attention kernels (native/cuda/mma_fragments.h), checked
 * on the CPU: a small C++ program (mma_fragments_check.cpp, compiled here with g++) prints who
 * holds each element of each fragment, which must equal the PTX ISA's figures written out below,
 * and runs the kernels' two products (S = Q·Kᵀ, O = P·V) through emulated ldmatrix and mma.sync
 * on swizzled tiles, which must be exact and free of bank conflicts.
 */
import { beforeAll, describe, expect, it } from 'vitest';

import { compileAndRun } from './gxx.js';

/**
 * A figure's row as the ISA draws it: `T5{a0,a1}` is one cell of thread 5 spanning two columns
 * (elements a0 and a1), `T5{b0}` one column. Expands to one `T5:a0` entry per column.
 */
function row(figureRow: string): string {
  return figureRow
    .split(' ')
    .flatMap((cell) => {
      const match = /^T(\d+)\{([^}]+)\}$/.exec(cell);
      if (!match) throw new Error(`bad cell ${cell}`);
      return match[2].split(',').map((element) => `T${match[1]}:${element}`);
    })
    .join(' ');
}

// PTX ISA, "Matrix Fragments for mma.m16n8k16 with floating point type", figure "MMA .m16n8k16
// fragment layout for matrix A with .f16/.bf16 type" (16 rows × 16 columns).
const MMA_A = [
  'T0{a0,a1} T1{a0,a1} T2{a0,a1} T3{a0,a1} T0{a4,a5} T1{a4,a5} T2{a4,a5} T3{a4,a5}',
  'T4{a0,a1} T5{a0,a1} T6{a0,a1} T7{a0,a1} T4{a4,a5} T5{a4,a5} T6{a4,a5} T7{a4,a5}',
  'T8{a0,a1} T9{a0,a1} T10{a0,a1} T11{a0,a1} T8{a4,a5} T9{a4,a5} T10{a4,a5} T11{a4,a5}',
  'T12{a0,a1} T13{a0,a1} T14{a0,a1} T15{a0,a1} T12{a4,a5} T13{a4,a5} T14{a4,a5} T15{a4,a5}',
  'T16{a0,a1} T17{a0,a1} T18{a0,a1} T19{a0,a1} T16{a4,a5} T17{a4,a5} T18{a4,a5} T19{a4,a5}',
  'T20{a0,a1} T21{a0,a1} T22{a0,a1} T23{a0,a1} T20{a4,a5} T21{a4,a5} T22{a4,a5} T23{a4,a5}',
  'T24{a0,a1} T25{a0,a1} T26{a0,a1} T27{a0,a1} T24{a4,a5} T25{a4,a5} T26{a4,a5} T27{a4,a5}',
  'T28{a0,a1} T29{a0,a1} T30{a0,a1} T31{a0,a1} T28{a4,a5} T29{a4,a5} T30{a4,a5} T31{a4,a5}',
  'T0{a2,a3} T1{a2,a3} T2{a2,a3} T3{a2,a3} T0{a6,a7} T1{a6,a7} T2{a6,a7} T3{a6,a7}',
  'T4{a2,a3} T5{a2,a3} T6{a2,a3} T7{a2,a3} T4{a6,a7} T5{a6,a7} T6{a6,a7} T7{a6,a7}',
  'T8{a2,a3} T9{a2,a3} T10{a2,a3} T11{a2,a3} T8{a6,a7} T9{a6,a7} T10{a6,a7} T11{a6,a7}',
  'T12{a2,a3} T13{a2,a3} T14{a2,a3} T15{a2,a3} T12{a6,a7} T13{a6,a7} T14{a6,a7} T15{a6,a7}',
  'T16{a2,a3} T17{a2,a3} T18{a2,a3} T19{a2,a3} T16{a6,a7} T17{a6,a7} T18{a6,a7} T19{a6,a7}',
  'T20{a2,a3} T21{a2,a3} T22{a2,a3} T23{a2,a3} T20{a6,a7} T21{a6,a7} T22{a6,a7} T23{a6,a7}',
  'T24{a2,a3} T25{a2,a3} T26{a2,a3} T27{a2,a3} T24{a6,a7} T25{a6,a7} T26{a6,a7} T27{a6,a7}',
  'T28{a2,a3} T29{a2,a3} T30{a2,a3} T31{a2,a3} T28{a6,a7} T29{a6,a7} T30{a6,a7} T31{a6,a7}',
].map(row);

// Same section, figure "MMA .m16n8k16 fragment layout for matrix B with .f16/.bf16 type"
// (16 rows of K × 8 columns of N).
const MMA_B = [
  'T0{b0} T4{b0} T8{b0} T12{b0} T16{b0} T20{b0} T24{b0} T28{b0}',
  'T0{b1} T4{b1} T8{b1} T12{b1} T16{b1} T20{b1} T24{b1} T28{b1}',
  'T1{b0} T5{b0} T9{b0} T13{b0} T17{b0} T21{b0} T25{b0} T29{b0}',
  'T1{b1} T5{b1} T9{b1} T13{b1} T17{b1} T21{b1} T25{b1} T29{b1}',
  'T2{b0} T6{b0} T10{b0} T14{b0} T18{b0} T22{b0} T26{b0} T30{b0}',
  'T2{b1} T6{b1} T10{b1} T14{b1} T18{b1} T22{b1} T26{b1} T30{b1}',
  'T3{b0} T7{b0} T11{b0} T15{b0} T19{b0} T23{b0} T27{b0} T31{b0}',
  'T3{b1} T7{b1} T11{b1} T15{b1} T19{b1} T23{b1} T27{b1} T31{b1}',
  'T0{b2} T4{b2} T8{b2} T12{b2} T16{b2} T20{b2} T24{b2} T28{b2}',
  'T0{b3} T4{b3} T8{b3} T12{b3} T16{b3} T20{b3} T24{b3} T28{b3}',
  'T1{b2} T5{b2} T9{b2} T13{b2} T17{b2} T21{b2} T25{b2} T29{b2}',
  'T1{b3} T5{b3} T9{b3} T13{b3} T17{b3} T21{b3} T25{b3} T29{b3}',
  'T2{b2} T6{b2} T10{b2} T14{b2} T18{b2} T22{b2} T26{b2} T30{b2}',
  'T2{b3} T6{b3} T10{b3} T14{b3} T18{b3} T22{b3} T26{b3} T30{b3}',
  'T3{b2} T7{b2} T11{b2} T15{b2} T19{b2} T23{b2} T27{b2} T31{b2}',
  'T3{b3} T7{b3} T11{b3} T15{b3} T19{b3} T23{b3} T27{b3} T31{b3}',
].map(row);

// Same section, figure "MMA .m16n8k16 fragment layout for accumulator matrix C/D with .f32 type"
// (16 rows × 8 columns).
const MMA_C = [
  'T0{c0,c1} T1{c0,c1} T2{c0,c1} T3{c0,c1}',
  'T4{c0,c1} T5{c0,c1} T6{c0,c1} T7{c0,c1}',
  'T8{c0,c1} T9{c0,c1} T10{c0,c1} T11{c0,c1}',
  'T12{c0,c1} T13{c0,c1} T14{c0,c1} T15{c0,c1}',
  'T16{c0,c1} T17{c0,c1} T18{c0,c1} T19{c0,c1}',
  'T20{c0,c1} T21{c0,c1} T22{c0,c1} T23{c0,c1}',
  'T24{c0,c1} T25{c0,c1} T26{c0,c1} T27{c0,c1}',
  'T28{c0,c1} T29{c0,c1} T30{c0,c1} T31{c0,c1}',
  'T0{c2,c3} T1{c2,c3} T2{c2,c3} T3{c2,c3}',
  'T4{c2,c3} T5{c2,c3} T6{c2,c3} T7{c2,c3}',
  'T8{c2,c3} T9{c2,c3} T10{c2,c3} T11{c2,c3}',
  'T12{c2,c3} T13{c2,c3} T14{c2,c3} T15{c2,c3}',
  'T16{c2,c3} T17{c2,c3} T18{c2,c3} T19{c2,c3}',
  'T20{c2,c3} T21{c2,c3} T22{c2,c3} T23{c2,c3}',
  'T24{c2,c3} T25{c2,c3} T26{c2,c3} T27{c2,c3}',
  'T28{c2,c3} T29{c2,c3} T30{c2,c3} T31{c2,c3}',
].map(row);

// PTX ISA, "Warp-level matrix load instruction: ldmatrix", figure "ldmatrix fragment layout for
// one 8x8 Matrix with 16-bit elements" (r0, r1: the two halves of the thread's register).
const LDMATRIX = [
  'T0{r0,r1} T1{r0,r1} T2{r0,r1} T3{r0,r1}',
  'T4{r0,r1} T5{r0,r1} T6{r0,r1} T7{r0,r1}',
  'T8{r0,r1} T9{r0,r1} T10{r0,r1} T11{r0,r1}',
  'T12{r0,r1} T13{r0,r1} T14{r0,r1} T15{r0,r1}',
  'T16{r0,r1} T17{r0,r1} T18{r0,r1} T19{r0,r1}',
  'T20{r0,r1} T21{r0,r1} T22{r0,r1} T23{r0,r1}',
  'T24{r0,r1} T25{r0,r1} T26{r0,r1} T27{r0,r1}',
  'T28{r0,r1} T29{r0,r1} T30{r0,r1} T31{r0,r1}',
].map(row);

// With .trans the same registers come from the transposed matrix: the figure read by columns.
const LDMATRIX_TRANS = [
  'T0{r0} T4{r0} T8{r0} T12{r0} T16{r0} T20{r0} T24{r0} T28{r0}',
  'T0{r1} T4{r1} T8{r1} T12{r1} T16{r1} T20{r1} T24{r1} T28{r1}',
  'T1{r0} T5{r0} T9{r0} T13{r0} T17{r0} T21{r0} T25{r0} T29{r0}',
  'T1{r1} T5{r1} T9{r1} T13{r1} T17{r1} T21{r1} T25{r1} T29{r1}',
  'T2{r0} T6{r0} T10{r0} T14{r0} T18{r0} T22{r0} T26{r0} T30{r0}',
  'T2{r1} T6{r1} T10{r1} T14{r1} T18{r1} T22{r1} T26{r1} T30{r1}',
  'T3{r0} T7{r0} T11{r0} T15{r0} T19{r0} T23{r0} T27{r0} T31{r0}',
  'T3{r1} T7{r1} T11{r1} T15{r1} T19{r1} T23{r1} T27{r1} T31{r1}',
].map(row);

interface CheckOutput {
  tables: Record<'mmaA' | 'mmaB' | 'mmaC' | 'ldmatrix' | 'ldmatrixTrans', string[]>;
  failures: string[];
}

describe('mma.sync / ldmatrix fragment mapping (native/cuda/mma_fragments.h)', () => {
  let output: CheckOutput;

  beforeAll(() => {
    const { stdout, status } = compileAndRun('mma_fragments_check.cpp');
    expect(status).toBe(0);
    output = JSON.parse(stdout) as CheckOutput;
  });

  it('A of m16n8k16 (bf16/f16) is the ISA figure', () => expect(output.tables.mmaA).toEqual(MMA_A));
  it('B of m16n8k16 (bf16/f16) is the ISA figure', () => expect(output.tables.mmaB).toEqual(MMA_B));
  it('C/D of m16n8k16 (f32) is the ISA figure', () => expect(output.tables.mmaC).toEqual(MMA_C));
  it('ldmatrix of one 8x8 matrix is the ISA figure', () => expect(output.tables.ldmatrix).toEqual(LDMATRIX));
  it('ldmatrix .trans is the figure transposed', () => expect(output.tables.ldmatrixTrans).toEqual(LDMATRIX_TRANS));
  it("the kernels' S = Q·Kᵀ and O = P·V through ldmatrix x4 and mma are exact, without bank conflicts", () =>
    expect(output.failures).toEqual([]));
});
