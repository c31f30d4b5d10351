"""The VMs tab: every running QEMU process and the accelerator it really uses.

The list of VMs sits on the left (above, when narrow), the highlighted VM's accelerator,
evidence, findings and facts on the right. A scan reads ``/proc`` (and may ask a QMP socket,
with a timeout), so it runs in a thread worker: on mount, on ``r``, and every few seconds.
A scan never starts while one is still running, and the highlighted VM stays highlighted
across scans. Everything taken from a process is shown as ``Content``, never as markup.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Optional

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState

from kvmq.host.vms import ERROR, INTENT, NOTE, PROOF, STRONG, UNAVAILABLE, VM, WARNING, Scan, Scanner
from kvmq.render.vms import (
    LEVEL_WORDS,
    SOURCE_NAMES,
    STRENGTH_WORDS,
    accel_label,
    command_line,
    fact_rows,
    headline,
)

if TYPE_CHECKING:
    from kvmq.host.explain import Explanation, HostFacts

SCANNING_TEXT = "Looking for running VMs…"
NO_VMS_TEXT = ("No QEMU VM is running on this host. kvmq looks for qemu-system-*, qemu-kvm and kvm "
               "processes; this tab looks again every few seconds, and r looks now.")
REFRESH_SECONDS = 5.0

LEVEL_STYLES = {ERROR: "bold $error", WARNING: "bold $warning", NOTE: "$accent"}
STRENGTH_STYLES = {PROOF: "bold $success", STRONG: "$success", INTENT: "$warning",
                   UNAVAILABLE: "$text-muted"}


def _accel_style(vm: VM) -> str:
    if vm.accel == "kvm":
        return "bold $success"
    if vm.accel == "tcg" and vm.findings and vm.findings[0].level == ERROR:
        return "bold $error"
    return "bold $warning"


#: Names longer than this are cut in the list (in full in the detail), so the accelerator shows.
NAME_COLUMN = 24


def vm_prompt(vm: VM, name_width: int = 0) -> Content:
    """One line of the list: a mark for the loudest finding, the name, the accelerator.

    ``name_width`` pads the name so that the accelerators line up.
    """
    mark = {ERROR: ("✗ ", "bold $error"), WARNING: ("! ", "bold $warning")}.get(
        vm.loudest or "", ("  ", ""))
    strength = "" if vm.strength in (PROOF, STRONG) else "?"
    name = vm.label if len(vm.label) <= NAME_COLUMN else vm.label[: NAME_COLUMN - 1] + "…"
    return Content.assemble(mark, (name.ljust(name_width), "bold"), "  ",
                            (accel_label(vm) + strength, _accel_style(vm)))


def vm_detail(vm: VM, explanation: Optional[Content] = None) -> Content:
    """The highlighted VM in full: accelerator, findings, evidence, facts, command line."""
    parts: list[Content] = [
        Content.assemble((vm.label, "bold"), (f"  pid {vm.pid}", "$text-muted")),
        Content.assemble(("Accelerator ", "bold"), (accel_label(vm), _accel_style(vm)),
                         f" ({STRENGTH_WORDS.get(vm.strength, vm.strength)})"),
    ]
    if vm.findings:
        parts += [Content(""), Content.styled("Findings", "bold underline")]
        for finding in vm.findings:
            parts.append(Content.assemble((LEVEL_WORDS[finding.level], LEVEL_STYLES[finding.level]),
                                          " ", finding.message))
            if finding.hint:
                parts.append(Content.assemble("  → ", (finding.hint, "italic")))
    parts += [Content(""), Content.styled("Evidence, strongest first", "bold underline")]
    for evidence in vm.evidence:
        word = STRENGTH_WORDS.get(evidence.strength, evidence.strength)
        parts.append(Content.assemble(
            (f"{SOURCE_NAMES.get(evidence.source, evidence.source)}: ", "bold"),
            (word, STRENGTH_STYLES.get(evidence.strength, "")), f", {evidence.detail}"))
    parts += [Content(""), Content.styled("Facts", "bold underline")]
    parts += [Content.assemble((f"{label}: ", "bold"), value) for label, value in fact_rows(vm)]
    if explanation is not None:
        parts += [Content(""), Content.styled("The command line explained", "bold underline"), explanation]
    parts += [Content(""), Content.styled("Command line", "bold underline"),
              Content.styled(command_line(vm), "$text-muted")]
    return Content("\n").join(parts)


class VmsView(Vertical):
    """Running VMs: a list, the highlighted VM in full, refreshed in a thread worker.

    Args:
        scanner: what to scan (tests pass one over a fixture tree; None: this host's /proc).
        refresh_seconds: how often to scan again by itself; 0 only on mount and on ``r``.
    """

    DEFAULT_CSS = """
    VmsView {
        height: 1fr;
        min-width: 8;
    }
    VmsView #vms-headline {
        height: auto;
        padding: 0 1;
        background: $boost;
        text-style: bold;
    }
    VmsView #vms-headline.-tcg { color: $error; }
    VmsView #vms-headline.-ok { color: $success; }
    VmsView #vms-headline.-none, VmsView #vms-headline.-scanning { color: $text-muted; }
    VmsView #vms-body {
        height: 1fr;
    }
    VmsView #vms-list {
        width: 36;
        min-width: 10;
        max-width: 45%;
        height: 1fr;
        border: none;
        border-right: tall $panel;
        padding: 0;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    VmsView #vms-list:focus {
        background-tint: $foreground 3%;
    }
    VmsView #vms-detail-scroll {
        width: 1fr;
        min-width: 8;
        height: 1fr;
        padding: 0 1 0 2;
    }
    VmsView #vms-detail {
        width: 1fr;
        height: auto;
    }
    VmsView.-narrow #vms-headline {
        max-height: 2;
    }
    VmsView.-narrow #vms-body {
        layout: vertical;
    }
    VmsView.-narrow #vms-list {
        width: 1fr;
        max-width: 100%;
        height: auto;
        max-height: 40%;
        border-right: none;
        border-bottom: tall $panel;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "rescan", "Refresh VMs", tooltip="look for running VMs again now"),
        Binding("j", "move(1)", "Next VM", show=False, tooltip="highlight the next VM"),
        Binding("k", "move(-1)", "Previous VM", show=False, tooltip="highlight the previous VM"),
    ]

    #: Below this many columns the list sits above the detail.
    NARROW = 60

    class Scanned(Message):
        """A scan finished and is shown."""

        def __init__(self, scan: Scan) -> None:
            super().__init__()
            self.scan = scan

    def __init__(self, scanner: Optional[Scanner] = None, *, refresh_seconds: float = REFRESH_SECONDS,
                 name: Optional[str] = None, id: Optional[str] = None,
                 classes: Optional[str] = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._scanner = scanner
        self._refresh_seconds = refresh_seconds
        self._worker: Optional[Worker[Scan]] = None
        self._rows: tuple[tuple[int, str, str], ...] = ()
        self._shown: Optional[VM] = None
        self._shown_width = 0
        # The explainer's options table and this host's facts, loaded in the scan worker.
        self._options_table: Any = None
        self._host_facts: Optional[HostFacts] = None
        self._explain_problem = ""
        self._explanations: dict[tuple[str, ...], Explanation] = {}
        self.scan: Optional[Scan] = None
        self.highlighted_pid: Optional[int] = None
        self.scans = 0

    def compose(self) -> ComposeResult:
        yield Static(SCANNING_TEXT, id="vms-headline", classes="-scanning", markup=False)
        with Horizontal(id="vms-body"):
            yield OptionList(id="vms-list")
            with VerticalScroll(id="vms-detail-scroll"):
                yield Static(id="vms-detail", markup=False)

    def on_mount(self) -> None:
        self.rescan()
        if self._refresh_seconds > 0:
            self.set_interval(self._refresh_seconds, self.rescan)

    def on_resize(self) -> None:
        self.set_class(self.size.width < self.NARROW, "-narrow")
        if self._shown is not None:
            self.call_after_refresh(self._rewrap)

    def _rewrap(self) -> None:
        # The explanation is wrapped to the detail's width: wrap it again at the new one.
        vm = self._shown
        if vm is not None and self._detail_width() != self._shown_width:
            self._shown = None
            self._show_vm(vm)

    def focus_list(self) -> None:
        """Give the keyboard to the list of VMs (the app calls this when the tab opens)."""
        self.query_one("#vms-list", OptionList).focus()

    # ------------------------------------------------------------------ scanning

    def action_rescan(self) -> None:
        self.rescan()

    def action_move(self, step: int) -> None:
        options = self.query_one("#vms-list", OptionList)
        if options.option_count:
            current = options.highlighted if options.highlighted is not None else 0
            options.highlighted = max(0, min(options.option_count - 1, current + step))

    def rescan(self) -> None:
        """Scan again in a thread, unless a scan is still running (they never pile up)."""
        if self._worker is not None and self._worker.state in (WorkerState.PENDING, WorkerState.RUNNING):
            return
        if self._scanner is None:
            self._scanner = Scanner()
        self._worker = self.run_worker(self._scan, name="vms-scan", group="vms-scan",
                                       thread=True, exit_on_error=False)

    def _scan(self) -> Scan:
        """In the worker thread: the scan, and on the first one what explaining needs."""
        assert self._scanner is not None
        scan = self._scanner.scan()
        if self._options_table is None and not self._explain_problem:
            try:
                from kvmq.dataset.qemu_options import load_options
                from kvmq.host.qemu_binary import gather_host_facts

                self._host_facts = gather_host_facts(cross_check=False)
                self._options_table = load_options()
            except Exception as exc:  # the VM list still works without explanations
                self._explain_problem = f"{type(exc).__name__}: {exc}"
        return scan

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is not self._worker:
            return
        event.stop()
        if event.state == WorkerState.SUCCESS and isinstance(event.worker.result, Scan):
            self._show_scan(event.worker.result)
        elif event.state == WorkerState.ERROR:
            headline_widget = self.query_one("#vms-headline", Static)
            headline_widget.set_classes("-tcg")
            error = event.worker.error
            headline_widget.update(Content(f"The VM scan failed: {type(error).__name__}: {error}"))

    def _show_scan(self, scan: Scan) -> None:
        self.scan = scan
        self.scans += 1
        headline_widget = self.query_one("#vms-headline", Static)
        if not scan.vms:
            state = "-none"
        elif scan.tcg_while_kvm_works:
            state = "-tcg"
        else:
            state = "-ok"
        headline_widget.set_classes(state)
        headline_widget.update(Content(headline(scan, detail=False)))
        options = self.query_one("#vms-list", OptionList)
        width = min(NAME_COLUMN, max((len(vm.label) for vm in scan.vms), default=0))
        prompts = [vm_prompt(vm, width) for vm in scan.vms]
        rows = tuple((vm.pid, prompt.plain, vm.loudest or "") for vm, prompt in zip(scan.vms, prompts))
        if rows != self._rows:
            # Rebuilt only when what it shows changed: a refresh must not move the highlight.
            self._rows = rows
            keep = self.highlighted_pid
            options.clear_options()
            options.add_options([Option(prompt, id=str(vm.pid)) for vm, prompt in zip(scan.vms, prompts)])
            index = next((i for i, vm in enumerate(scan.vms) if vm.pid == keep), None)
            if index is None and scan.vms:
                index = 0
            options.highlighted = index
        options.display = bool(scan.vms)
        current = scan.find(self.highlighted_pid) if self.highlighted_pid is not None else None
        if current is None and scan.vms:
            current = scan.vms[options.highlighted or 0]
        self._show_vm(current)
        self.post_message(self.Scanned(scan))

    # ------------------------------------------------------------------ the detail

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        if self.scan is None or event.option.id is None:
            return
        self._show_vm(self.scan.find(int(event.option.id)))

    def _show_vm(self, vm: Optional[VM]) -> None:
        detail = self.query_one("#vms-detail", Static)
        if vm is None:
            self.highlighted_pid = None
            self._shown = None
            detail.update(Content.styled(NO_VMS_TEXT, "$text-muted") if self.scan else "")
            return
        self.highlighted_pid = vm.pid
        if vm == self._shown:
            return  # the same VM, unchanged: no repaint
        self._shown = vm
        self._shown_width = self._detail_width()
        detail.update(vm_detail(vm, self._explanation(vm, self._shown_width)))

    def _detail_width(self) -> int:
        return max(20, self.query_one("#vms-detail", Static).size.width or self.size.width - 4)

    def _explanation(self, vm: VM, width: int) -> Optional[Content]:
        """The explainer's reading of the VM's command line (``kvmq explain --pid``)."""
        if self._explain_problem:
            return Content.styled(f"Not available: {self._explain_problem}", "$text-muted")
        if self._options_table is None:
            return None
        from kvmq.host.explain import explain
        from kvmq.render.explain import to_text

        explanation = self._explanations.get(vm.argv)
        if explanation is None:
            if len(self._explanations) > 64:
                self._explanations.clear()
            explanation = explain(vm.argv, self._host_facts, table=self._options_table)
            self._explanations[vm.argv] = explanation
        return Content.from_rich_text(to_text(explanation, width))

    @property
    def highlighted_vm(self) -> Optional[VM]:
        return self._shown
