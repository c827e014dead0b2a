import * as tf from '@tensorflow/tfjs';

/**
 * A loaded TF.js model as in-memory artefacts (topology, weight specs, weight bytes), as a
 * worker needs them to build its own copy: whatever the model was read from (a TF.js package,
 * a Teachable Machine export, a Keras file converted on load), what TF.js holds now is saved
 * to memory through a save handler, so every format that ends in a TF.js model serves the same.
 */
export async function modelArtifacts(model: tf.LayersModel | tf.GraphModel): Promise<tf.io.ModelArtifacts> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  if (!saved) throw new Error('TF.js saved nothing');
  // A graph model keeps its format in the artefacts; a layers model says it here.
  saved.format ??= model instanceof tf.GraphModel ? 'graph-model' : 'layers-model';
  return saved;
}
