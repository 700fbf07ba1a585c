/** Reading and writing tensors and slide features: `.pt`, `.npy`, `.safetensors`, `.h5`, `.csv`. */
export { FEATURE_FILE_EXTENSIONS, FEATURE_WIDTH, NARROW_FEATURE_WIDTH, readFeatureTensors, readSlideFeatures } from './features.js';
export type { ReadSlideFeaturesOptions, SlideFeatures } from './features.js';
export { DEFAULT_FEATURE_CACHE_BYTES, FeatureCache } from './featureCache.js';
export { readFeatureCsv } from './featureCsv.js';
export { readH5Datasets } from './h5.js';
export { bfloat16ToFloat32, float16ToFloat32, float32ToBfloat16 } from '../dtype.js';
export { readNpy } from './npy.js';
export { writeTorchStateDict } from './torchSave.js';
export { SET_STATE, unpickle } from './pickle.js';
export type { PickleAllowList, PickleFactory, UnpickleOptions } from './pickle.js';
export { openSafetensors, readSafetensors, writeSafetensors } from './safetensors.js';
export type { Safetensors, SafetensorsEntry, SafetensorsFile, TensorToWrite } from './safetensors.js';
export { BYTES_PER_ELEMENT, elementCount, toFloat32, toFloatDtype } from './storedTensor.js';
export type { FloatStoredDtype, StoredData, StoredDtype, StoredTensor } from './storedTensor.js';
export { readTorchTensors } from './torch.js';
