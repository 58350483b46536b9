"""A small library to find an Apache httpd, write a private configuration, run and stop it.

Used by the ``mod_python serve`` command, the integration-test fixtures and the
benchmarks. Private to mod_python (the leading underscore): no stability promise
outside this repository.
"""

from __future__ import annotations

from .conf import DEFAULT_MODULES, ServerConfig, mpm_block, render, write_config
from .discover import ApacheInstall, find_apache, unshare_prefix
from .process import ApacheServer, ApacheStartError, child_answers, free_port, run_command

__all__ = [
    "DEFAULT_MODULES",
    "ApacheInstall",
    "ApacheServer",
    "ApacheStartError",
    "ServerConfig",
    "child_answers",
    "find_apache",
    "free_port",
    "mpm_block",
    "render",
    "run_command",
    "unshare_prefix",
    "write_config",
]
