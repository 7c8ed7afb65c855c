"""Process set-up for launch.py: quiet logs, TF off the GPUs, multi-process JAX, one-line errors."""

import logging as std_logging
import os
import runpy
import sys
import threading
from typing import Callable, Optional

import jax
from absl import flags, logging
from ml_collections import config_flags
from jax._src import distributed as jax_distributed

from vision_jax.config_rules import override_problem
from vision_jax.data import hide_gpus_from_tensorflow
from vision_jax.errors import UserError, first_line, root_cause
from vision_jax.tasks import run
from vision_jax.train.loop import dry_run_line
from vision_jax.train.metrics import summary_line
from vision_jax.train.preemption import PREEMPTED_EXIT_STATUS, Preempted

# Environment variables that mean "this process is one of several" on common clusters.
CLUSTER_SIZE_VARIABLES = ('SLURM_NTASKS', 'OMPI_COMM_WORLD_SIZE', 'PMI_SIZE', 'JAX_NUM_PROCESSES')
QUIET_PACKAGES = ('orbax', 'tensorflow_datasets', 'etils')
# Words of the runtime errors a survivor's collective or coordination call raises when a peer has died.
PEER_FAILURE_MARKERS = ('Gloo', 'heartbeat', 'UNAVAILABLE', 'Connection reset', 'Connection refused',
                        'coordination service', 'CoordinationService')
# JAX's own initialization deadline comes this long after ours, so ours (one line) ends the wait.
JAX_DEADLINE_MARGIN_S = 60
# The longest the coordinator waits at exit for the other processes to disconnect (JAX's own shutdown timeout).
SHUTDOWN_WAIT_S = 300


class _DropThirdPartyInfo(std_logging.Filter):
  """Hides INFO chatter that orbax and TFDS send through the shared absl logger."""

  def filter(self, record: std_logging.LogRecord) -> bool:
    noisy = any(f'/{name}/' in record.pathname for name in QUIET_PACKAGES)
    return record.levelno >= std_logging.WARNING or not noisy


def quiet_third_party_logs() -> None:
  """Keeps the console to our progress lines: TF C++ chatter and orbax/TFDS INFO are hidden."""
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  os.environ.setdefault('TF_ENABLE_ONEDNN_OPTS', '0')  # TF only runs tf.data here; this silences its banner.
  logging.get_absl_handler().addFilter(_DropThirdPartyInfo())


def _unknown_config_key(config, argv: list[str]) -> Optional[str]:
  """A message for the first --config.a.b override whose path is not in `config`, if any."""
  for arg in argv:
    if not arg.startswith('--config.'):
      continue
    path = arg[len('--config.'):].split('=', 1)[0].split('.')
    node = config
    for depth, key in enumerate(path):
      if not hasattr(node, 'keys') or key not in node.keys():
        where = 'config' + ''.join(f'.{k}' for k in path[:depth])
        valid = ', '.join(sorted(node.keys())) if hasattr(node, 'keys') else 'none (not a group)'
        return f'unknown config key {".".join(path)!r}; valid keys of {where}: {valid}'
      node = node[key]
  return None


def _config_spec(argv: list[str]) -> Optional[str]:
  return next((a.split('=', 1)[1] for a in argv if a.startswith('--config=')), None)


def _load_config_from_argv(argv: list[str]):
  """get_config(arg) of the --config=FILE[:ARG] in argv, or None if it cannot be loaded."""
  spec = _config_spec(argv)
  if spec is None:
    return None
  path, _, arg = spec.partition(':')
  try:
    return runpy.run_path(path)['get_config'](arg or None)
  except Exception:
    return None


def error_line(error: BaseException) -> str:
  """One line for a flag-parsing error: its own first line, or its root cause's when that line is only
  a header (config_flags' 'Error whilst parsing config file:' wraps get_config's own ValueError)."""
  line = first_line(error)
  return first_line(root_cause(error)) if line.endswith(':') else line


def check_overrides(flag_values: flags.FlagValues) -> None:
  """A UserError for a --config.KEY=VALUE that the chosen data source would ignore (see override_problem)."""
  problem = override_problem(flag_values.config, config_flags.get_override_values(flag_values['config']))
  if problem:
    raise UserError(problem)


def parse_flags(argv: list[str]) -> list[str]:
  """absl flag parsing where any bad flag, config file or override is one line and exit status 1."""
  try:
    args = flags.FLAGS(argv)
    flags.FLAGS.config.keys()  # config_flags defers file-loading errors to the first use.
    check_overrides(flags.FLAGS)
    return args
  except Exception as e:  # absl and config_flags raise many types for bad input.
    message = error_line(e)
    spec = _config_spec(argv)
    if spec and not os.path.isfile(spec.partition(':')[0]):
      message = f'config file {spec.partition(":")[0]} does not exist'
    config = _load_config_from_argv(argv)
    if config is not None:
      message = _unknown_config_key(config, argv) or message
  print(f'error: {message}', file=sys.stderr, flush=True)
  sys.exit(1)


def launched_as_one_of_many() -> bool:
  """True when a cluster environment says there are several processes."""
  if os.environ.get('JAX_COORDINATOR_ADDRESS'):
    return True
  return any(int(os.environ.get(v, '1') or 1) > 1 for v in CLUSTER_SIZE_VARIABLES)


def distributed_flags_problem(coordinator_address: Optional[str], num_processes: Optional[int],
                              process_id: Optional[int]) -> Optional[str]:
  """What is wrong with the multi-process flags (None: nothing), found before any connection is tried."""
  if coordinator_address is None:
    if num_processes is not None or process_id is not None:
      return "--num_processes and --process_id need --coordinator_address=HOST:PORT (process 0's address)"
    return None
  host, _, port = coordinator_address.rpartition(':')
  if not host or not port.isdigit() or not 0 < int(port) < 65536:
    return f'--coordinator_address={coordinator_address} is not HOST:PORT with a port in 1-65535'
  if num_processes is None or process_id is None:
    return '--coordinator_address needs --num_processes and --process_id'
  if num_processes < 1:
    return f'--num_processes={num_processes} must be >= 1'
  if not 0 <= process_id < num_processes:
    return f'--process_id={process_id} must be in [0, {num_processes - 1}] for --num_processes={num_processes}'
  return None


def exit_with_one_line(message: str) -> None:
  """Prints `error: message` and ends the process at once with status 1: used where JAX's
  coordination client would otherwise abort the process with a C++ stack dump."""
  print(f'error: {message}', file=sys.stderr, flush=True)
  os._exit(1)


def join_within(timeout_s: int, where: str, initialize: Callable[[], None]) -> None:
  """Runs `initialize` (jax.distributed.initialize), ending the process with one line if it has not
  joined the coordinator `where` after timeout_s; JAX's own, later deadline aborts with a stack dump."""
  message = (f'no answer from the coordinator at {where} and the other processes within {timeout_s} s '
             f'(config.distributed.initialization_timeout_s): is every process started, with the same '
             f'--coordinator_address and --num_processes?')
  watchdog = threading.Timer(timeout_s, exit_with_one_line, args=(message,))
  watchdog.daemon = True
  watchdog.start()
  try:
    initialize()
  finally:
    watchdog.cancel()


def maybe_initialize_distributed(config, coordinator_address: Optional[str], num_processes: Optional[int],
                                 process_id: Optional[int]) -> None:
  """jax.distributed.initialize from explicit flags, or auto-detected from the cluster environment;
  bad flags are a UserError, an unreachable coordinator one line after config.distributed's timeout.

  CPU processes exchange collectives through gloo, so multi-process runs work without GPUs.
  """
  problem = distributed_flags_problem(coordinator_address, num_processes, process_id)
  if problem:
    raise UserError(problem)
  explicit = coordinator_address is not None
  if not explicit and not launched_as_one_of_many():
    return
  jax.config.update('jax_cpu_collectives_implementation', 'gloo')
  # A dead peer then surfaces as an error in the survivors' next collective (see `start`), instead of
  # the coordination client aborting every survivor with a C++ stack dump.
  jax.config.update('jax_enable_recoverability', True)
  keys = config.get('distributed', {})
  timeout_s = int(keys.get('initialization_timeout_s', 300))
  options = {'initialization_timeout': timeout_s + JAX_DEADLINE_MARGIN_S,
             'heartbeat_timeout_seconds': int(keys.get('heartbeat_timeout_s', 100))}
  args = (coordinator_address, num_processes, process_id) if explicit else ()
  where = coordinator_address or os.environ.get('JAX_COORDINATOR_ADDRESS', "the cluster's address")
  join_within(timeout_s, where, lambda: jax.distributed.initialize(*args, **options))
  logging.info('process %d of %d, %d local / %d global devices', jax.process_index(),
               jax.process_count(), jax.local_device_count(), jax.device_count())


def shutdown_distributed() -> None:
  """jax.distributed.shutdown with the coordinator, which hosts the service, going last.

  Our processes join as recoverable (jax_enable_recoverability, for one-line peer errors) and the
  service's shutdown barrier does not wait for recoverable processes, so the coordinator could stop
  the service while another process was still disconnecting from it; that process then aborted
  (-6, "Failed to disconnect from coordination service"). get_live_nodes returns once every other
  process has disconnected (or stopped sending heartbeats); a process alive but stuck delays the
  coordinator's exit by at most SHUTDOWN_WAIT_S."""
  state = jax_distributed.global_state
  if state.service is not None and state.client is not None:
    waiter = threading.Thread(target=state.client.get_live_nodes, args=(list(range(jax.process_count())),),
                              daemon=True)
    waiter.start()
    waiter.join(SHUTDOWN_WAIT_S)
  jax.distributed.shutdown()


def start(config, workdir: str, coordinator_address: Optional[str] = None, num_processes: Optional[int] = None,
          process_id: Optional[int] = None, dry_run: bool = False) -> None:
  """Joins the other processes (if any), then runs the experiment (or its dry run); a UserError from
  either becomes one line on stderr and exit status 1."""
  try:
    maybe_initialize_distributed(config, coordinator_address, num_processes, process_id)
    final = run(config, workdir, dry_run=dry_run)
    if dry_run:
      print(dry_run_line(final), flush=True)
    elif final is not None:
      print(summary_line(final), flush=True)
    shutdown_distributed()
  except UserError as e:
    print(f'error: {e}', file=sys.stderr, flush=True)
    sys.exit(1)
  except Preempted as e:
    print(f'preempted: {e}', file=sys.stderr, flush=True)
    shutdown_distributed()
    sys.exit(PREEMPTED_EXIT_STATUS)
  except Exception as e:  # a collective raises JaxRuntimeError, orbax's barrier a ValueError of its text.
    if jax.process_count() == 1 or not any(marker in str(e) for marker in PEER_FAILURE_MARKERS):
      raise
    exit_with_one_line(f'process {jax.process_index()} of {jax.process_count()} stopped because another '
                       f'process stopped answering (its log says why): {first_line(e)}')
