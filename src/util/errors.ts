/**
 * The catalogue of errors a user can cause. Each has a stable code and an exit code; the CLI
 * prints `message` on one line and exits with `exitCode`, never a stack trace. Anything that
 * is not an EdgesightError is a bug and is reported with its stack.
 */
export abstract class EdgesightError extends Error {
  abstract readonly code: string;
  abstract readonly exitCode: number;
}

/** A config file, environment variable or flag holds a value the schema does not allow. */
export class ConfigError extends EdgesightError {
  readonly code = 'E_CONFIG';
  readonly exitCode = 2;
}

/** The command line itself is wrong (unknown command or option, missing argument). */
export class UsageError extends EdgesightError {
  readonly code = 'E_USAGE';
  readonly exitCode = 2;
}

/** A model package is missing, corrupt or inconsistent. `file` names the offending file. */
export class ModelPackageError extends EdgesightError {
  readonly code = 'E_MODEL_PACKAGE';
  readonly exitCode = 3;
  constructor(readonly file: string, readonly problem: string) {
    super(`model package: ${file}: ${problem}`);
  }
}

/** A frame source could not be opened or stopped delivering frames. */
export class SourceError extends EdgesightError {
  readonly code = 'E_SOURCE';
  readonly exitCode = 4;
}

/** An input file given to a command (an image or video for `predict`) could not be read. */
export class InputFileError extends EdgesightError {
  readonly code = 'E_INPUT_FILE';
  readonly exitCode = 1;
  constructor(readonly file: string, problem: string) {
    super(`${file}: ${problem}`);
  }
}

/** A runtime settings change (PATCH /api/settings) names a key or value that is not allowed. */
export class SettingsError extends EdgesightError {
  readonly code = 'E_SETTINGS';
  readonly exitCode = 2;
}

/** A training or evaluation dataset folder that cannot be used as it is (names the folder or class). */
export class DatasetError extends EdgesightError {
  readonly code = 'E_DATASET';
  readonly exitCode = 2;
}

/** The training engine asked for (PyTorch) cannot start, or failed while training; the message says why. */
export class TrainingEngineError extends EdgesightError {
  readonly code = 'E_TRAINING_ENGINE';
  readonly exitCode = 1;
}

/**
 * Another running edgesight holds the state directory (its daemon.lock names the pid). Its own
 * exit code, so a script or unit can tell "already running" from a configuration mistake.
 */
export class StateDirBusyError extends EdgesightError {
  readonly code = 'E_STATE_BUSY';
  readonly exitCode = 5;
  constructor(readonly dir: string, readonly holderPid: number) {
    super(`state.dir: ${dir} is in use by another edgesight (pid ${holderPid}); stop it first or give this one another state.dir`);
  }
}

export function isEdgesightError(err: unknown): err is EdgesightError {
  return err instanceof EdgesightError;
}

/** The message of anything thrown: the OpenCV binding throws plain strings, not Errors. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'string') return err;
  return String(err);
}

/**
 * A dataset request that cannot be done as asked: a bad label or sample name (400), no such
 * sample (404), a capture already running (409), the dataset cap or the disk reached (507).
 * `status` is the HTTP answer; the message names the field, value and rule.
 */
export class DatasetRequestError extends EdgesightError {
  readonly code = 'E_DATASET_REQUEST';
  readonly exitCode = 2;
  constructor(readonly status: 400 | 404 | 409 | 503 | 507, message: string) {
    super(message);
  }
}
