"""Strict reading of the JSON configurations of presets and checkpoints.

A misspelt key in a configuration must not be dropped silently (a misspelt
soft-cap key changes every output), and a broken file must be reported
with its path. `read_json` parses a file and names it when it is not JSON;
`check_keys` refuses unknown keys, naming the closest known one, and
reports missing ones; `check_serialized` does both for a serialized Keras
object of ours (and its nested objects), against the arguments its class
accepts.
"""

import difflib
import inspect
import json

import keras

PACKAGE_PREFIX = "keras_videoprism>"
# The keys of a serialized Keras object (`serialize_keras_object`).
SERIALIZED_KEYS = ("module", "class_name", "config", "registered_name")
# Keys keras-hub's base classes write into every configuration (a layer's
# `name`, `trainable` and `dtype`; the `config_file` of tokenizers and
# preprocessors), which their constructors take through `**kwargs`.
KERAS_HUB_KEYS = ("name", "trainable", "dtype", "config_file")


def read_json(path):
    """Parses a JSON file; a broken file is reported with its path.

    Args:
        path: str. The file.

    Returns:
        The parsed JSON value.

    Raises:
        FileNotFoundError: there is no such file.
        ValueError: the file is not valid JSON (e.g. truncated).

    Example:

    ```python
    config = read_json("my_preset/config.json")
    ```
    """
    with open(path, encoding="utf-8") as file:
        text = file.read()
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(
            f"'{path}' is not valid JSON: {error.msg} at line {error.lineno}"
            f", column {error.colno}. The file is truncated or was edited by "
            "hand: re-download or re-save it."
        ) from None


def check_keys(config, known, source, required=()):
    """Refuses unknown keys and reports missing ones.

    Args:
        config: dict. The configuration read.
        known: iterable of str. Every key the reader understands.
        source: str. The file (and the entry in it) for the messages, e.g.
            `"my_preset/config.json"`.
        required: iterable of str. Keys that must be present.

    Raises:
        ValueError: a key is unknown (the message names the closest known
            key) or a required key is missing.

    Example:

    ```python
    check_keys({"num_frame": 8}, ["num_frames"], "config.json")
    # ValueError: ... unknown key 'num_frame' (did you mean 'num_frames'?)
    ```
    """
    if not isinstance(config, dict):
        raise ValueError(
            f"{source} must hold a JSON object (keys and values); found "
            f"{type(config).__name__}."
        )
    known = sorted(set(known))
    for key in sorted(config):
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"did you mean '{close[0]}'?" if close else "no close key"
            raise ValueError(
                f"{source} has an unknown key '{key}' ({hint}). Known keys: "
                f"{', '.join(known)}. Fix or remove the key, or re-save the "
                "preset."
            )
    missing = [key for key in required if key not in config]
    if missing:
        raise ValueError(
            f"{source} lacks the required key(s) "
            f"{', '.join(repr(key) for key in missing)}. The file is "
            "incomplete: re-download or re-save it."
        )


def accepted_arguments(cls):
    """`(all, required)` constructor arguments of a Keras class.

    Follows `**kwargs` up the class hierarchy (e.g. a tokenizer's own
    arguments and those of keras-hub's `SentencePieceTokenizer`), and adds
    the keys keras-hub's base classes write (`KERAS_HUB_KEYS`).
    """
    accepted, required = set(KERAS_HUB_KEYS), set()
    for klass in cls.__mro__:
        if "__init__" not in klass.__dict__ or klass is object:
            continue
        parameters = inspect.signature(klass.__init__).parameters
        for name, parameter in list(parameters.items())[1:]:
            if parameter.kind in (
                parameter.POSITIONAL_OR_KEYWORD,
                parameter.KEYWORD_ONLY,
            ):
                accepted.add(name)
                if klass is cls and parameter.default is parameter.empty:
                    required.add(name)
        takes_more = any(
            p.kind == p.VAR_KEYWORD for p in parameters.values()
        )
        if not takes_more or issubclass(keras.layers.Layer, klass):
            break
    return accepted, required


def check_serialized(config, source):
    """Checks a serialized Keras object of ours against its class.

    Objects of other packages (e.g. Keras' `DTypePolicy`) are left to
    their own loaders; nested objects of ours (a task's backbone and
    preprocessor) are checked too.

    Args:
        config: dict. A serialized object, as `save_to_preset()` writes.
        source: str. The file, for the messages.

    Raises:
        ValueError: an unknown or missing key.
    """
    registered_name = str(config.get("registered_name") or "")
    if not registered_name.startswith(PACKAGE_PREFIX):
        return
    check_keys(config, SERIALIZED_KEYS, source, required=SERIALIZED_KEYS)
    cls = keras.saving.get_registered_object(registered_name)
    if cls is None:
        raise ValueError(
            f"{source} describes `{registered_name}`, which this version of "
            "keras-videoprism does not have. Upgrade keras-videoprism or "
            "re-save the preset."
        )
    accepted, required = accepted_arguments(cls)
    inner = config["config"]
    check_keys(
        inner,
        accepted,
        f"{source} (`{config['class_name']}` config)",
        required=sorted(required),
    )
    for value in inner.values():
        if isinstance(value, dict) and "registered_name" in value:
            check_serialized(value, source)
