"""UserError: a problem the user can fix (config, data, checkpoint, paths), reported as one line;
helpers that find that line in another library's exception."""


class UserError(Exception):
  """Raised for bad user input; launch.py prints its message alone and exits non-zero."""


def root_cause(error: BaseException) -> BaseException:
  """The innermost exception of a chain: the library's own reason under a wrapper's generic one
  (config_flags' 'Error whilst parsing', orbax's 'Encountered error while reading')."""
  while error.__cause__ is not None or (error.__context__ is not None and not error.__suppress_context__):
    error = error.__cause__ or error.__context__
  return error


def first_line(error: BaseException) -> str:
  """The first non-empty line of an exception's message (its type name if it has none)."""
  lines = [line for line in str(error).strip().splitlines() if line.strip()]
  return lines[0] if lines else type(error).__name__


class ConfigError(UserError, ValueError):
  """A config value a model or detector family cannot take (a size, a name, an input too small),
  found while it is built: one line like every UserError, and still a ValueError for callers."""
