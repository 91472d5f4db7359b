import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadExperiment } from '../../lib/experiment/load';

const dir = resolve(__dirname, '../../experiments');

test.each(readdirSync(dir).filter((f) => f.endsWith('.ts')))('the shipped experiment %s validates', (file) => {
  const config = loadExperiment(join(dir, file), [], { preflight: false });
  expect(config.name).toBe(file.replace(/\.ts$/, ''));
});
