"""The Explain screen (``e``): paste a QEMU command line, read it option by option."""

from __future__ import annotations

from typing import Any, ClassVar, Optional

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.events import Resize
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from kvmq.host.explain import ExplainInputError, Explanation, HostFacts, explain, find_invocation
from kvmq.render.explain import to_text

HINT = ("Paste a QEMU command line (or a libvirt log line) and press Enter. "
        "Escape closes this screen.")


class ExplainScreen(ModalScreen[None]):
    """Explains the pasted command line; everything pasted is shown as data, never markup."""

    DEFAULT_CSS = """
    ExplainScreen {
        align: center middle;
    }
    ExplainScreen > #explain-frame {
        width: 100%;
        height: 100%;
        max-width: 120;
        background: $surface;
        border: round $primary;
        padding: 0 1;
    }
    ExplainScreen #explain-input {
        width: 100%;
        margin: 0;
    }
    ExplainScreen #explain-output {
        height: auto;
        width: 100%;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", "Close", tooltip="close the Explain screen"),
    ]

    def __init__(self, host: Optional[HostFacts] = None, table: Any = None, line: str = "") -> None:
        super().__init__()
        self._host = host
        self._table = table
        self._line = line
        self.explanation: Optional[Explanation] = None

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="explain-frame"):
            yield Input(value=self._line, placeholder="qemu-system-x86_64 -accel kvm ...",
                        id="explain-input")
            yield Static(Text(HINT, style="dim"), id="explain-output")

    def on_mount(self) -> None:
        for field in self.query(Input):  # none when the app closes while this opens
            field.focus()
        if self._line:
            self.show_line(self._line)

    @on(Input.Submitted, "#explain-input")
    def _submitted(self, event: Input.Submitted) -> None:
        self.show_line(event.value)

    def on_resize(self, event: Resize) -> None:
        if self.explanation is not None:
            self._render_explanation()

    def show_line(self, line: str) -> None:
        """Explain ``line`` and show the result (or the one-line reason it cannot be read)."""
        output = self.query_one("#explain-output", Static)
        if not line.strip():
            self.explanation = None
            output.update(Text(HINT, style="dim"))
            return
        try:
            text = line if ("qemu" in line or "kvm" in line) else f"qemu-system-x86_64 {line}"
            argv = find_invocation(text)
            self.explanation = explain(argv, self._facts(), table=self._options())
        except ExplainInputError as exc:
            self.explanation = None
            output.update(Text(str(exc), style="bold red"))
            return
        self._render_explanation()

    def _render_explanation(self) -> None:
        if self.explanation is None:
            return
        width = max(20, self.query_one("#explain-output", Static).size.width or self.size.width - 4)
        self.query_one("#explain-output", Static).update(to_text(self.explanation, width))

    def _options(self) -> Any:
        if self._table is None:
            from kvmq.dataset.qemu_options import load_options

            self._table = load_options()
        return self._table

    def _facts(self) -> HostFacts:
        if self._host is None:
            from kvmq.host.qemu_binary import gather_host_facts

            # No cross-check here: asking the binary can take a second on first use.
            self._host = gather_host_facts(cross_check=False)
        return self._host

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
