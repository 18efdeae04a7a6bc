"""The pydantic plugin look-up stand-in (collector/cli/plugins.py) answers "none" only when there are none.

An installed pydantic plugin must still be found and called: the end-to-end test installs a real one (a
distribution with a ``pydantic`` entry point on ``PYTHONPATH``) and runs ``gatepack validate``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from collector.cli.plugins import no_plugin_declared

PLUGIN = """
import os

class Recorder:
    def new_schema_validator(self, schema, schema_type, schema_type_path, schema_kind, config, plugin_settings):
        with open(os.environ["RECORDER_FILE"], "a", encoding="utf-8") as handle:
            handle.write(f"{schema_type_path.name}\\n")
        return None, None, None

plugin = Recorder()
"""


def distribution(root: Path, name: str, entry_points: str | None) -> None:
    info = root / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n", encoding="utf-8")
    if entry_points is not None:
        (info / "entry_points.txt").write_text(entry_points, encoding="utf-8")


def test_a_declared_plugin_is_never_answered_away(tmp_path: Path) -> None:
    distribution(tmp_path, "other", "[console_scripts]\nother = other:main\n")
    distribution(tmp_path, "bare", None)
    assert no_plugin_declared([str(tmp_path), str(tmp_path / "missing")])
    distribution(tmp_path, "recorder", "[ pydantic ]\nrecorder = recorder_plugin:plugin\n")
    assert not no_plugin_declared([str(tmp_path)])


@pytest.mark.parametrize("kind", ["zip", "egg"])
def test_paths_only_importlib_metadata_reads_are_left_to_it(tmp_path: Path, kind: str) -> None:
    if kind == "zip":
        archive = tmp_path / "bundle.zip"
        with zipfile.ZipFile(archive, "w") as handle:
            handle.writestr("x-1.0.dist-info/entry_points.txt", "[pydantic]\nx = x:plugin\n")
        entry = archive
    else:
        entry = tmp_path / "x-1.0.egg"
        (entry / "EGG-INFO").mkdir(parents=True)
    assert not no_plugin_declared([str(entry)])


def run_validate(extra_path: Path | None, record: Path) -> subprocess.CompletedProcess[str]:
    code = (
        "import sys; sys.argv = ['gatepack', 'validate', '--gate', '02-auth-shell']\n"
        "from collector.cli.app import main\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "print('importlib.metadata' in sys.modules)"
    )
    env = {**os.environ, "RECORDER_FILE": str(record)}
    if extra_path is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(extra_path), env.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)


def test_an_installed_plugin_is_called_as_before(tmp_path: Path) -> None:
    site = tmp_path / "site"
    distribution(site, "recorder", "[pydantic]\nrecorder = recorder_plugin:plugin\n")
    (site / "recorder_plugin.py").write_text(PLUGIN, encoding="utf-8")
    record = tmp_path / "record.txt"
    done = run_validate(site, record)
    assert done.returncode == 0, done.stderr
    assert "Gate" in record.read_text(encoding="utf-8").split(), "the plugin did not see the Gate model built"
    assert done.stdout.strip() == "True"  # the real look-up ran


def test_without_plugins_the_entry_point_scan_is_skipped(tmp_path: Path) -> None:
    record = tmp_path / "record.txt"
    done = run_validate(None, record)
    assert done.returncode == 0, done.stderr
    assert not record.exists()
    assert done.stdout.strip() == "False"  # importlib.metadata was never imported
