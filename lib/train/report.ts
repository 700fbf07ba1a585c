/** The training part of `report.html`: loss and learning-rate curves and the evaluations of each run. */
import type { ReportSection } from '../report/html.js';
import { lineChart } from '../report/svg.js';
import type { TrainResult } from './trainer.js';

/** A section for one run (a stage): its loss and lr curves, and a table of its evaluations. */
export function trainingSection(title: string, result: Pick<TrainResult, 'history' | 'evaluations'>, options: { unit?: 'tokens' | 'slides'; note?: string } = {}): ReportSection {
  const loss = result.history.map((m): [number, number] => [m.step, m.loss]);
  const lr = result.history.map((m): [number, number] => [m.step, m.lr]);
  const blocks: ReportSection['blocks'] = [
    { kind: 'svg', svg: lineChart(`${title}: loss`, [{ name: 'loss', points: loss }], { x: 'optimizer step', y: `loss per ${(options.unit ?? 'tokens').slice(0, -1)} (nats)` }) },
    { kind: 'svg', svg: lineChart(`${title}: learning rate`, [{ name: 'lr', points: lr }], { x: 'optimizer step', y: 'learning rate' }) },
  ];
  if (options.note) blocks.unshift({ kind: 'text', text: options.note });
  if (result.evaluations.length > 0) {
    const keys = [...new Set(result.evaluations.flatMap((e) => Object.keys(e.metrics)))];
    blocks.push({ kind: 'table', header: ['step', ...keys], rows: result.evaluations.map((e) => [e.step, ...keys.map((k) => e.metrics[k] ?? NaN)]) });
  }
  return { title, blocks };
}
