"""Build of mod_python-psp's C extension, mod_python._psp (the PSP parser).

Everything else about the distribution is in pyproject.toml; setuptools
reads both. The scanner psp_scanner.c is generated from psp_scanner.l by
flex and committed, so building needs only a C compiler: regenerate it with
``python tools/regen_scanner.py`` after changing the .l file.
"""

from setuptools import Extension, setup

PARSER = "src/psp_parser"

setup(
    ext_modules=[
        Extension(
            "mod_python._psp",
            sources=[
                f"{PARSER}/_psp.c",
                f"{PARSER}/psp_parse.c",
                f"{PARSER}/psp_emit.c",
                f"{PARSER}/psp_pyscan.c",
                f"{PARSER}/psp_buf.c",
                f"{PARSER}/psp_scanner.c",
            ],
            depends=[f"{PARSER}/psp_parser.h", f"{PARSER}/psp_buf.h", f"{PARSER}/psp_scanner.l"],
            include_dirs=[PARSER],
            extra_compile_args=["-Wall", "-Wextra"],
        )
    ],
)
