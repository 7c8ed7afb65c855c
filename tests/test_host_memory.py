"""launch.py re-executes itself once with glibc asking for transparent huge pages, where that helps."""

import os
import subprocess
import sys

import pytest

from tests.helpers import ROOT
from vision_jax import host_memory

GLIBC = (2, 36)


@pytest.mark.parametrize('environ, thp, glibc, tunables', [
    ({}, 'madvise', GLIBC, host_memory.TUNABLE),
    ({'GLIBC_TUNABLES': 'glibc.malloc.arena_max=2'}, 'madvise', GLIBC,
     'glibc.malloc.arena_max=2:' + host_memory.TUNABLE),
    ({'GLIBC_TUNABLES': 'glibc.malloc.hugetlb=0'}, 'madvise', GLIBC, None),   # the user's choice stands
    ({}, 'always', GLIBC, None),    # huge pages come anyway
    ({}, 'never', GLIBC, None),
    ({}, None, GLIBC, None),        # no THP setting to read (not Linux)
    ({}, 'madvise', (2, 31), None),  # glibc without the tunable
    ({}, 'madvise', None, None),    # not glibc
])
def test_huge_page_environment(environ, thp, glibc, tunables):
  found = host_memory.huge_page_environment({'PATH': '/bin', **environ}, thp, glibc)
  if tunables is None:
    assert found is None
  else:
    assert found == {'PATH': '/bin', 'GLIBC_TUNABLES': tunables}


def test_this_machines_settings_are_read():
  assert host_memory.transparent_huge_pages() in ('always', 'madvise', 'never', None)
  version = host_memory.glibc_version()
  assert version is None or (len(version) == 2 and version >= (2, 0))


def test_reexecution_keeps_pid_and_arguments_and_happens_once():
  script = ('import os, sys; from vision_jax import host_memory; '
            'print(os.getpid(), os.environ.get("GLIBC_TUNABLES", ""), sys.argv[1:], flush=True); '
            'host_memory.reexec_with_huge_pages()')
  env = {k: v for k, v in os.environ.items() if k != 'GLIBC_TUNABLES'}
  env['PYTHONPATH'] = ROOT
  lines = subprocess.run([sys.executable, '-c', script, 'a', '--b=c'], env=env, capture_output=True, text=True,
                         timeout=60, check=True).stdout.splitlines()
  expected = host_memory.huge_page_environment(env, host_memory.transparent_huge_pages(), host_memory.glibc_version())
  if expected is None:
    assert len(lines) == 1
    return
  assert len(lines) == 2, lines
  first, second = (line.split(' ', 2) for line in lines)
  assert first[0] == second[0]                          # the same process, replaced
  assert (first[1], second[1]) == ('', host_memory.TUNABLE)
  assert first[2] == second[2] == "['a', '--b=c']"
