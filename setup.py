"""Build the Cython core in ``csrc/`` into the ``shardstream`` package.

Environment switches:

``SHARDSTREAM_DEBUG=1``     build without optimisation, with assertions and line tracing
``SHARDSTREAM_SANITIZE=1``  build with AddressSanitizer and UndefinedBehaviorSanitizer
``SHARDSTREAM_ANNOTATE=1``  write Cython's HTML annotation next to each ``.pyx``
``SHARDSTREAM_CYTHON_ALWAYS=1``  re-run Cython on every module even if it looks up to date
"""

import os
import platform

from Cython.Build import cythonize
from setuptools import Extension, setup

DEBUG = os.environ.get("SHARDSTREAM_DEBUG") == "1"
SANITIZE = os.environ.get("SHARDSTREAM_SANITIZE") == "1"

CSRC = os.path.join("csrc", "shardstream")

compile_args = ["-O0", "-g"] if DEBUG else ["-O3"]
link_args = []
macros = []
if not DEBUG:
    macros.append(("NDEBUG", "1"))
else:
    macros.append(("CYTHON_TRACE_NOGIL", "1"))
if SANITIZE:
    compile_args += ["-fsanitize=address,undefined", "-fno-omit-frame-pointer"]
    link_args += ["-fsanitize=address,undefined"]
if platform.system() != "Windows":
    compile_args += ["-std=c11", "-Wno-unused-function"]


def extension(name, *c_sources):
    return Extension(
        f"shardstream.{name}",
        sources=[os.path.join(CSRC, f"{name}.pyx"), *(os.path.join(CSRC, c) for c in c_sources)],
        include_dirs=[CSRC],
        define_macros=macros,
        extra_compile_args=compile_args,
        extra_link_args=link_args,
    )


extensions = [
    extension("_buffers"),
    extension("_routing", "ss_md5.c"),
    extension("_shardlog"),
    extension("_arrow_encode"),
    extension("_ipc_encode"),
    extension("_stream_core", "ss_md5.c"),
    extension("_seqnums"),
    extension("_wire_json"),
    extension("_wire_cbor"),
    extension("_kpl"),
    extension("_receipts"),
]

setup(
    ext_modules=cythonize(
        extensions,
        include_path=["csrc"],
        build_dir=os.path.join("build", "cython"),  # generated C stays out of csrc/
        annotate=os.environ.get("SHARDSTREAM_ANNOTATE") == "1",
        force=os.environ.get("SHARDSTREAM_CYTHON_ALWAYS") == "1",
        compiler_directives={
            "language_level": "3",
            "boundscheck": DEBUG,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": DEBUG,
            "embedsignature": True,
            "freethreading_compatible": False,
        },
    ),
)
