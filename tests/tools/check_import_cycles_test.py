import pathlib
import subprocess
import sys
import tempfile
import unittest

from tools import check_import_cycles

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _write_package(root, files):
    for name, source in files.items():
        path = root / check_import_cycles.PACKAGE / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)


class CheckImportCyclesTest(unittest.TestCase):
    def test_package_has_no_cycle_and_keeps_its_layers(self):
        result = subprocess.run(
            [sys.executable, "tools/check_import_cycles.py"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        self.assertEqual(result.returncode, 0, result.stdout)
        self.assertIn("0 cycles, 0 imports from a higher layer", result.stdout)
        # The checkpoint readers sit below the models.
        for line in result.stdout.splitlines():
            if line.startswith("convert."):
                self.assertNotIn("models.", line)

    def test_finds_a_cycle_and_an_import_from_a_higher_layer(self):
        with tempfile.TemporaryDirectory() as root:
            root = pathlib.Path(root)
            _write_package(
                root,
                {
                    "__init__.py": "",
                    "convert/__init__.py": "",
                    "convert/reader.py": (
                        "def load():\n"
                        "    from keras_videoprism.models import model\n"
                    ),
                    "models/__init__.py": "",
                    "models/model.py": (
                        "from keras_videoprism.convert.reader import load\n"
                    ),
                },
            )
            modules = check_import_cycles.module_files(root)
            graph = check_import_cycles.import_graph(modules)
            self.assertEqual(
                check_import_cycles.find_cycles(graph),
                [
                    [
                        "keras_videoprism.convert.reader",
                        "keras_videoprism.models.model",
                        "keras_videoprism.convert.reader",
                    ]
                ],
            )
            self.assertEqual(
                check_import_cycles.layer_violations(graph, modules),
                [
                    (
                        "keras_videoprism.convert.reader",
                        "keras_videoprism.models.model",
                    )
                ],
            )
