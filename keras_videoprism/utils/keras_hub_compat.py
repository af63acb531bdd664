"""The one module of ours that imports keras-hub's private `keras_hub.src`.

keras-hub keeps several helpers we build on (the preprocessing decorator,
the preset file utilities) outside its public API. Routing every such import
through this module keeps the surface we depend on in one reviewable place.
"""

from keras_hub.src.utils.preset_utils import ASSET_DIR  # noqa: F401
from keras_hub.src.utils.preset_utils import CONFIG_FILE  # noqa: F401
from keras_hub.src.utils.preset_utils import MODEL_WEIGHTS_FILE  # noqa: F401
from keras_hub.src.utils.preset_utils import PREPROCESSOR_CONFIG_FILE  # noqa: F401
from keras_hub.src.utils.preset_utils import SAFETENSOR_CONFIG_FILE  # noqa: F401
from keras_hub.src.utils.preset_utils import SAFETENSOR_FILE  # noqa: F401
from keras_hub.src.utils.preset_utils import SHARDED_MODEL_WEIGHTS_CONFIG_FILE  # noqa: F401
from keras_hub.src.utils.preset_utils import TASK_CONFIG_FILE  # noqa: F401
from keras_hub.src.utils.preset_utils import TOKENIZER_ASSET_DIR  # noqa: F401
from keras_hub.src.utils.preset_utils import TOKENIZER_CONFIG_FILE  # noqa: F401
from keras_hub.src.utils.preset_utils import (  # noqa: F401
    VIDEO_CONVERTER_CONFIG_FILE,
)
from keras_hub.src.utils.preset_utils import KerasPresetLoader  # noqa: F401
from keras_hub.src.utils.preset_utils import PresetLoader  # noqa: F401
from keras_hub.src.utils.preset_utils import check_file_exists  # noqa: F401
from keras_hub.src.utils.preset_utils import find_subclass  # noqa: F401
from keras_hub.src.utils.preset_utils import get_file  # noqa: F401
from keras_hub.src.utils.preset_utils import load_json  # noqa: F401
from keras_hub.src.utils.python_utils import classproperty  # noqa: F401
from keras_hub.src.utils.tensor_utils import (  # noqa: F401
    convert_preprocessing_outputs_python,
)
from keras_hub.src.utils.tensor_utils import (  # noqa: F401
    convert_preprocessing_outputs_grain,
)
from keras_hub.src.utils.tensor_utils import in_grain_data_pipeline  # noqa: F401
from keras_hub.src.utils.tensor_utils import in_tf_function  # noqa: F401
from keras_hub.src.utils.tensor_utils import preprocessing_function  # noqa: F401
