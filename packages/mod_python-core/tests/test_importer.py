"""The 3.3 module importer on its own (manual 4.5.1); no Apache needed."""

from __future__ import annotations

import os
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import List

import pytest

from mod_python import importer
from mod_python.importer import Context, import_module, using


def write(path: Path, text: str) -> Path:
    """Write a module file, making sure its mtime differs from any earlier version."""
    path.parent.mkdir(parents=True, exist_ok=True)
    old = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(textwrap.dedent(text))
    stamp = max(old + 1_000_000, time.time_ns())
    os.utime(path, ns=(stamp, stamp))
    return path


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "htdocs"


@pytest.fixture
def messages() -> List[str]:
    return []


@pytest.fixture
def context(root: Path, messages: List[str]):
    with using(Context(handler_root=str(root), logger=messages.append)) as ctx:
        yield ctx


def test_same_name_in_two_directories_gives_two_modules(root, context):
    write(root / "a" / "index.py", "WHO = 'a'")
    write(root / "b" / "index.py", "WHO = 'b'")
    a = import_module("index", path=[str(root / "a")])
    b = import_module("index", path=[str(root / "b")])
    assert (a.WHO, b.WHO) == ("a", "b")
    assert a.__file__ == str(root / "a" / "index.py")
    assert "index" not in sys.modules
    assert str(root / "a") not in sys.path


def test_name_not_found_goes_to_sys_path_and_dotted_names_too(root, context):
    import json
    import xml.dom

    write(root / "json.py", "FAKE = True")
    assert import_module("json") is json  # root is not searched without a path
    write(root / "xml" / "dom.py", "FAKE = True")
    assert import_module("xml.dom", path=[str(root)]) is xml.dom


def test_search_order_path_then_caller_dir_then_mp_path_then_option(tmp_path, root, messages):
    for where in ("first", "callerdir", "mppath", "option"):
        write(tmp_path / where / "target.py", f"WHERE = {where!r}")
    write(tmp_path / "callerdir" / "caller.py", "")
    option = (str(tmp_path / "option"),)
    with using(Context(handler_root=str(root), search_path=option)):
        caller = import_module(str(tmp_path / "callerdir" / "caller.py"))
        caller.__mp_path__.append(str(tmp_path / "mppath"))
        g = vars(caller)
        found = importer.import_module("target", path=[str(tmp_path / "first")], caller_globals=g)
        assert found.WHERE == "first"
        assert importer.import_module("target", caller_globals=g).WHERE == "callerdir"
        os.remove(tmp_path / "callerdir" / "target.py")
        assert importer.import_module("target", caller_globals=g).WHERE == "mppath"
        caller.__mp_path__.clear()
        assert importer.import_module("target", caller_globals=g).WHERE == "option"


def test_relative_and_handler_root_paths(root, context):
    write(root / "pkg" / "parent.py", "")
    write(root / "pkg" / "sub" / "child.py", "WHO = 'child'")
    write(root / "top.py", "WHO = 'top'")
    write(root / "pkg" / "servlet.mps", "WHO = 'servlet'")
    parent = import_module("~/pkg/parent.py")
    g = vars(parent)
    assert importer.import_module("./sub/child.py", caller_globals=g).WHO == "child"
    assert importer.import_module("../top.py", caller_globals=g).WHO == "top"
    assert importer.import_module("./servlet.mps", caller_globals=g).WHO == "servlet"
    assert import_module("~top.py").WHO == "top"
    assert import_module(str(root / "top.py")) is import_module("~/top.py")


def test_tilde_in_search_paths_means_the_handler_root(root, context):
    write(root / "modules" / "lib.py", "WHO = 'lib'")
    assert import_module("lib", path=["~/modules"]).WHO == "lib"
    write(root / "rootmod.py", "WHO = 'root'")
    assert import_module("rootmod", path=["~"]).WHO == "root"


def test_tilde_without_a_handler_root_is_a_clear_error(tmp_path):
    with using(Context()), pytest.raises(ImportError, match="handler root"):
        import_module("~/x.py")
    with using(Context()), pytest.raises(ImportError, match="relative"):
        import_module("./x.py")


def test_path_argument_is_the_initial_mp_path_of_a_module_named_by_path(root, context):
    write(root / "parent.py", "")
    module = import_module("~/parent.py", path=["/some/path"])
    assert module.__mp_path__ == ["/some/path"]
    write(root / "byname.py", "")
    assert import_module("byname", path=[str(root)]).__mp_path__ == []


def test_import_statement_inside_a_file_module_uses_the_importer(root, context):
    write(root / "helper.py", "VALUE = 1")
    write(
        root / "handler.py",
        """
        import helper
        from helper import VALUE
        import json
        """,
    )
    handler = import_module("~/handler.py")
    assert handler.helper.__file__ == str(root / "helper.py")
    assert handler.VALUE == 1
    assert "helper" not in sys.modules
    assert handler.json is sys.modules["json"]


def test_changed_file_is_reloaded_into_a_new_module(root, context, messages):
    path = write(root / "mod.py", "N = 1")
    first = import_module("~/mod.py")
    assert import_module("~/mod.py") is first
    write(path, "N = 2  # changed")
    second = import_module("~/mod.py", log=True)
    assert second is not first and (first.N, second.N) == (1, 2)
    assert any("reloaded module" in m and str(path) in m for m in messages)


def test_an_older_mtime_also_reloads(root, context):
    path = write(root / "old.py", "N = 1")
    first = import_module("~/old.py")
    path.write_text("N = 3")
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))  # restored from a backup
    assert import_module("~/old.py").N == 3 and first.N == 1


def test_no_reload_when_autoreload_is_off(root, messages):
    path = write(root / "frozen.py", "N = 1")
    with using(Context(handler_root=str(root), autoreload=False)):
        first = import_module("~/frozen.py")
        write(path, "N = 22")
        assert import_module("~/frozen.py") is first
        # an explicit true autoreload argument wins over PythonAutoReload Off
        assert import_module("~/frozen.py", autoreload=True).N == 22


def test_freeze_modules_wins_over_everything(root, context, monkeypatch):
    monkeypatch.setattr(importer, "_frozen", False)
    path = write(root / "ice.py", "N = 1")
    first = import_module("~/ice.py")
    importer.freeze_modules()
    write(path, "N = 222")
    assert import_module("~/ice.py", autoreload=True) is first


def test_a_changed_child_reloads_its_parent(root, context):
    child = write(root / "child.py", "N = 1")
    write(root / "parent.py", "import child\nSEEN = child.N")
    parent = import_module("~/parent.py")
    assert parent.SEEN == 1
    write(child, "N = 2  # edited")
    reloaded = import_module("~/parent.py")
    assert reloaded is not parent and reloaded.SEEN == 2


def test_a_child_imported_at_run_time_is_tracked_too(root, context):
    child = write(root / "late.py", "N = 1")
    write(
        root / "user.py",
        """
        from mod_python import importer
        def get():
            return importer.import_module("late", caller_globals=globals()).N
        """,
    )
    user = import_module("~/user.py")
    assert user.get() == 1
    write(child, "N = 5  # edited")
    assert import_module("~/user.py") is not user


def test_mp_clone_receives_the_new_empty_module(root, context):
    source = textwrap.dedent(
        """
        if "_data" not in globals():
            _data = {"hits": 0}
        _data["hits"] += 1
        def __mp_clone__(module):
            assert not hasattr(module, "_data")
            module._data = _data
        """
    )
    path = write(root / "stateful.py", source)
    first = import_module("~/stateful.py")
    write(path, source + "\n# edited\n")
    second = import_module("~/stateful.py")
    assert second._data is first._data and second._data["hits"] == 2


def test_failing_mp_clone_discards_both_and_calls_mp_purge(root, tmp_path, context):
    marker = tmp_path / "purged"
    source = textwrap.dedent(
        f"""
        def __mp_clone__(module):
            raise RuntimeError("cannot clone")
        def __mp_purge__():
            open({str(marker)!r}, "w").close()
        """
    )
    path = write(root / "fragile.py", source)
    first = import_module("~/fragile.py")
    write(path, source + "\n# edited\n")
    with pytest.raises(ImportError, match="__mp_clone__"):
        import_module("~/fragile.py")
    assert marker.exists()
    assert str(path) not in importer.loaded_files()
    fresh = import_module("~/fragile.py")
    assert fresh is not first


def test_a_module_with_an_error_is_not_kept(root, context):
    path = write(root / "broken.py", "def f(:\n")
    with pytest.raises(SyntaxError):
        import_module("~/broken.py")
    write(path, "raise ValueError('at import')")
    with pytest.raises(ValueError, match="at import"):
        import_module("~/broken.py")
    assert str(path) not in importer.loaded_files()
    write(path, "OK = True")
    assert import_module("~/broken.py").OK


def test_import_cycle_between_file_modules(root, context):
    write(root / "ping.py", "import pong\nNAME = 'ping'")
    write(root / "pong.py", "import ping\nNAME = 'pong'")
    ping = import_module("~/ping.py")
    assert ping.pong.NAME == "pong" and ping.pong.ping is ping


def test_many_threads_import_a_module_once(root, tmp_path):
    counter = tmp_path / "count"
    write(
        root / "slow.py",
        f"""
        import time
        with open({str(counter)!r}, "a") as f:
            f.write("x")
        time.sleep(0.3)
        READY = True
        """,
    )
    got: list = []

    def run() -> None:
        with using(Context(handler_root=str(root))):
            module = import_module("~/slow.py")
            got.append((module, getattr(module, "READY", False)))

    threads = [threading.Thread(target=run) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counter.read_text() == "x"
    assert len({id(m) for m, _ in got}) == 1 and all(ready for _, ready in got)


def test_a_reload_never_shows_a_half_initialised_module(root):
    source = "import time\nSTART = True\ntime.sleep(0.2)\nDONE = {n}\n"
    path = write(root / "reloading.py", source.format(n=1))
    with using(Context(handler_root=str(root))):
        import_module("~/reloading.py")
    write(path, source.format(n=2))
    seen: list = []

    def run() -> None:
        with using(Context(handler_root=str(root))):
            for _ in range(5):
                module = import_module("~/reloading.py")
                seen.append(getattr(module, "DONE", None))

    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert None not in seen and set(seen) <= {1, 2} and seen[-1] == 2


def test_debug_option_logs_decisions(root, messages):
    write(root / "dbg.py", "")
    with using(Context(handler_root=str(root), debug=True, logger=messages.append)):
        import_module("~/dbg.py")
        import_module("~/dbg.py")
        import_module("json")
    text = "\n".join(messages)
    assert "loading" in text and "is current" in text and "sys.path" in text


def test_parse_search_path():
    assert importer.parse_search_path("['/a', '~/b']") == ("/a", "~/b")
    assert importer.parse_search_path(None) == ()
    with pytest.raises(ValueError, match="Python list"):
        importer.parse_search_path("/not/a/list")
    with pytest.raises(ValueError, match="list of str"):
        importer.parse_search_path("[1, 2]")


def test_bad_module_name_type():
    with pytest.raises(TypeError, match="module name or path"):
        import_module(42)  # type: ignore[arg-type]
