"""keras-videoprism: VideoPrism for Keras 3 on JAX, TensorFlow and PyTorch."""

from keras_videoprism.version import __version__  # noqa: F401
