import { DatasetRequestError } from '../util/errors';

/** Where hard examples wait for a label; the leading '_' keeps it apart from user labels. */
export const UNLABELLED = '_unlabelled';
export const MAX_LABEL_LENGTH = 64;

/**
 * Why `label` cannot name a class folder, or undefined when it can. A label becomes a directory
 * name under dataset/, so anything that could leave that directory, hide the folder or clash
 * with the reserved _unlabelled is refused.
 */
export function labelProblem(label: unknown): string | undefined {
  if (typeof label !== 'string') return `must be a string, got ${label === null ? 'null' : typeof label}`;
  if (label.length === 0) return 'must not be empty';
  if (label.trim().length === 0) return 'must not be only spaces';
  if (label.length > MAX_LABEL_LENGTH) return `must be at most ${MAX_LABEL_LENGTH} characters (it has ${label.length})`;
  if (label.includes('/') || label.includes('\\')) return 'must not contain a path separator (/ or \\)';
  if (label.includes('..')) return "must not contain '..'";
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(label)) return 'must not contain control characters';
  if (label.startsWith('.')) return "must not start with '.'";
  if (label.startsWith('_')) return `must not start with '_' (reserved: ${UNLABELLED} holds samples without a label)`;
  return undefined;
}

/** The label, checked for a capture or a relabel target; a 400 naming the label and the rule otherwise. */
export function checkLabel(label: unknown, field = 'label'): string {
  const problem = labelProblem(label);
  if (problem) throw new DatasetRequestError(400, `${field} ${JSON.stringify(label)} ${problem}`);
  return label as string;
}

/** A folder that may be read from: a user label, or _unlabelled. */
export function checkFolder(label: unknown, field = 'label'): string {
  if (label === UNLABELLED) return UNLABELLED;
  return checkLabel(label, field);
}

/** Names the daemon gives samples (and the only ones it serves): letters, digits, - and _, one image extension. */
const SAMPLE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,120}\.(jpg|jpeg|png)$/;

export function isSampleName(name: string): boolean {
  return SAMPLE_NAME.test(name);
}

export function checkSampleName(name: unknown): string {
  if (typeof name !== 'string' || !isSampleName(name)) {
    throw new DatasetRequestError(400, `sample name ${JSON.stringify(name)} is not a sample name (letters, digits, - and _, ending .jpg, .jpeg or .png)`);
  }
  return name;
}
