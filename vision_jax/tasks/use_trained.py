"""What a classifier or detector workdir offers instead of training: --config.export=FORMAT and
--config.predict_image=FILE|FOLDER. Imported lazily: both need TensorFlow (tf.data preprocessing,
jax2tf), which the GPU machine lacks and which, loaded beside PyTorch, crashes its triton import."""


def run_instead_of_training(config, workdir: str) -> bool:
  """Exports or predicts when the config asks for it; returns whether it did."""
  if config.get('export'):
    from vision_jax.inference.export import export_command  # deferred: TensorFlow
    export_command(config, workdir)
    return True
  if config.get('predict_image'):
    from vision_jax.inference.folder import predict_command  # deferred: TensorFlow
    predict_command(config, workdir)
    return True
  return False
