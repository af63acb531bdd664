import os

from keras_videoprism.utils.atomic_files import OutputExistsError
from keras_videoprism.utils.atomic_files import atomic_directory
from keras_videoprism.utils.atomic_files import atomic_file
from keras_videoprism.utils.atomic_files import check_output
from tests.test_case import TestCase


def write(path, text):
    with open(path, "w") as file:
        file.write(text)


def read(path):
    with open(path) as file:
        return file.read()


class AtomicFileTest(TestCase):
    def setUp(self):
        super().setUp()
        self.folder = self.get_temp_dir()
        self.path = os.path.join(self.folder, "out.txt")

    def test_writes_and_leaves_no_temporary(self):
        with atomic_file(self.path) as temporary:
            self.assertEqual(os.path.dirname(temporary), self.folder)
            write(temporary, "new")
            self.assertFalse(os.path.exists(self.path))
        self.assertEqual(read(self.path), "new")
        self.assertEqual(os.listdir(self.folder), ["out.txt"])

    def test_existing_file_is_kept_without_overwrite(self):
        write(self.path, "user data")
        with self.assertRaisesRegex(OutputExistsError, "out.txt.*overwrite"):
            with atomic_file(self.path) as temporary:
                write(temporary, "new")
        self.assertEqual(read(self.path), "user data")
        self.assertEqual(os.listdir(self.folder), ["out.txt"])

    def test_file_appearing_while_writing_is_kept(self):
        with self.assertRaises(OutputExistsError):
            with atomic_file(self.path) as temporary:
                write(temporary, "new")
                write(self.path, "written meanwhile")
        self.assertEqual(read(self.path), "written meanwhile")
        self.assertEqual(os.listdir(self.folder), ["out.txt"])

    def test_overwrite_replaces(self):
        write(self.path, "old")
        with atomic_file(self.path, overwrite=True) as temporary:
            write(temporary, "new")
        self.assertEqual(read(self.path), "new")

    def test_error_while_writing_keeps_the_old_file(self):
        write(self.path, "old")
        with self.assertRaisesRegex(RuntimeError, "disk"):
            with atomic_file(self.path, overwrite=True) as temporary:
                write(temporary, "half")
                raise RuntimeError("disk full")
        self.assertEqual(read(self.path), "old")
        self.assertEqual(os.listdir(self.folder), ["out.txt"])

    def test_bad_targets(self):
        with self.assertRaisesRegex(ValueError, "does not exist"):
            check_output(os.path.join(self.folder, "no", "out.txt"))
        with self.assertRaisesRegex(ValueError, "is a directory"):
            check_output(self.folder, overwrite=True)


class AtomicDirectoryTest(TestCase):
    def setUp(self):
        super().setUp()
        self.parent = self.get_temp_dir()
        self.path = os.path.join(self.parent, "preset")

    def test_new_and_empty_directories(self):
        with atomic_directory(self.path) as temporary:
            write(os.path.join(temporary, "a.json"), "1")
            self.assertFalse(os.path.exists(self.path))
        self.assertEqual(os.listdir(self.path), ["a.json"])
        empty = os.path.join(self.parent, "empty")
        os.mkdir(empty)
        with atomic_directory(empty) as temporary:
            write(os.path.join(temporary, "b.json"), "2")
        self.assertEqual(os.listdir(empty), ["b.json"])
        self.assertEqual(sorted(os.listdir(self.parent)), ["empty", "preset"])

    def test_non_empty_directory_is_kept(self):
        os.mkdir(self.path)
        write(os.path.join(self.path, "config.json"), "user")
        with self.assertRaisesRegex(OutputExistsError, "non-empty directory"):
            with atomic_directory(self.path) as temporary:
                write(os.path.join(temporary, "config.json"), "new")
        self.assertEqual(read(os.path.join(self.path, "config.json")), "user")
        self.assertEqual(os.listdir(self.parent), ["preset"])

    def test_overwrite_leaves_no_stale_file(self):
        os.mkdir(self.path)
        write(os.path.join(self.path, "task.json"), "old task")
        with atomic_directory(self.path, overwrite=True) as temporary:
            write(os.path.join(temporary, "config.json"), "new")
        self.assertEqual(os.listdir(self.path), ["config.json"])
        self.assertEqual(os.listdir(self.parent), ["preset"])

    def test_error_while_writing_keeps_the_old_directory(self):
        os.mkdir(self.path)
        write(os.path.join(self.path, "config.json"), "old")
        with self.assertRaisesRegex(RuntimeError, "failed"):
            with atomic_directory(self.path, overwrite=True) as temporary:
                write(os.path.join(temporary, "config.json"), "half")
                raise RuntimeError("failed")
        self.assertEqual(read(os.path.join(self.path, "config.json")), "old")
        self.assertEqual(os.listdir(self.parent), ["preset"])


class PermissionsTest(TestCase):
    def test_outputs_get_the_usual_modes(self):
        folder = self.get_temp_dir()
        umask = os.umask(0o027)
        try:
            with atomic_file(os.path.join(folder, "a.npy")) as temporary:
                write(temporary, "1")
            with atomic_directory(os.path.join(folder, "d")) as temporary:
                write(os.path.join(temporary, "b.json"), "2")
        finally:
            os.umask(umask)
        # Not the private modes of `mkstemp` (0600) and `mkdtemp` (0700).
        mode = os.stat(os.path.join(folder, "a.npy")).st_mode & 0o777
        self.assertEqual(mode, 0o640)
        mode = os.stat(os.path.join(folder, "d")).st_mode & 0o777
        self.assertEqual(mode, 0o750)
