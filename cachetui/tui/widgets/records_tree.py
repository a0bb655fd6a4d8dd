"""The records of a cache as a tree: final records first, their inputs below, each result's chain.

Nodes are created when expanded, and siblings in batches, so a 20,000-record cache opens at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from cachetui.buildkit.analysis import CacheAnalysis
from cachetui.buildkit.cacheconfig import CacheConfig
from cachetui.buildkit.chains import linked_records
from cachetui.tui.keymap import identify
from cachetui.tui.model import short_digest, size

BATCH = 200


@dataclass(frozen=True, slots=True)
class RecordRef:
    """Node data: a record (``index``), a result chain (``blobs``), or a "more" node."""

    index: int = -1
    blobs: tuple[str, ...] = ()
    more: tuple[int, ...] = ()
    digest: str = ""
    loaded: bool = False


class RecordsTree(Tree[RecordRef]):
    BINDINGS: ClassVar[list[BindingType]] = identify("records", [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g", "scroll_home", "Top", show=False),
        Binding("G", "scroll_end", "Bottom", show=False),
    ])

    def __init__(self, analysis: CacheAnalysis, **kwargs: object) -> None:
        super().__init__("records", data=RecordRef(), **kwargs)  # type: ignore[arg-type]
        self.analysis = analysis
        self.config = analysis.document.config or CacheConfig()
        self.sizes: dict[str, int] = {layer.digest: layer.size for layer in analysis.layers}
        self.show_root = False
        self._filled: set[int] = set()

    def on_mount(self) -> None:
        linked = linked_records(self.config)
        roots = [i for i in range(len(self.config.records)) if i not in linked]
        final = set(self.analysis.minmax.final_records)
        roots.sort(key=lambda i: (i not in final, i))
        self._add_batch(self.root, roots)
        self.root.expand()
        if roots:
            self.cursor_line = 0
        else:
            self.root.add_leaf(Text("no records (not a cache)", style="dim"))

    def _record_label(self, index: int) -> Text:
        record = self.config.records[index]
        results = len(record.layers) + len(record.chains)
        label = Text(f"#{index} ", style="bold")
        label.append(short_digest(record.digest), style="cyan")
        if index in self.analysis.minmax.final_records:
            label.append("  final", style="green")
        if results:
            label.append(f"  {results} result{'s' if results > 1 else ''}", style="yellow")
        if record.inputs:
            label.append(f"  {len(record.inputs)} input{'s' if len(record.inputs) > 1 else ''}",
                         style="dim")
        return label

    def _add_batch(self, parent: TreeNode[RecordRef], indices: list[int]) -> None:
        for index in indices[:BATCH]:
            record = self.config.records[index]
            expandable = bool(record.inputs or record.has_results)
            parent.add(self._record_label(index), data=RecordRef(index, digest=record.digest),
                       allow_expand=expandable)
        rest = tuple(indices[BATCH:])
        if rest:
            parent.add_leaf(Text(f"… {len(rest)} more (enter)", style="dim italic"),
                            data=RecordRef(more=rest))

    def fill(self, node: TreeNode[RecordRef]) -> None:
        """Add a record node's results and inputs, once."""
        ref = node.data
        if ref is None or ref.index < 0 or id(node) in self._filled:
            return
        self._filled.add(id(node))
        record = self.config.records[ref.index]
        chains = self.analysis.chains
        for entries, created in chains.record_results(record):
            blobs = chains.blobs(entries)
            label = Text("result ", style="yellow")
            label.append(" → ".join(short_digest(b, 8) for b in blobs) or "(empty)")
            total = sum(self.sizes.get(b, 0) for b in blobs)
            label.append(f"  {size(total)}", style="dim")
            if created:
                label.append(f"  {created[:19]}", style="dim")
            top = blobs[-1] if blobs else ""
            node.add_leaf(label, data=RecordRef(blobs=blobs, digest=top))
        inputs: list[int] = []
        for alternatives in record.inputs:
            inputs.extend(alt.link for alt in alternatives)
        self._add_batch(node, inputs)

    def on_tree_node_expanded(self, event: Tree.NodeExpanded[RecordRef]) -> None:
        event.stop()
        self.fill(event.node)

    def on_tree_node_selected(self, event: Tree.NodeSelected[RecordRef]) -> None:
        ref = event.node.data
        if ref is not None and ref.more:
            event.stop()
            parent = event.node.parent
            event.node.remove()
            if parent is not None:
                self._add_batch(parent, list(ref.more))

    def current_digest(self) -> str | None:
        node = self.cursor_node
        if node is None or node.data is None:
            return None
        return node.data.digest or None
