"""The sources panel: registries → repositories, directories, cloud caches (s3, azblob, gha);
progress and errors in place."""

from __future__ import annotations

from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from cachetui.present.safe_text import safe
from cachetui.tui.keymap import identify
from cachetui.tui.model import SourceState, SourceStatus

ALL = ""
"""Node data of the group nodes: selecting them shows every source."""

CLOUD_KINDS = frozenset({"s3", "azblob", "gha"})
"""Sources that are neither a registry nor a directory: object storage and GitHub's cache."""

CLOUD_GROUP = "Cloud caches"


class SourcesTree(Tree[str]):
    """One node per source; group nodes for registries and directories, and one for cloud caches
    that appears with the first s3, azblob or gha source (most sessions have none)."""

    BINDINGS: ClassVar[list[BindingType]] = identify(
        "sources", [Binding("j", "cursor_down", "Down", show=False),
                    Binding("k", "cursor_up", "Up", show=False)])

    def __init__(self, **kwargs: object) -> None:
        super().__init__("Sources", data=ALL, **kwargs)  # type: ignore[arg-type]
        self.show_root = False
        self.guide_depth = 2
        self._source_nodes: dict[str, TreeNode[str]] = {}
        self._registries = self.root.add("Registries", data=ALL, expand=True)
        self._directories = self.root.add("Directories", data=ALL, expand=True)
        self._clouds: TreeNode[str] | None = None

    def on_mount(self) -> None:
        self._sync_groups()

    def on_focus(self) -> None:
        """Focus lands on a highlighted row: a Tree starts with no cursor, so after ``tab`` into
        the panel nothing showed where it was and ``enter`` did nothing until an arrow key."""
        self.call_after_refresh(self._show_cursor)

    def _show_cursor(self) -> None:
        # After a refresh: the screen's mount passes focus through the panel on to the table,
        # and that transient focus must not move the cursor.
        if self.has_focus and self.cursor_line < 0:
            self.cursor_line = 0

    def render_label(self, node: TreeNode[str], base_style: Style, style: Style) -> Text:
        """The label, cut with an ellipsis where the panel ends (a silent cut hides that a
        name or an error goes on)."""
        text = super().render_label(node, base_style, style)
        depth = 0
        parent = node.parent
        while parent is not None:
            depth += 1
            parent = parent.parent
        # The hidden root takes no room; every level below the groups indents by the guides.
        available = self.scrollable_content_region.width - max(0, depth - 1) * self.guide_depth
        if 1 < available < text.cell_len:
            text.truncate(available, overflow="ellipsis")
        return text

    def _sync_groups(self) -> None:
        # Empty groups are removed from view by collapsing; labels say what they are.
        self._registries.set_label(self._group_label("Registries", self._registries))
        self._directories.set_label(self._group_label("Directories", self._directories))
        if self._clouds is not None:
            self._clouds.set_label(self._group_label(CLOUD_GROUP, self._clouds))

    @staticmethod
    def _group_label(name: str, node: TreeNode[str]) -> Text:
        count = len(node.children)
        return Text.assemble((name, "bold"), (f"  {count}" if count else "  none", "dim"))

    def label_for(self, state: SourceState) -> Text:
        label = Text(safe(state.label), style=state.accent or "")
        progress = state.progress_text
        if state.status is SourceStatus.FAILED:
            label.append("  ")
            label.append(progress, style="bold red")
        elif progress:
            label.append(f"  {progress}", style="dim")
        return label

    def upsert(self, state: SourceState) -> None:
        """Add a source node, or update its label."""
        node = self._source_nodes.get(state.id)
        if node is None:
            if state.parent and state.parent in self._source_nodes:
                parent = self._source_nodes[state.parent]
            elif state.kind in ("registry", "host"):
                parent = self._registries
            elif state.kind in CLOUD_KINDS:
                if self._clouds is None:
                    self._clouds = self.root.add(CLOUD_GROUP, data=ALL, expand=True)
                parent = self._clouds
            else:
                parent = self._directories
            allow = state.kind in ("host", "folder")
            # Sorted by label, so the tree does not depend on which source answered first.
            after = next((child for child in parent.children
                          if str(child.label).split("  ")[0] > state.label), None)
            node = parent.add(self.label_for(state), data=state.id, expand=True, allow_expand=allow,
                              before=after)
            if allow:
                node.allow_expand = True
            self._source_nodes[state.id] = node
            self._sync_groups()
        else:
            node.set_label(self.label_for(state))

    def source_ids_under(self, source_id: str) -> set[str]:
        """A source and every source below it (a folder's directories, a host's repositories)."""
        node = self._source_nodes.get(source_id)
        if node is None:
            return {source_id}
        out = set()
        stack = [node]
        while stack:
            current = stack.pop()
            if current.data:
                out.add(current.data)
            stack.extend(current.children)
        return out
