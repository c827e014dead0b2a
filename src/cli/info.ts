import { resolveModelDir } from '../model/open-model';
import { selectBackend } from '../model/backend';
import { selectEngine } from '../model/engine/select-engine';
import { loadModelPackage } from '../model/model-package';
import { UsageError } from '../util/errors';
import { backendOption, parseCommandArgs } from './options';

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('info', argv, { json: { type: 'boolean', short: 'j' }, backend: { type: 'string' } } as const);
  if (positionals.length !== 1) throw new UsageError('info: give one model package directory or Keras file: edgesight info MODEL_DIR|FILE');
  const backend = await selectBackend(backendOption('info', values.backend));
  const preference = backendOption('info', values.backend);
  const loaded = await loadModelPackage(resolveModelDir(positionals[0]));
  // The engine the daemon would pick with this --backend (auto: converted, checked and timed here).
  const engine = (await selectEngine(loaded, { preference, threads: 0 })).summary;
  const m = loaded.metadata;
  const report = {
    path: loaded.dir,
    name: m.name,
    version: m.version,
    format: loaded.keras ? `${loaded.keras.format} (Keras ${loaded.keras.kerasVersion})` : loaded.onnx ? `onnx (${loaded.onnx.opset ? `opset ${loaded.onnx.opset}, ` : ''}${loaded.onnx.layout.toUpperCase()} input)` : loaded.format,
    layers: loaded.model && 'layers' in loaded.model ? loaded.model.layers.map((l) => ({ name: l.name, class: l.getClassName(), parameters: l.countParams() })) : undefined,
    defaults: loaded.keras?.notes ?? loaded.onnx?.notes,
    input: { height: loaded.inputShape[0], width: loaded.inputShape[1], channels: loaded.inputShape[2] },
    labels: m.labels,
    outputActivation: m.outputActivation,
    parameters: loaded.parameters,
    weightBytes: loaded.weightBytes,
    preprocess: m.preprocess,
    conventions: m.conventions,
    backend: backend.name,
    engine,
    training: m.extra.training,
  };
  loaded.model?.dispose();
  const layerLines = (report.layers ?? []).map((l) => `            ${l.name} (${l.class.replace(/^EdgesightKeras/, '')})${l.parameters ? `, ${l.parameters.toLocaleString('en-US')} parameters` : ''}`);
  if (values.json) {
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    return 0;
  }
  const p = m.preprocess;
  const transfer = transferOf(report.training);
  const lines = [
    `model       ${report.name} (${report.version})`,
    `path        ${report.path}`,
    `format      ${report.format}, ${loaded.onnx ? '' : `${report.parameters.toLocaleString('en-US')} parameters, `}${(report.weightBytes / 1024).toFixed(1)} KiB${loaded.onnx ? '' : ' of weights'}`,
    `input       ${p.width}x${p.height}x${p.channels}`,
    ...(layerLines.length ? [`layers      ${layerLines.length}`, ...layerLines] : []),
    `labels      ${m.labels.length}: ${m.labels.map((l) => JSON.stringify(l)).join(', ')}`,
    `output      ${m.outputActivation}`,
    `preprocess  resize ${p.resizeMode}, ${p.channels === 1 ? 'grayscale' : p.colorOrder.toUpperCase()}, range [${p.range.join(', ')}], invert ${p.invert}, contrast ${p.contrast}${p.roi ? `, roi ${JSON.stringify(p.roi)}` : ''}`,
    `conventions ${m.conventions === 'teachable-machine' ? 'Teachable Machine (fields absent from metadata.json take its defaults)' : 'edgesight'}`,
    `backend     ${backend.name}`,
    `engine      ${engine}`,
    ...(report.defaults?.length ? [`defaults    ${report.defaults.join('; ')}`] : []),
    ...(transfer ? [`trained     transfer-learned from ${transfer.base}${transfer.baseKind ? ` (${transfer.baseKind})` : ''}, cut at layer '${transfer.layer}'${transfer.fineTune ? `, last ${transfer.fineTune.layers} layers fine-tuned` : ''}`] : []),
  ];
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}

/** The trainer's record of a transfer-learned package (metadata.json's training.transfer), when there is one. */
function transferOf(training: unknown): { base: string; baseKind?: string; layer: string; fineTune?: { layers: number; kept: boolean } } | undefined {
  const t = (training as { transfer?: unknown } | undefined)?.transfer as Record<string, unknown> | undefined;
  if (!t || typeof t.base !== 'string' || typeof t.layer !== 'string') return undefined;
  const fineTune = t.fineTune as { layers: number; kept: boolean } | undefined;
  return { base: t.base, baseKind: typeof t.baseKind === 'string' ? t.baseKind : undefined, layer: t.layer, fineTune: fineTune?.kept ? fineTune : undefined };
}
