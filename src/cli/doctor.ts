import { formatReport, gatherReport } from '../daemon/doctor';
import { configFromValues, configOptions, parseCommandArgs } from './options';

export async function main(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs('doctor', argv, { ...configOptions, json: { type: 'boolean', short: 'j' } } as const);
  const report = await gatherReport(configFromValues(values));
  process.stdout.write((values.json ? JSON.stringify(report, null, 2) : formatReport(report)) + '\n');
  return report.opencv.ok && report.tfjs.ok && report.model.ok ? 0 : 1;
}
