"""keras-videoprism: VideoPrism for Keras 3 on JAX, TensorFlow and PyTorch."""

from keras_videoprism import convert  # noqa: F401
from keras_videoprism import layers  # noqa: F401
from keras_videoprism import losses  # noqa: F401
from keras_videoprism import models  # noqa: F401
from keras_videoprism import tokenizers  # noqa: F401
from keras_videoprism import utils  # noqa: F401
from keras_videoprism.version import __version__  # noqa: F401
