"""The destination field of the copy and re-export dialogs: validates as you type, completes.

Validation is :meth:`DestinationRules.check` (the CLI's parser plus the TUI's rules); completion
offers the sources open in the app and the config's sources and registries (``→`` accepts).
"""

from __future__ import annotations

from textual.suggester import SuggestFromList
from textual.validation import ValidationResult, Validator
from textual.widgets import Input

from cachetui.errors import CachetuiError
from cachetui.locations import Location
from cachetui.tui.destinations import DestinationRules


class DestinationValidator(Validator):
    def __init__(self, rules: DestinationRules) -> None:
        super().__init__()
        self.rules = rules

    def validate(self, value: str) -> ValidationResult:
        try:
            self.rules.check(value)
        except CachetuiError as exc:
            return self.failure(str(exc))
        return self.success()


class DestinationInput(Input):
    """An :class:`Input` whose value is checked against ``rules`` on every change."""

    DEFAULT_CSS = """
    DestinationInput { margin-bottom: 0; }
    """

    def __init__(self, rules: DestinationRules, known: list[str], *, value: str = "",
                 id: str | None = None, compact: bool = False) -> None:
        super().__init__(value=value, placeholder="./dir  ./dir:TAG  HOST/REPO[:TAG]  "
                         "type=local,dest=…", id=id, compact=compact,
                         suggester=SuggestFromList(known, case_sensitive=True),
                         validators=[DestinationValidator(rules)],
                         validate_on=["changed", "submitted"])
        self.rules = rules

    def spec(self) -> Location | None:
        """The parsed destination, or ``None`` while the text is not valid."""
        try:
            return self.rules.check(self.value)
        except CachetuiError:
            return None

    def problem(self) -> str:
        """Why the current text is not a valid destination ("" when it is)."""
        try:
            self.rules.check(self.value)
        except CachetuiError as exc:
            return str(exc)
        return ""
