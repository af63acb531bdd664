"""File fingerprints and preset identities."""

import hashlib
import os
import shutil

from keras_videoprism.search import fingerprints
from tests.search.search_fixtures import save_tiny_preset
from tests.test_case import TestCase


class FileFingerprintTest(TestCase):
    def test_size_mtime_and_blake2b(self):
        path = os.path.join(self.get_temp_dir(), "a.bin")
        with open(path, "wb") as file:
            file.write(b"abc" * 1000)
        found = fingerprints.file_fingerprint(path)
        self.assertEqual(found["size"], 3000)
        self.assertEqual(found["mtime_ns"], os.stat(path).st_mtime_ns)
        self.assertEqual(
            found["content_hash"],
            hashlib.blake2b(b"abc" * 1000, digest_size=20).hexdigest(),
        )
        self.assertTrue(fingerprints.same_fingerprint(found, dict(found)))
        os.utime(path, ns=(1, 2))
        touched = fingerprints.file_fingerprint(path)
        self.assertFalse(fingerprints.same_fingerprint(found, touched))
        self.assertEqual(touched["content_hash"], found["content_hash"])


class PresetIdentityTest(TestCase):
    def test_same_weights_same_identity_other_weights_differ(self):
        folder = self.get_temp_dir()
        preset = save_tiny_preset(folder, seed=0)
        copy = os.path.join(folder, "copy")
        shutil.copytree(preset, copy)
        # Other weights: the same files but one weight file changed.
        other = os.path.join(folder, "other")
        shutil.copytree(preset, other)
        weights = [n for n in os.listdir(other) if n.endswith(".h5")][0]
        with open(os.path.join(other, weights), "ab") as file:
            file.write(b"\0")
        # Metadata holds no weights: it does not count.
        with open(os.path.join(copy, "metadata.json"), "a") as file:
            file.write(" ")
        identity = fingerprints.preset_identity(preset)
        self.assertEqual(identity, fingerprints.preset_identity(copy))
        self.assertNotEqual(identity, fingerprints.preset_identity(other))
        self.assertNotEqual(
            fingerprints.preset_identity("kaggle://a/b/c/1"),
            fingerprints.preset_identity("kaggle://a/b/c/2"),
        )
