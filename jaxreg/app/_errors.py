"""``ConfigError``: a problem the user fixes by changing an option or an input file."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["ConfigError"]


class ConfigError(ValueError):
    """A configuration or usage problem: a bad option, a missing or unreadable data file, a refused resume.

    The message names each option it is about. Python callers see the field as
    :class:`~jaxreg.app.SweepConfig` spells it (``num_lambdas``); the ``jaxreg``
    command prints the same message with its flag (``--num-lambdas``), in one
    line and with exit status 2. Any other exception escaping the command is a
    bug and keeps its traceback. A subclass of ``ValueError``, so code that
    caught the ``ValueError`` these problems used to raise still catches them.

    Args:
      template: the message, with ``{field}`` wherever an option is named.
      *fields: the option names that ``template`` mentions.

    Example:
      >>> e = ConfigError("{num_lambdas} must be an integer >= 1, got 0", "num_lambdas")
      >>> str(e)
      'num_lambdas must be an integer >= 1, got 0'
      >>> e.render(lambda field: "--" + field.replace("_", "-"))
      '--num-lambdas must be an integer >= 1, got 0'
    """

    def __init__(self, template: str, *fields: str):
        self.template = template
        self.fields = fields
        super().__init__(self.render())

    def render(self, spell: Callable[[str], str] = str) -> str:
        """The message with every ``{field}`` replaced by ``spell(field)`` (default: the field's own name)."""
        # str.replace, not str.format: values quoted in the message may hold braces of their own
        message = self.template
        for field in self.fields:
            message = message.replace("{" + field + "}", spell(field))
        return message

    @classmethod
    def about(cls, field: str, problem: str) -> ConfigError:
        """The common shape ``<field> <problem>``, e.g. ``about("lr", "must be > 0")``."""
        return cls("{" + field + "} " + problem, field)
