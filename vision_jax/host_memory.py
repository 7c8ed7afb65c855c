"""Transparent huge pages for XLA:CPU's per-step buffers (standard library only: runs before JAX loads).

XLA:CPU gives each step's temporary buffers one fresh block (286 MB for ResNet-20 at batch 128);
glibc maps blocks that large anew on every call and the kernel faults them in 4 KiB at a time:
73,000 page faults, about a fifth of a ResNet-20 train step on 2 cores. With the glibc tunable
`glibc.malloc.hugetlb=1` (glibc >= 2.35) such blocks are mapped with madvise(MADV_HUGEPAGE) and come
in 2 MiB pages where the kernel's transparent huge pages are 'madvise' (a common default). glibc reads
tunables only at process start, so launch.py re-executes itself once with the tunable set.
"""

import os
import sys
from typing import Mapping, Optional

TUNABLE = 'glibc.malloc.hugetlb=1'
THP_SETTING = '/sys/kernel/mm/transparent_hugepage/enabled'
MIN_GLIBC = (2, 35)


def transparent_huge_pages() -> Optional[str]:
  """The kernel's THP mode ('always', 'madvise' or 'never'), None where it cannot be read."""
  try:
    with open(THP_SETTING) as f:
      text = f.read()
  except OSError:
    return None
  return text[text.index('[') + 1:text.index(']')] if '[' in text else None


def glibc_version() -> Optional[tuple[int, int]]:
  """(major, minor) of the C library when it is glibc, else None."""
  try:
    name, version = os.confstr('CS_GNU_LIBC_VERSION').split()
  except (ValueError, OSError, AttributeError):
    return None
  return tuple(int(v) for v in version.split('.')[:2]) if name == 'glibc' else None


def huge_page_environment(environ: Mapping[str, str], thp_mode: Optional[str],
                          glibc: Optional[tuple[int, int]]) -> Optional[dict]:
  """`environ` with glibc asked for huge pages, or None where that would change nothing: THP not
  'madvise' ('always' gives them anyway), glibc too old or absent, or GLIBC_TUNABLES already
  choosing malloc.hugetlb (the user's choice stands)."""
  tunables = environ.get('GLIBC_TUNABLES', '')
  if thp_mode != 'madvise' or glibc is None or glibc < MIN_GLIBC or 'glibc.malloc.hugetlb' in tunables:
    return None
  return {**environ, 'GLIBC_TUNABLES': f'{tunables}:{TUNABLE}' if tunables else TUNABLE}


def with_huge_pages(environ: Mapping[str, str]) -> dict:
  """`environ` for a child process that should get huge pages where this machine gives them."""
  return huge_page_environment(environ, transparent_huge_pages(), glibc_version()) or dict(environ)


def reexec_with_huge_pages() -> None:
  """Replaces this process (same pid, arguments and interpreter) by one started with the huge-page
  tunable, where it changes something; returns where it does not."""
  environ = huge_page_environment(os.environ, transparent_huge_pages(), glibc_version())
  if environ is not None:
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], environ)
