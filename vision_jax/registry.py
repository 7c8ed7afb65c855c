"""A name -> object registry, so models, datasets and tasks dispatch with one lookup."""

from typing import Callable, Generic, TypeVar

from vision_jax.errors import UserError

T = TypeVar('T')


class Registry(Generic[T]):
  """Maps names to entries; an unknown name is a UserError listing the valid choices."""

  def __init__(self, kind: str):
    self.kind = kind
    self._entries: dict[str, T] = {}

  def register(self, name: str) -> Callable[[T], T]:
    """Decorator that stores its target under `name`."""
    def add(entry: T) -> T:
      if name in self._entries:
        raise ValueError(f'{self.kind} {name!r} is registered twice')
      self._entries[name] = entry
      return entry
    return add

  def get(self, name: str) -> T:
    if name not in self._entries:
      raise UserError(f'unknown {self.kind} {name!r}; choose one of: {", ".join(self.names())}')
    return self._entries[name]

  def names(self) -> list[str]:
    return sorted(self._entries)
