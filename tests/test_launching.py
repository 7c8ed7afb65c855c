import threading
import time
import types

import pytest

from configs import common
from vision_jax import launching


def test_unknown_config_key_names_the_group_and_its_keys():
  config = common.classification_config()
  message = launching._unknown_config_key(config, ['--workdir=x', '--config.optimizer.nme=sgd'])
  assert message.startswith("unknown config key 'optimizer.nme'; valid keys of config.optimizer: b1, b2")
  assert launching._unknown_config_key(config, ['--config.optimizer.name=sgd']) is None


@pytest.mark.parametrize('env, expected', [
    ({}, False),
    ({'SLURM_NTASKS': '1'}, False),
    ({'SLURM_NTASKS': '4'}, True),
    ({'OMPI_COMM_WORLD_SIZE': '2'}, True),
    ({'JAX_COORDINATOR_ADDRESS': 'host0:1234'}, True),
])
def test_cluster_environment_detection(monkeypatch, env, expected):
  for name in launching.CLUSTER_SIZE_VARIABLES + ('JAX_COORDINATOR_ADDRESS',):
    monkeypatch.delenv(name, raising=False)
  for name, value in env.items():
    monkeypatch.setenv(name, value)
  assert launching.launched_as_one_of_many() is expected


def test_the_coordinator_waits_a_bounded_time_for_a_stuck_process_at_exit(monkeypatch):
  stuck = threading.Event()   # never set: a process alive but never disconnecting
  client = types.SimpleNamespace(get_live_nodes=lambda ids: stuck.wait())
  monkeypatch.setattr(launching.jax_distributed, 'global_state', types.SimpleNamespace(service=object(), client=client))
  shut = []
  monkeypatch.setattr(launching.jax.distributed, 'shutdown', lambda: shut.append(True))
  monkeypatch.setattr(launching.jax, 'process_count', lambda: 2)
  monkeypatch.setattr(launching, 'SHUTDOWN_WAIT_S', 0.3)
  start = time.time()
  launching.shutdown_distributed()
  assert shut == [True] and time.time() - start < 5
