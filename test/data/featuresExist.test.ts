/** Every feature file a dataset names exists, checked before a run starts. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readDataset } from '../../lib/data/dataset.js';
import { requireFeatureFiles } from '../../lib/data/featuresExist.js';
import { IoError } from '../../lib/errors.js';
import { tempDir, writeTemp } from '../io/helpers.js';

describe('requireFeatureFiles', () => {
  const row = (slide: string) => ({ slide_id: slide, question: 'Q?', answer: 'A.', features_path: `${slide}.pt` });

  it('passes when every file is there, and names the missing ones with their first rows and the folder', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'S1.pt'), '');
    mkdirSync(join(dir, 'S4.pt')); // a folder is not a feature file
    const file = writeTemp(dir, 'vqa.json', JSON.stringify([row('S1'), row('S2'), row('S1'), row('S3'), row('S2'), row('S4'), row('S5')]));
    const samples = await readDataset(file);
    await expect(requireFeatureFiles(samples.slice(0, 1), file)).resolves.toBeUndefined();
    await expect(requireFeatureFiles(samples, file)).rejects.toThrow(IoError);
    await expect(requireFeatureFiles(samples, file)).rejects.toThrow(
      `${file}: 4 of its 5 feature files are missing (row 2: ${join(dir, 'S2.pt')}, row 4: ${join(dir, 'S3.pt')}, row 6: ${join(dir, 'S4.pt')}, …); ` +
        `relative paths are resolved in ${dir} (--features-dir), and wsi-vqa data check ${file} lists every problem`,
    );
    await expect(requireFeatureFiles(samples.slice(1, 2), file)).rejects.toThrow(`${file}: none of its 1 feature files exists (row 2: ${join(dir, 'S2.pt')});`);
  });
});
