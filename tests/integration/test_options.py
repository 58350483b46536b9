"""PythonOption and the configuration a handler sees (manual 5.4.2, 5.4.6, 5.4.8-5.4.10,
4.5.4 ``get_options``/``get_config``), PythonPath, and the server-wide PythonOptimize
and PythonHome."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

import pytest

from mod_python._httpd import ApacheStartError

SHOW = """
    import json
    from mod_python import apache

    def handler(req):
        opts = req.get_options()
        config = req.get_config()
        if req.args == "raise":
            raise ValueError("boom-" + "marker")
        req.content_type = "application/json"
        req.write(json.dumps({
            "options": {k.lower(): opts[k] for k in opts.keys()},
            "option_keys": list(opts.keys()),
            "options_is_table": isinstance(opts, apache.table),
            "config_is_table": isinstance(config, apache.table),
            "shared_any_case": [opts.get("shared"), opts.get("SHARED"),
                                opts["ShArEd"] if "ShArEd" in opts else None],
            "config": {k: config[k] for k in config.keys()},
            "interpreter": req.interpreter,
        }))
        return apache.OK
"""

FLAGS = """
    import json, sys
    from mod_python import apache

    def handler(req):
        try:
            assert False, "assert statements are compiled in"
            asserts = "stripped"
        except AssertionError:
            asserts = "run"
        try:
            import mp_venv_marker
            marker = mp_venv_marker.VALUE
        except ImportError:
            marker = None
        req.content_type = "application/json"
        req.write(json.dumps({
            "optimize": sys.flags.optimize,
            "debug": __debug__,
            "asserts": asserts,
            "prefix": sys.prefix,
            "base_prefix": sys.base_prefix,
            "executable": sys.executable,
            "version": list(sys.version_info[:2]),
            "venv_marker": marker,
            "interpreter": req.interpreter,
        }))
        return apache.OK
"""

USELIB = """
    import json, sys
    import mp_helper_lib
    from mod_python import apache

    def handler(req):
        req.content_type = "application/json"
        req.write(json.dumps({
            "value": mp_helper_lib.VALUE,
            "helper_file": mp_helper_lib.__file__,
            "path": sys.path,
            "config_path": req.get_config().get("PythonPath"),
        }))
        return apache.OK
"""

NOLIB = """
    import json, sys
    from mod_python import apache

    def handler(req):
        try:
            import mp_helper_lib
            found = mp_helper_lib.__file__
        except ImportError:
            found = None
        req.content_type = "application/json"
        req.write(json.dumps({"found": found, "path": sys.path}))
        return apache.OK
"""

CONFIG = """
    PythonOption srv.only server
    PythonOption Shared server
    PythonOption dropped.empty server
    PythonOption dropped.novalue server
    PythonOption readded server

    <Directory "{docroot}/opts">
        SetHandler mod_python
        PythonHandler show
        PythonOption shared directory
        PythonOption dir.only directory
        PythonOption dropped.empty ""
        PythonOption dropped.novalue
        PythonOption readded
        PythonDebug On
        PythonAutoReload Off
        PythonInterpreter opts_interp
    </Directory>
    <Directory "{docroot}/opts/sub">
        PythonOption SHARED subdirectory
        PythonOption sub.only subdirectory
        PythonOption readded again
        PythonDebug Off
    </Directory>

    <Directory "{docroot}/serveronly">
        SetHandler mod_python
        PythonHandler show
    </Directory>

    <Directory "{docroot}/flags">
        SetHandler mod_python
        PythonHandler flags
    </Directory>
    <Directory "{docroot}/flags/main">
        PythonInterpreter main_interpreter
    </Directory>

    <Directory "{docroot}/path">
        SetHandler mod_python
        PythonHandler uselib
        PythonPath "sys.path + ['{root}/lib']"
        PythonInterpreter path_interp
    </Directory>
    <Directory "{docroot}/nopath">
        SetHandler mod_python
        PythonHandler nolib
        PythonInterpreter nopath_interp
    </Directory>
"""

HTACCESS = """
    PythonOption shared htaccess
    PythonOption ht.only htaccess
    PythonOption sub.only
    PythonOption dir.only ""
    PythonInterpreter ht_interp
    PythonAutoReload On
"""


@pytest.fixture(scope="module")
def server(start_server):
    return start_server(
        CONFIG,
        files={
            "htdocs/opts/show.py": SHOW,
            "htdocs/opts/sub/deeper/.htaccess": HTACCESS,
            "htdocs/opts/sibling/page.txt": "a page\n",
            "htdocs/serveronly/show.py": SHOW,
            "htdocs/flags/flags.py": FLAGS,
            "htdocs/flags/main/page.txt": "a page\n",
            "htdocs/path/uselib.py": USELIB,
            "htdocs/nopath/nolib.py": NOLIB,
            "lib/mp_helper_lib.py": "VALUE = 'from the lib directory'\n",
        },
    )


def get_json(server, path: str) -> dict:
    r = server.get(path)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/json"
    return r.json()


@pytest.fixture(scope="module")
def embedded(server) -> dict:
    """What the Python inside Apache reports without PythonHome or PythonOptimize."""
    return get_json(server, "/flags/x")


# --------------------------------------------------------------------------- PythonOption


def test_server_options_reach_a_directory_without_its_own(server):
    info = get_json(server, "/serveronly/x")
    assert info["options"] == {
        "srv.only": "server",
        "shared": "server",
        "dropped.empty": "server",
        "dropped.novalue": "server",
        "readded": "server",
    }


def test_directory_overrides_adds_and_removes(server):
    info = get_json(server, "/opts/x")
    assert info["options"] == {
        "srv.only": "server",
        "shared": "directory",
        "dir.only": "directory",
    }


def test_subdirectory_without_config_inherits_the_directory(server):
    info = get_json(server, "/opts/sibling/x")
    assert info["options"] == {
        "srv.only": "server",
        "shared": "directory",
        "dir.only": "directory",
    }


def test_subdirectory_overrides_and_restores_a_removed_key(server):
    info = get_json(server, "/opts/sub/x")
    assert info["options"] == {
        "srv.only": "server",
        "shared": "subdirectory",
        "dir.only": "directory",
        "sub.only": "subdirectory",
        "readded": "again",
    }


def test_htaccess_overrides_and_removes(server):
    info = get_json(server, "/opts/sub/deeper/x")
    assert info["options"] == {
        "srv.only": "server",
        "shared": "htaccess",
        "ht.only": "htaccess",
        "readded": "again",
    }


@pytest.mark.parametrize(
    "path, value",
    [
        ("/serveronly/x", "server"),
        ("/opts/x", "directory"),
        ("/opts/sub/x", "subdirectory"),
        ("/opts/sub/deeper/x", "htaccess"),
    ],
)
def test_options_are_a_table_with_case_insensitive_keys(server, path, value):
    info = get_json(server, path)
    assert info["options_is_table"] is True
    assert info["shared_any_case"] == [value, value, value]
    # "Shared", "shared" and "SHARED" are one key: overriding never duplicates it.
    assert [k.lower() for k in info["option_keys"]].count("shared") == 1


# --------------------------------------------------------------------------- get_config


def test_get_config_in_a_directory(server):
    info = get_json(server, "/opts/x")
    assert info["config_is_table"] is True
    config = info["config"]
    assert config["PythonDebug"] == "1"
    assert config["PythonAutoReload"] == "0"
    assert config["PythonInterpreter"] == "opts_interp"
    assert info["interpreter"] == "opts_interp"
    # Handlers and options are not part of it (manual 4.5.4 get_config).
    assert not any(k.lower() in ("pythonhandler", "pythonoption") for k in config)


def test_get_config_in_a_subdirectory_merges(server):
    config = get_json(server, "/opts/sub/x")["config"]
    assert config["PythonDebug"] == "0"
    assert config["PythonAutoReload"] == "0"
    assert config["PythonInterpreter"] == "opts_interp"


def test_get_config_in_htaccess(server):
    info = get_json(server, "/opts/sub/deeper/x")
    config = info["config"]
    assert config["PythonDebug"] == "0"
    assert config["PythonAutoReload"] == "1"
    assert config["PythonInterpreter"] == "ht_interp"
    assert info["interpreter"] == "ht_interp"


def test_python_debug_on_sends_the_traceback(server):
    r = server.get("/opts/x?raise")
    assert r.status_code == 500
    assert "ValueError" in r.text and "boom-marker" in r.text


def test_python_debug_off_in_a_subdirectory_hides_it(server):
    r = server.get("/opts/sub/x?raise")
    assert r.status_code == 500
    assert "Internal Server Error" in r.text
    assert "boom-marker" not in r.text and "Traceback" not in r.text
    assert "boom-marker" in server.error_log()


# --------------------------------------------------------------------------- PythonPath


def test_python_path_lets_a_handler_import_from_a_directory(server):
    info = get_json(server, "/path/x")
    lib = str(server.root / "lib")
    assert info["value"] == "from the lib directory"
    assert info["helper_file"] == os.path.join(lib, "mp_helper_lib.py")
    # The expression was evaluated with the interpreter's sys.path.
    assert info["path"][-1] == lib
    assert len(info["path"]) > 1
    assert info["config_path"] == f"sys.path + ['{lib}']"


def test_without_python_path_the_directory_is_not_importable(server):
    info = get_json(server, "/nopath/x")
    assert info["found"] is None
    assert str(server.root / "lib") not in info["path"]


# ----------------------------------------------------------------- PythonOptimize, PythonHome


@pytest.mark.parametrize("path", ["/flags/x", "/flags/main/x"])
def test_python_runs_without_optimisation_by_default(server, path):
    info = get_json(server, path)
    assert info["interpreter"] == ("main_interpreter" if "main" in path else "127.0.0.1")
    assert (info["optimize"], info["debug"], info["asserts"]) == (0, True, "run")


@pytest.fixture(scope="module")
def optimized(start_server, embedded):
    return start_server(
        """
        PythonOptimize On
        <Directory "{docroot}/flags">
            SetHandler mod_python
            PythonHandler flags
        </Directory>
        <Directory "{docroot}/flags/main">
            PythonInterpreter main_interpreter
        </Directory>
        """,
        files={"htdocs/flags/flags.py": FLAGS, "htdocs/flags/main/page.txt": "a page\n"},
    )


def mod_python_dirs() -> list:
    """The directories holding this environment's mod_python namespace: a Python
    chosen with PythonHome needs them to import mod_python-core."""
    import mod_python

    return sorted({os.path.dirname(p) for p in mod_python.__path__})


@pytest.fixture(scope="module")
def prefix_server(start_server, embedded):
    return start_server(
        """
        <Directory "{docroot}/flags">
            SetHandler mod_python
            PythonHandler flags
        </Directory>
        """,
        files={"htdocs/flags/flags.py": FLAGS},
        python_home=embedded["base_prefix"],
        env={"PYTHONPATH": os.pathsep.join(mod_python_dirs())},
    )


@pytest.mark.parametrize("path", ["/flags/x", "/flags/main/x"])
def test_python_optimize_on_is_python_dash_o(optimized, path):
    info = get_json(optimized, path)
    assert info["interpreter"] == ("main_interpreter" if "main" in path else "127.0.0.1")
    assert (info["optimize"], info["debug"], info["asserts"]) == (1, False, "stripped")


def test_python_home_at_the_python_prefix(prefix_server, embedded):
    info = get_json(prefix_server, "/flags/x")
    assert info["prefix"] == embedded["base_prefix"]
    assert info["base_prefix"] == embedded["base_prefix"]
    assert info["version"] == embedded["version"]


@pytest.fixture(scope="module")
def venv_server(start_server, embedded):
    top = tempfile.mkdtemp(prefix="mp-it-venv-")
    os.chmod(top, 0o755)
    venv = os.path.join(top, "venv")
    subprocess.run(
        [embedded["executable"], "-m", "venv", "--without-pip", "--system-site-packages", venv],
        check=True,
        capture_output=True,
    )
    major, minor = embedded["version"]
    site = os.path.join(venv, "lib", f"python{major}.{minor}", "site-packages")
    with open(os.path.join(site, "mp_venv_marker.py"), "w") as fh:
        fh.write("VALUE = 'installed in the virtualenv'\n")
    # mod_python-core as an editable install would put it: a .pth in the venv
    with open(os.path.join(site, "mod_python_core.pth"), "w") as fh:
        fh.write("\n".join(mod_python_dirs()) + "\n")
    srv = start_server(
        """
        <Directory "{docroot}/flags">
            SetHandler mod_python
            PythonHandler flags
        </Directory>
        """,
        files={"htdocs/flags/flags.py": FLAGS},
        python_home=venv,
    )
    srv.venv = venv
    yield srv
    srv.stop()
    shutil.rmtree(top, ignore_errors=True)


def test_python_home_at_a_virtualenv(venv_server, embedded, server):
    info = get_json(venv_server, "/flags/x")
    assert info["prefix"] == venv_server.venv
    assert info["base_prefix"] == embedded["base_prefix"]
    assert info["venv_marker"] == "installed in the virtualenv"
    # Not visible to a server without that PythonHome.
    assert embedded["venv_marker"] is None


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_invalid_python_home_stops_apache_with_a_clear_message(start_server, kind):
    top = tempfile.mkdtemp(prefix="mp-it-home-")
    try:
        home = os.path.join(top, "no-such-python")
        if kind == "file":
            with open(home, "w") as fh:
                fh.write("not a directory\n")
        with pytest.raises(ApacheStartError) as info:
            start_server("", python_home=home)
        message = str(info.value)
        assert "PythonHome" in message
        assert home in message
        assert "not a directory" in message
    finally:
        shutil.rmtree(top, ignore_errors=True)


def test_python_optimize_outside_server_config_stops_apache(start_server):
    # Context: server config only (manual 5.4.9).
    with pytest.raises(ApacheStartError) as info:
        start_server('<Directory "{docroot}">\n    PythonOptimize On\n</Directory>\n')
    assert "Syntax error" in str(info.value)
    assert "PythonOptimize not allowed" in str(info.value)
