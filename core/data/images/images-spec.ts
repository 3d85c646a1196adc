import { z } from 'zod';

/** Images an images data set may hold unless its spec says otherwise (`max_images`). */
export const DEFAULT_MAX_IMAGES = 100_000;
/** The largest `max_images` a spec may ask for. */
export const MAX_MAX_IMAGES = 1_000_000;
/** The longest side `image_size` may ask for. */
export const MAX_IMAGE_SIDE = 1024;
/** Most classes (class folders) a data set may have: labels are one byte. */
export const MAX_IMAGE_CLASSES = 256;

/** A seeded, stratified split: in each class, round(test x images) images go to the test split. */
export const ImagesSplitSchema = z.strictObject({
  test: z.number().gt(0).lt(1).default(0.2),
  seed: z.int().default(1),
});

const Side = z.int().min(1).max(MAX_IMAGE_SIDE);

/**
 * An image classification data set read from a folder of class folders (`root/<class>/<file>`,
 * `.png`, `.jpg` or `.jpeg`), as torchvision's ImageFolder and Keras' image_dataset_from_directory
 * read them, or from a `.zip` file holding those class folders. Classes are the folder names
 * sorted by code unit; every image is resized to `image_size` ([height, width]) with `channels`
 * 1 (grayscale by luminance) or 3 (RGB), pixels in [0, 1]. `sha256` pins the content hash (see
 * ImagesDatasetInfo.sha256). core/data/images/load-images-dataset.ts loads it; docs/datasets.md
 * describes it.
 * @example ImagesSpecSchema.parse({ name: 'images', path: 'data/mnist-images' })
 */
export const ImagesSpecSchema = z.strictObject({
  name: z.literal('images'),
  /** The root folder (its sub-folders are the classes), or a `.zip` file holding them. */
  path: z.string().min(1).max(4096),
  /** [height, width] every image is resized to. */
  image_size: z.tuple([Side, Side]).default([28, 28]),
  /** 1: grayscale (ITU-R 601 luminance, as PIL's "L"); 3: RGB. Alpha is dropped. */
  channels: z.union([z.literal(1), z.literal(3)]).default(1),
  /** How images of another size are resampled: bilinear (half-pixel centres, as tf.image.resize) or area (box averaging). */
  interpolation: z.enum(['bilinear', 'area']).default('bilinear'),
  split: ImagesSplitSchema.default({ test: 0.2, seed: 1 }),
  /** Most images the data set may hold; more is refused before any is decoded. */
  max_images: z.int().min(1).max(MAX_MAX_IMAGES).default(DEFAULT_MAX_IMAGES),
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/, 'sha256 must be 64 lowercase hex digits')
    .optional(),
});

/** A validated images spec, defaults filled in. */
export type ImagesSpec = z.infer<typeof ImagesSpecSchema>;
