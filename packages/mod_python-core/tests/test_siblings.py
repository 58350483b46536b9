"""The import-time check of sibling distributions' versions (mod_python._siblings)."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest

from mod_python import version
from mod_python._siblings import require, require_module, satisfies, version_key


def test_versions_order_as_pep_440():
    ordered = ["3.5.9", "3.6.0.dev0", "3.6.0.dev1", "3.6.0a1", "3.6.0b2", "3.6.0rc1", "3.6.0",
               "3.6.0.post1", "3.6.1", "3.7"]  # fmt: skip
    keys = [version_key(v) for v in ordered]
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)
    assert version_key("3.6") == version_key("3.6.0") == version_key("v3.6.0")


@pytest.mark.parametrize(
    ("version", "specifier", "expected"),
    [
        ("3.6.0.dev0", ">=3.6.0.dev0,<3.7", True),
        ("3.6.5", ">=3.6.0.dev0,<3.7", True),
        ("3.7.0", ">=3.6.0.dev0,<3.7", False),
        ("3.7.0.dev0", ">=3.6.0.dev0,<3.7", False),  # < excludes the bound's pre-releases
        ("3.7.0.dev0", "<3.7.0.dev1", True),  # unless the bound is one itself
        ("3.5.9", ">=3.6.0.dev0,<3.7", False),
        ("3.6.0", "==3.6", True),
        ("3.6.0", "!=3.6.0", False),
        ("3.6.1", ">3.6,<=3.6.1", True),
        ("3.6.0", "", True),
    ],
)
def test_satisfies(version, specifier, expected):
    assert satisfies(version, specifier) is expected


@pytest.mark.parametrize("bad", ["three", "3.6-final", "3..6"])
def test_a_version_it_cannot_read_is_an_error(bad):
    with pytest.raises(ValueError, match="cannot understand the version"):
        version_key(bad)


def test_a_clause_it_cannot_read_is_an_error():
    with pytest.raises(ValueError, match="cannot understand the version clause"):
        satisfies("3.6", "~=3.6")


def _fake_distribution(tmp_path: Path, name: str, version: str, requires: list[str]) -> None:
    info = tmp_path / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    lines += [f"Requires-Dist: {r}" for r in requires]
    (info / "METADATA").write_text("\n".join(lines) + "\n")


@pytest.fixture
def on_path(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    yield tmp_path
    importlib.invalidate_caches()


def test_a_matching_core_passes(on_path):
    core = importlib.metadata.version("mod_python-core")
    _fake_distribution(
        on_path,
        "mod_python-fake",
        "1.0",
        [f"mod_python-core>={core}", "mod_python-nothere>=1; extra == 'x'", "requests>=99"],
    )
    require("mod_python-fake")  # the extra and the third-party requirement are not checked


def test_an_incompatible_core_is_a_clear_import_error(on_path):
    core = importlib.metadata.version("mod_python-core")
    _fake_distribution(on_path, "mod_python-fake", "1.0", ["mod_python-core<3.0,>=2.0"])
    with pytest.raises(ImportError) as info:
        require("mod_python-fake")
    message = str(info.value)
    assert f"mod_python-fake 1.0 needs mod_python-core<3.0,>=2.0, but mod_python-core {core}" in (
        message
    )
    assert "pip install 'mod_python-core<3.0,>=2.0'" in message


def test_a_missing_sibling_is_a_clear_import_error(on_path):
    _fake_distribution(on_path, "mod_python-fake", "1.0", ["mod_python-absent>=1.0"])
    with pytest.raises(ImportError, match="needs mod_python-absent>=1.0, which is not installed"):
        require("mod_python-fake")


def test_a_distribution_that_is_not_installed_is_not_checked():
    require("mod_python-never-installed")


def test_the_apache_module_version_is_checked():
    require_module(version.__version__)
    with pytest.raises(ImportError, match=r"the loaded one is 3\.5\.0: rebuild the module"):
        require_module("3.5.0")
