/**
 * What `edgesight`, `edgesight help` and `edgesight COMMAND --help` print. A command's option
 * list is made from the very options object its parser accepts (options.ts parseCommandArgs), so
 * help cannot offer an option the command refuses or miss one it takes; this file gives each
 * option its words. test/cli/help.test.ts checks that every option of every command has them.
 */

export interface OptionHelp {
  /** The value's placeholder (FILE, URL, N); none for a switch. */
  arg?: string;
  text: string;
}

export interface CommandHelp {
  /** What follows `edgesight NAME` in the usage line. */
  synopsis: string;
  summary: string;
  /** Words for options that mean something else here than in OPTION_HELP. */
  options?: Record<string, OptionHelp>;
}

const configFile: OptionHelp = { arg: 'FILE', text: 'configuration file (default: $EDGESIGHT_CONFIG, else the first of /etc/edgesight/config.json and ~/.config/edgesight/config.json that exists)' };

/** Options by name, as most commands mean them. */
export const OPTION_HELP: Record<string, OptionHelp> = {
  help: { text: 'print this help' },
  config: configFile,
  set: { arg: 'KEY=VALUE', text: "set a configuration key; 'edgesight config --docs' lists them" },
  source: { arg: 'S', text: 'frame source: auto, camera, gstreamer, url, file, images, webcam, demo, or a device, URL, video or folder (source)' },
  model: { arg: 'DIR|FILE', text: 'model package folder, Keras or ONNX file (model.path)' },
  backend: { arg: 'B', text: 'inference backend: auto, tfjs-node, wasm, cpu or opencv (model.backend)' },
  threshold: { arg: 'X', text: 'confidence under which the decision is "uncertain", 0 to 1 (decision.threshold)' },
  top: { arg: 'K', text: 'how many ranked labels are reported (decision.topK)' },
  smoothing: { arg: 'S', text: 'temporal smoothing: none, average or vote (decision.smoothing)' },
  'log-level': { arg: 'L', text: 'fatal, error, warn, info, debug, trace or silent (log.level)' },
  host: { arg: 'ADDR', text: 'address to listen on (server.host)' },
  port: { arg: 'N', text: 'TCP port of the dashboard and API; 0 picks a free one (server.port)' },
  auth: { arg: 'A', text: 'dashboard access: token, password or none (server.auth)' },
  json: { text: 'print JSON instead of text' },
  to: { arg: 'URL', text: "the daemon's address, such as http://raspberrypi.local:8080 (default: this machine's, on server.port)" },
  token: { arg: 'T', text: "access token (default: $EDGESIGHT_TOKEN, else the one in this machine's state directory)" },
  out: { arg: 'DIR', text: 'output folder' },
  data: { arg: 'DIR', text: 'dataset folder: one sub-folder of images per class' },
};

const TRAIN_OPTIONS: Record<string, OptionHelp> = {
  config: { arg: 'FILE', text: 'a JSON object of these options by name ({"size": "64x64", "epochs": 40}); flags win' },
  out: { arg: 'DIR', text: 'where the model package and its report are written' },
  'validation-split': { arg: 'F', text: 'share of each class held out for validation when there is no validation/ folder (0.2)' },
  seed: { arg: 'N', text: 'seed of the split, the initial weights and the augmentation (1)' },
  size: { arg: 'WxH', text: 'input size images are shrunk to (96x96)' },
  color: { arg: 'C', text: 'rgb or grayscale' },
  'class-mode': { arg: 'M', text: 'categorical (softmax) or binary (one sigmoid unit, two classes)' },
  'resize-mode': { arg: 'M', text: 'stretch (as Keras does) or center-crop' },
  architecture: { arg: 'A', text: 'network: compact-s2 (default from 64x64), compact (default below), seed-cnn or mobile' },
  alpha: { arg: 'F', text: 'width multiplier of mobile (0.5)' },
  optimizer: { arg: 'O', text: 'adam, rmsprop or sgd' },
  'learning-rate': { arg: 'F', text: 'initial learning rate (1e-3)' },
  'batch-size': { arg: 'N', text: 'images per training step (32)' },
  epochs: { arg: 'N', text: 'most epochs (20)' },
  patience: { arg: 'N', text: 'stop after N epochs without a better validation loss (5; 0: never)' },
  'lr-patience': { arg: 'N', text: 'epochs without improvement before the learning rate is lowered (3)' },
  'lr-factor': { arg: 'F', text: 'what the learning rate is multiplied by then (0.5)' },
  'min-lr': { arg: 'F', text: 'lowest learning rate' },
  'rotation-range': { arg: 'DEG', text: 'augmentation: random rotation up to DEG degrees' },
  'width-shift-range': { arg: 'F', text: 'augmentation: horizontal shift up to F of the width' },
  'height-shift-range': { arg: 'F', text: 'augmentation: vertical shift up to F of the height' },
  'shear-range': { arg: 'DEG', text: 'augmentation: shear up to DEG degrees' },
  'zoom-range': { arg: 'R', text: 'augmentation: zoom by 1-R to 1+R (or low,high)' },
  'horizontal-flip': { text: 'augmentation: mirror half of the images' },
  'brightness-range': { arg: 'LOW,HIGH', text: 'augmentation: brightness factor range' },
  'fill-mode': { arg: 'M', text: 'augmentation: how uncovered pixels are filled: nearest, constant, reflect or wrap' },
  cval: { arg: 'V', text: 'augmentation: the value of fill-mode constant' },
  backend: { arg: 'B', text: 'TF.js backend: auto, tfjs-node, wasm or cpu' },
  engine: { arg: 'E', text: 'what runs the training steps: auto (PyTorch where python3-torch is installed, else TF.js), torch or tfjs' },
  python: { arg: 'FILE', text: 'the Python interpreter with PyTorch (/usr/bin/python3)' },
  name: { arg: 'NAME', text: "the package's name in metadata.json" },
  base: { arg: 'MODEL', text: 'transfer learning: a model package, Teachable Machine export or Keras file to build on' },
  'base-layer': { arg: 'NAME', text: 'transfer learning: the layer the base is cut at' },
  'head-units': { arg: 'N', text: 'transfer learning: units of the dense layer of the head' },
  'augment-views': { arg: 'N', text: 'transfer learning: embeddings per image with augmentation (the image and N-1 views)' },
  'fine-tune': { arg: 'N', text: "transfer learning: then unfreeze the base's last N layers and train them too" },
  'fine-tune-epochs': { arg: 'N', text: 'transfer learning: epochs of fine-tuning (5)' },
  'fine-tune-learning-rate': { arg: 'F', text: 'transfer learning: learning rate of fine-tuning (the learning rate / 10)' },
};

export const COMMAND_HELP: Record<string, CommandHelp> = {
  run: { synopsis: '[SOURCE] [options]', summary: 'run the daemon: camera (or demo) -> model -> annotated frames; SIGINT or SIGTERM stop it' },
  predict: {
    synopsis: 'PATH... [options]',
    summary: 'classify image and video files (a folder stands for its files)',
    options: { json: { text: 'one JSON object per prediction on stdout' } },
  },
  train: { synopsis: '--data DIR --out DIR [options]', summary: 'train a model package (and its report) from a folder of labelled images; Ctrl-C or SIGTERM stop after the current batch and keep the best epoch', options: TRAIN_OPTIONS },
  evaluate: {
    synopsis: '--model DIR|FILE --data DIR [options]',
    summary: 'accuracy, per-class precision/recall/F1 and confusion matrix on a dataset folder',
    options: { model: { arg: 'DIR|FILE', text: 'the model package or Keras file to evaluate' }, backend: { arg: 'B', text: 'TF.js backend: auto, tfjs-node, wasm or cpu' } },
  },
  info: { synopsis: 'MODEL_DIR|FILE [options]', summary: 'describe a model package, Keras or ONNX file', options: { backend: OPTION_HELP.backend } },
  import: {
    synopsis: 'KERAS_FILE --out DIR [options]',
    summary: 'write a Keras file as a model package (TF.js layers + metadata.json)',
    options: {
      out: { arg: 'DIR', text: 'the package folder to write (new or empty)' },
      labels: { arg: 'A,B,...', text: 'class names, in output order' },
      range: { arg: 'LOW,HIGH', text: 'the input range the model expects, such as 0,1 or -1,1' },
      invert: { arg: 'true|false|auto', text: 'invert images before classifying' },
      'resize-mode': { arg: 'M', text: 'stretch or center-crop' },
      'color-order': { arg: 'O', text: 'rgb or bgr' },
      backend: { arg: 'B', text: 'TF.js backend used to read the file: auto, tfjs-node, wasm or cpu' },
    },
  },
  doctor: { synopsis: '[options]', summary: 'report the OpenCV build, TF.js backend, cameras and model found; exit 1 if a check fails' },
  deploy: { synopsis: 'MODEL --to URL [options]', summary: 'send a model package folder or a Keras file to a running edgesight, which checks it and swaps it in; exit 3 if refused, 1 if unreachable' },
  capture: {
    synopsis: '--to URL --label L [options]',
    summary: 'keep raw frames of a running edgesight as dataset samples',
    options: {
      label: { arg: 'L', text: 'the class the samples belong to' },
      count: { arg: 'N', text: 'how many samples (1)' },
      every: { arg: 'S', text: 'one sample every S seconds instead of a burst' },
    },
  },
  dataset: {
    synopsis: 'pull --from URL --out DIR [options]',
    summary: "copy a device's dataset (only new files) into a folder per class",
    options: {
      from: { arg: 'URL', text: "the device's address (same as --to)" },
      out: { arg: 'DIR', text: 'the local dataset folder' },
      unlabelled: { text: 'also copy the unlabelled hard examples' },
    },
  },
  rollback: { synopsis: '[options]', summary: 'serve the previous model again' },
  token: { synopsis: '[options]', summary: "print the dashboard's access token (and, on stderr, where it is kept)", options: { rotate: { text: 'make a new token (restart edgesight to use it)' } } },
  bench: {
    synopsis: '[options]',
    summary: 'measure the pipeline, and against a like-for-like Python loop (docs/benchmarks.md)',
    options: {
      quick: { text: 'the 640x480 clip only' },
      compare: { text: 'only the like-for-like comparison: four models, 1 and 2 cores, both sides' },
      seconds: { arg: 'N', text: 'seconds per measurement window (5; 3 with --quick)' },
      reference: { arg: 'FILE', text: 'the reference loop (bench/reference/loop.py)' },
      out: { arg: 'DIR', text: 'where latest.json and latest.md are written (test/bench/results)' },
      docs: { text: "also put the summary into docs/speed.md" },
    },
  },
  config: { synopsis: '[options]', summary: 'print the resolved configuration, secrets and URL credentials redacted', options: { docs: { text: 'print the key reference as Markdown instead' } } },
};

interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
}

export function optionHelp(command: string, name: string): OptionHelp | undefined {
  const top = command.split(' ')[0];
  return COMMAND_HELP[top]?.options?.[name] ?? OPTION_HELP[name];
}

/** `edgesight COMMAND --help`: the usage line, what it does, and every option it takes. */
export function commandUsage(command: string, options: Record<string, OptionSpec>): string {
  const top = command.split(' ')[0];
  const help = COMMAND_HELP[top];
  const all: Record<string, OptionSpec> = { ...options, help: { type: 'boolean', short: 'h' } };
  const rows = Object.entries(all).map(([name, spec]) => {
    const h = optionHelp(command, name);
    const flag = `${spec.short ? `-${spec.short}, ` : '    '}--${name}${h?.arg ? ` ${h.arg}` : ''}`;
    return `  ${flag.padEnd(32)} ${h?.text ?? ''}${spec.multiple ? ' (repeatable)' : ''}`;
  });
  return [`usage: edgesight ${top} ${help?.synopsis ?? '[options]'}`, '', help?.summary ?? '', '', 'options:', ...rows].join('\n');
}

/** Bare `edgesight` and `edgesight help`: every command in one line each. */
export function mainUsage(): string {
  const lines = Object.entries(COMMAND_HELP).map(([name, c]) => `  ${name.padEnd(8)} ${c.summary}`);
  return [
    'usage: edgesight <command> [options]',
    '',
    ...lines,
    '',
    "'edgesight <command> --help' (or -h) lists a command's options. Common short forms: -c --config FILE,",
    '-s --set key=value, -m --model, -p --port, -j --json, -o --out, -d --data, -t --to URL.',
    'Configuration: --config FILE, else $EDGESIGHT_CONFIG, else /etc/edgesight/config.json, else',
    '~/.config/edgesight/config.json; EDGESIGHT_SECTION_KEY=value variables and --set key=value on top.',
  ].join('\n');
}

/** Thrown by parseCommandArgs once it has printed a command's help: the command ends with exit 0. */
export class HelpShown extends Error {
  constructor(readonly command: string) {
    super(`${command}: help shown`);
  }
}
