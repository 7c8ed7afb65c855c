"""UserError: a problem the user can fix (config, data, checkpoint, paths), reported as one line."""


class UserError(Exception):
  """Raised for bad user input; launch.py prints its message alone and exits non-zero."""
