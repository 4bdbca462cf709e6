/** Preprocessing: image -> model input tensor, and the geometry that maps boxes back to the source frame. */

export { type CropSource, cropImage } from './crop.ts';
export { type Geometry, toModelX, toModelY, toSourceX, toSourceY } from './geometry.ts';
export { type InputSize, type PreprocessImage, preprocessInto } from './preprocess.ts';
