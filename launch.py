"""Launches one experiment: config file in, trained and evaluated model in WORKDIR out.

  python launch.py --config=configs/digits_cnn.py[:smoke] --workdir=DIR [--config.key=value ...] [--dry_run]

Relaunching the same command resumes from WORKDIR/checkpoints. On a cluster, start the
same command on every process: jax.distributed is initialised from --coordinator_address
/--num_processes/--process_id or from the cluster's environment (SLURM, Open MPI, ...).
"""

from vision_jax import host_memory

if __name__ == '__main__':  # first, before the imports below, which a re-execution would repeat
  host_memory.reexec_with_huge_pages()

from absl import app, flags  # noqa: E402
from ml_collections import config_flags  # noqa: E402

from vision_jax import launching  # noqa: E402

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file('config', None, 'Experiment config file, optionally FILE:ARG.',
                                lock_config=True)
flags.DEFINE_string('workdir', None, 'Directory for checkpoints, metrics and plots.')
flags.DEFINE_string('coordinator_address', None, 'host:port of process 0 (multi-process runs).')
flags.DEFINE_integer('num_processes', None, 'Number of processes (multi-process runs).')
flags.DEFINE_integer('process_id', None, 'Index of this process (multi-process runs).')
flags.DEFINE_bool('dry_run', False, 'Check the config, set up the data and the model, trace one train step to '
                  'shapes, then stop: nothing is trained, compiled or written.')
flags.mark_flags_as_required(['config', 'workdir'])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {" ".join(argv[1:])}')
  launching.hide_gpus_from_tensorflow()
  launching.start(FLAGS.config, FLAGS.workdir, FLAGS.coordinator_address, FLAGS.num_processes,
                  FLAGS.process_id, FLAGS.dry_run)


if __name__ == '__main__':
  launching.quiet_third_party_logs()
  app.run(main, flags_parser=launching.parse_flags)
