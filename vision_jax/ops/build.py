"""Builds the oneDNN convolution library (vision_jax/ops/_onednn_conv.so) with g++, against the
oneDNN wheels setup.cfg installs (onednn-cpu-gomp, onednn-devel-cpu-gomp: headers and libdnnl.so.3
under the environment's prefix) and the installed jaxlib's XLA FFI headers.

  python -m vision_jax.ops.build      # `make ops`; `make test` and `make demo` run it

A machine where it cannot build prints one line saying why and exits 0: everything still runs
through XLA's convolution.
"""

import os
import shutil
import subprocess
import sys

import jax

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, 'onednn_conv.cc')
TARGET = os.path.join(HERE, '_onednn_conv.so')


def command(prefix: str = sys.prefix) -> list[str]:
  """The g++ command line: headers from the oneDNN wheel and jaxlib, libdnnl.so.3 found at run time
  through an rpath to the environment's lib/."""
  lib = os.path.join(prefix, 'lib')
  return ['g++', '-O2', '-std=c++17', '-shared', '-fPIC', '-w', f'-I{os.path.join(prefix, "include")}',
          f'-I{jax.ffi.include_dir()}', SOURCE, f'-L{lib}', '-l:libdnnl.so.3', f'-Wl,-rpath,{lib}', '-o', TARGET]


def problem(prefix: str = sys.prefix) -> str:
  """Why the library cannot be built here ('' when it can)."""
  if shutil.which('g++') is None:
    return 'g++ is not installed'
  if not os.path.exists(os.path.join(prefix, 'include', 'oneapi', 'dnnl', 'dnnl.hpp')):
    return 'the oneDNN headers are missing (pip install onednn-devel-cpu-gomp==2023.2.0)'
  if not os.path.exists(os.path.join(prefix, 'lib', 'libdnnl.so.3')):
    return 'libdnnl.so.3 is missing (pip install onednn-cpu-gomp==2023.2.0)'
  return ''


def main() -> int:
  if os.path.exists(TARGET) and os.path.getmtime(TARGET) >= os.path.getmtime(SOURCE):
    return 0
  why = problem()
  if not why:
    done = subprocess.run(command(), capture_output=True, text=True)
    why = '' if done.returncode == 0 else f'g++ failed: {done.stderr.strip().splitlines()[-1:]}'
  print(f'oneDNN convolution not built ({why}); everything runs through XLA\'s convolution' if why
        else f'built {TARGET}', flush=True)
  return 0


if __name__ == '__main__':
  sys.exit(main())
