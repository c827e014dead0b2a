import { loadMnistSplit, MNIST_LABELS } from '../demo/mnist-digits';
import { seededRandom } from '../util/random';
import { PaperDigitScene } from '../demo/digit-scene';
import type { CapturedImage, FrameSource } from './frame-source';

export interface DemoOptions {
  width: number;
  height: number;
  fps: number;
  secondsPerDigit: number;
  seed: number;
}

/**
 * The built-in scene for a device without a camera: handwritten digits from the validation
 * split of the `mnist` package (never trained on), drawn dark on light paper, turning up to
 * about 12 degrees, drifting and changing size, a new digit every `secondsPerDigit`. The
 * default model classifies it for real; each frame carries its true label.
 */
export class DemoSource implements FrameSource {
  readonly kind = 'demo' as const;
  readonly description: string;
  private scene: PaperDigitScene | undefined;
  readonly paceFps: number;
  private readonly random: () => number;
  private frame = 0;
  private digit: { label: number; image: Uint8Array } | undefined;
  private phase = 0;

  constructor(private readonly options: DemoOptions) {
    this.description = `demo (handwritten digits on paper, ${options.width}x${options.height} @${options.fps})`;
    this.paceFps = options.fps;
    this.random = seededRandom(options.seed);
  }

  async open(): Promise<void> {
    this.scene = new PaperDigitScene(this.options.width, this.options.height);
  }

  async read(): Promise<CapturedImage | null> {
    const scene = this.scene;
    if (!scene) throw new Error('demo source is not open');
    const framesPerDigit = Math.max(1, Math.round(this.options.secondsPerDigit * this.options.fps));
    if (!this.digit || this.frame % framesPerDigit === 0) {
      const validation = loadMnistSplit().validation;
      const label = Math.floor(this.random() * 10);
      const pool = validation[label];
      this.digit = { label, image: pool[Math.floor(this.random() * pool.length)] };
      this.phase = this.random() * Math.PI * 2;
    }
    const t = (this.frame % framesPerDigit) / framesPerDigit;
    const swing = Math.sin(this.phase + t * Math.PI * 2);
    const mat = scene.render(this.digit.image, {
      inkHeight: 0.475 + 0.07 * Math.sin(this.phase * 2 + t * Math.PI),
      angle: 12 * swing,
      dx: 0.06 * Math.cos(this.phase + t * Math.PI * 2),
      dy: 0.04 * swing,
    });
    this.frame++;
    return { mat, truth: MNIST_LABELS[this.digit.label] };
  }

  async close(): Promise<void> {
    this.scene = undefined;
  }
}
