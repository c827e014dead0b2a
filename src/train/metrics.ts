/** Classification quality from true and predicted class indices. */
export interface ClassMetrics {
  accuracy: number;
  total: number;
  /** confusion[true][predicted] */
  confusion: number[][];
  perClass: Array<{ label: string; precision: number; recall: number; f1: number; support: number }>;
}

export function classMetrics(labels: string[], truth: ArrayLike<number>, predicted: ArrayLike<number>): ClassMetrics {
  const k = labels.length;
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  let correct = 0;
  for (let i = 0; i < truth.length; i++) {
    confusion[truth[i]][predicted[i]]++;
    if (truth[i] === predicted[i]) correct++;
  }
  const perClass = labels.map((label, c) => {
    const tp = confusion[c][c];
    const support = confusion[c].reduce((a, b) => a + b, 0);
    const predictedAs = confusion.reduce((a, row) => a + row[c], 0);
    const precision = predictedAs ? tp / predictedAs : 0;
    const recall = support ? tp / support : 0;
    const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
    return { label, precision, recall, f1, support };
  });
  return { accuracy: truth.length ? correct / truth.length : 0, total: truth.length, confusion, perClass };
}

/** The metrics as the terminal shows them: accuracy, a per-class table and the confusion matrix. */
export function formatMetrics(m: ClassMetrics): string {
  const width = Math.max(9, ...m.perClass.map((c) => c.label.length)) + 2;
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const lines = [`accuracy ${pct(m.accuracy)} (${Math.round(m.accuracy * m.total)} of ${m.total})`, ''];
  lines.push(`${'class'.padEnd(width)}${'precision'.padStart(10)}${'recall'.padStart(10)}${'f1'.padStart(10)}${'support'.padStart(10)}`);
  for (const c of m.perClass) lines.push(`${c.label.padEnd(width)}${pct(c.precision).padStart(10)}${pct(c.recall).padStart(10)}${pct(c.f1).padStart(10)}${String(c.support).padStart(10)}`);
  lines.push('', 'confusion matrix (rows: true class, columns: predicted)');
  const cell = Math.max(6, ...m.perClass.map((c) => Math.min(12, c.label.length) + 1), ...m.confusion.flat().map((n) => String(n).length + 1));
  lines.push(' '.repeat(width) + m.perClass.map((c) => c.label.slice(0, 12).padStart(cell)).join(''));
  m.confusion.forEach((row, i) => lines.push(m.perClass[i].label.padEnd(width) + row.map((n) => String(n).padStart(cell)).join('')));
  return lines.join('\n');
}
