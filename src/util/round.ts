/** `x` rounded to `decimals` places, for numbers shown to people and sent as JSON. */
export function roundTo(x: number, decimals: number): number {
  const scale = 10 ** decimals;
  return Math.round(x * scale) / scale;
}
