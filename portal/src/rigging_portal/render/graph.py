"""A package's dependency graph as SVG drawn on the server: layered left to right, no JavaScript.

Package names and version ranges come from packages, so every piece of text is escaped (and hidden
characters shown) and the size is capped. Colours come from classes (see graph_css) rather than
style attributes, which the portal's Content-Security-Policy would refuse.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import quote

__all__ = ["MAX_EDGES", "MAX_NODES", "dependency_svg", "graph_css"]

MAX_NODES = 200
MAX_EDGES = 1000
MAX_LABEL_COLUMNS = 40
MAX_RANGE_COLUMNS = 18
MAX_DESC_EDGES = 100

FONT_SIZE = 13
CHAR_WIDTH = FONT_SIZE * 0.6  # node labels are monospace, so widths can be known on the server
LABEL_FONT_SIZE = 11
NODE_HEIGHT = 28
PAD_X = 10
GAP_X = 130  # room for a range label between two columns
GAP_Y = 18
MARGIN = 12

_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_SCHEME = re.compile(r"\s*([a-zA-Z][a-zA-Z0-9+.-]*):")
_URL_SAFE = "!#$%&'()*+,-./:;=?@[]_~"  # what a URL may hold as it is; the rest is percent-encoded


@dataclass
class _Node:
    name: str
    label: str
    layer: int = 0
    x: float = 0.0
    y: float = 0.0
    width: float = 0.0

    @property
    def right(self) -> float:
        return self.x + self.width

    @property
    def middle(self) -> float:
        return self.y + NODE_HEIGHT / 2


class _Bounds:
    def __init__(self) -> None:
        self.left = self.top = float("inf")
        self.right = self.bottom = float("-inf")

    def add(self, x: float, y: float) -> None:
        self.left, self.right = min(self.left, x), max(self.right, x)
        self.top, self.bottom = min(self.top, y), max(self.bottom, y)


def _plain(text: str) -> str:
    """Untrusted text made fit for XML: hidden characters shown, characters XML forbids replaced
    (one of those would make the whole SVG unreadable), then escaped."""
    from rigging_indexer.markdown_html import reveal_hidden_text

    return html.escape(_XML_INVALID.sub("\ufffd", reveal_hidden_text(text)), quote=True)


def _columns(char: str) -> int:
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def _shorten(text: str, limit: int) -> str:
    total, out = 0, []
    for char in text:
        total += _columns(char)
        if total > limit - 1:
            return "".join(out) + "…"
        out.append(char)
    return text


def _width(text: str) -> float:
    return sum(_columns(char) for char in text) * CHAR_WIDTH + 2 * PAD_X


def _n(value: float) -> str:
    return f"{round(value, 1):g}"


def _safe_href(url: str | None) -> str | None:
    """The caller builds these, but from package names: never a script URL, and control or hidden
    characters percent-encoded (one would also make the SVG invalid XML)."""
    if not url:
        return None
    match = _SCHEME.match(url)
    if match and match.group(1).lower() not in ("http", "https"):
        return None
    return quote(url, safe=_URL_SAFE)


def _select(root: str, adjacency: dict[str, list[str]], nodes: Iterable[str]) -> list[str]:
    """Nodes nearest the root first (breadth first, names in order), then any the root does not
    reach: the order in which the cap keeps them."""
    seen = {root}
    order = [root]
    queue = deque([root])
    while queue:
        for nxt in adjacency.get(queue.popleft(), []):
            if nxt not in seen:
                seen.add(nxt)
                order.append(nxt)
                queue.append(nxt)
    order.extend(sorted(set(nodes) - seen))
    return order


def _back_edges(root: str, order: list[str], adjacency: dict[str, list[str]]) -> set[tuple[str, str]]:
    """Edges that close a cycle (depth first, without recursion so a long chain cannot overflow the
    stack), and every edge into the root, so the root stays in the first column."""
    back = {(a, root) for a in adjacency if root in adjacency[a]}
    state: dict[str, int] = {}  # 1 on the current path, 2 finished
    for start in order:
        if start in state:
            continue
        state[start] = 1
        stack = [(start, iter(adjacency.get(start, [])))]
        while stack:
            node, successors = stack[-1]
            for nxt in successors:
                seen = state.get(nxt, 0)
                if seen == 1:
                    back.add((node, nxt))
                elif seen == 0:
                    state[nxt] = 1
                    stack.append((nxt, iter(adjacency.get(nxt, []))))
                    break
            else:
                state[node] = 2
                stack.pop()
    return back


def _layers(order: list[str], forward: dict[str, list[str]]) -> dict[str, int]:
    """Longest-path layering over the acyclic forward edges: each node one column right of its
    deepest parent."""
    indegree = dict.fromkeys(order, 0)
    for node in order:
        for nxt in forward.get(node, []):
            indegree[nxt] += 1
    layer = dict.fromkeys(order, 0)
    ready = deque(node for node in order if indegree[node] == 0)
    while ready:
        node = ready.popleft()
        for nxt in forward.get(node, []):
            layer[nxt] = max(layer[nxt], layer[node] + 1)
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                ready.append(nxt)
    return layer


def dependency_svg(
    root: str,
    edges: list[tuple[str, str, str]],
    *,
    href: Callable[[str], str | None],
    max_nodes: int = MAX_NODES,
) -> str:
    """The graph of edges (dependent, dependency, range) from root as an SVG element to inline in
    a page. A node is a link when href(name) gives a URL. Past max_nodes (nearest the root kept)
    and MAX_EDGES a note says how many more there are.

    It is role="img" when nothing in it is a link. With links it is role="group": an img's
    children are presentational, so links inside one would be hidden from assistive technology
    (axe: nested-interactive); the title and desc name and describe it either way."""
    ranges: dict[tuple[str, str], list[str]] = {}
    for dependent, dependency, range_text in edges:
        seen = ranges.setdefault((dependent, dependency), [])
        if range_text and range_text not in seen:
            seen.append(range_text)
    adjacency: dict[str, list[str]] = {}
    for dependent, dependency in sorted(ranges):
        adjacency.setdefault(dependent, []).append(dependency)

    everything = {root, *(name for pair in ranges for name in pair)}
    order = _select(root, adjacency, everything)
    kept = order[: max(1, max_nodes)]
    kept_set = set(kept)
    position = {name: index for index, name in enumerate(kept)}
    pairs = sorted(
        (pair for pair in ranges if pair[0] in kept_set and pair[1] in kept_set),
        key=lambda pair: (position[pair[0]], position[pair[1]]),
    )
    hidden_edges = len(pairs) - MAX_EDGES if len(pairs) > MAX_EDGES else 0
    pairs = pairs[:MAX_EDGES]
    kept_adjacency: dict[str, list[str]] = {}
    for dependent, dependency in pairs:
        kept_adjacency.setdefault(dependent, []).append(dependency)

    back = _back_edges(root, kept, kept_adjacency)
    forward = {a: [b for b in bs if (a, b) not in back] for a, bs in kept_adjacency.items()}
    layer_of = _layers(kept, forward)

    nodes = {name: _Node(name, _shorten(name, MAX_LABEL_COLUMNS), layer_of[name]) for name in kept}
    columns: dict[int, list[_Node]] = {}
    for node in nodes.values():
        columns.setdefault(node.layer, []).append(node)
    tallest = max(len(column) for column in columns.values())
    x = 0.0
    for index in sorted(columns):
        column = sorted(columns[index], key=lambda node: (node.name != root, node.name))
        width = max(_width(node.label) for node in column)
        offset = (tallest - len(column)) * (NODE_HEIGHT + GAP_Y) / 2
        for row, node in enumerate(column):
            node.x, node.width = x, width
            node.y = offset + row * (NODE_HEIGHT + GAP_Y)
        x += width + GAP_X

    bounds = _Bounds()
    for node in nodes.values():
        bounds.add(node.x, node.y)
        bounds.add(node.right, node.y + NODE_HEIGHT)

    arrow = "dep-arrow-" + hashlib.sha256(root.encode("utf-8", "replace")).hexdigest()[:10]
    drawn_edges: list[str] = []
    lanes = 0  # edges routed under the columns so far; each gets its own lane
    for dependent, dependency in pairs:
        a, b = nodes[dependent], nodes[dependency]
        label = _shorten(", ".join(ranges[(dependent, dependency)]), MAX_RANGE_COLUMNS)
        if (dependent, dependency) in back:
            classes = "edge back"
            if a is b:  # a package that depends on itself: a small loop on its right
                path = (
                    f"M{_n(a.right - 16)},{_n(a.y)} C{_n(a.right + 6)},{_n(a.y - 28)} "
                    f"{_n(a.right + 28)},{_n(a.y - 6)} {_n(a.right)},{_n(a.y + 8)}"
                )
                bounds.add(a.right + 28, a.y - 28)
                label_x, label_y = a.right + 18, a.y - 24
            else:  # a cycle: an arc over the boxes, from the top of one to the top of the other
                sx, tx = a.x + a.width / 2, b.x + b.width / 2
                lift = 30 + abs(sx - tx) * 0.15
                top = min(a.y, b.y) - lift
                path = f"M{_n(sx)},{_n(a.y)} C{_n(sx)},{_n(top)} {_n(tx)},{_n(top)} {_n(tx)},{_n(b.y)}"
                bounds.add(sx, top)
                label_x, label_y = (sx + tx) / 2, top + lift * 0.25 - 4
        elif b.layer == a.layer + 1:
            classes = "edge"
            x1, y1, x2, y2 = a.right, a.middle, b.x, b.middle
            middle = (x1 + x2) / 2
            path = f"M{_n(x1)},{_n(y1)} C{_n(middle)},{_n(y1)} {_n(middle)},{_n(y2)} {_n(x2)},{_n(y2)}"
            label_x, label_y = middle, (y1 + y2) / 2 - 4
        else:  # over more than one column: under the columns in between rather than through them
            classes = "edge"
            x1, y1, x2, y2 = a.right, a.middle, b.x, b.middle
            between = [node for node in nodes.values() if a.layer < node.layer < b.layer]
            below = max(node.y + NODE_HEIGHT for node in between) + 10 + (lanes % 8) * 16
            lanes += 1
            start, end = x1 + GAP_X, x2 - GAP_X
            path = (
                f"M{_n(x1)},{_n(y1)} C{_n(x1 + GAP_X / 2)},{_n(y1)} {_n(x1 + GAP_X / 2)},{_n(below)} "
                f"{_n(start)},{_n(below)} L{_n(end)},{_n(below)} "
                f"C{_n(x2 - GAP_X / 2)},{_n(below)} {_n(x2 - GAP_X / 2)},{_n(y2)} {_n(x2)},{_n(y2)}"
            )
            bounds.add(start, below)
            label_x, label_y = (start + end) / 2, below + LABEL_FONT_SIZE + 2
        text = (
            f'<text class="edge-label" x="{_n(label_x)}" y="{_n(label_y)}" text-anchor="middle">{_plain(label)}</text>'
            if label
            else ""
        )
        bounds.add(label_x, label_y - LABEL_FONT_SIZE)
        bounds.add(label_x, label_y + 4)
        drawn_edges.append(f'<g><path class="{classes}" d="{path}" marker-end="url(#{arrow})"/>{text}</g>')

    drawn_nodes: list[str] = []
    any_link = False
    for name in kept:
        node = nodes[name]
        classes = "node root" if name == root else "node"
        box = (
            f'<rect x="{_n(node.x)}" y="{_n(node.y)}" width="{_n(node.width)}" height="{NODE_HEIGHT}" rx="4"/>'
            f'<text x="{_n(node.x + node.width / 2)}" y="{_n(node.middle)}" text-anchor="middle" '
            f'dominant-baseline="central">{_plain(node.label)}</text>'
        )
        url = _safe_href(href(name))
        if url is None:
            drawn_nodes.append(f'<g class="{classes}"><title>{_plain(name)}</title>{box}</g>')
        else:
            any_link = True
            drawn_nodes.append(
                f'<a href="{html.escape(url, quote=True)}" class="{classes}"><title>{_plain(name)}</title>{box}</a>'
            )

    notes = []
    if len(order) > len(kept):
        notes.append(f"+{len(order) - len(kept)} more packages not drawn")
    if hidden_edges:
        notes.append(f"+{hidden_edges} more dependencies not drawn")
    drawn_notes = []
    for index, note in enumerate(notes):
        y = bounds.bottom + 18 + index * 18
        drawn_notes.append(f'<text class="more" x="{_n(bounds.left)}" y="{_n(y)}">{_plain(note)}</text>')
        bounds.add(bounds.left + len(note) * CHAR_WIDTH, y + 4)

    left, top = bounds.left - MARGIN, bounds.top - MARGIN
    width, height = bounds.right - bounds.left + 2 * MARGIN, bounds.bottom - bounds.top + 2 * MARGIN
    listed = [
        f"{a} → {b}" + (f" ({', '.join(ranges[(a, b)])})" if ranges[(a, b)] else "") for a, b in pairs[:MAX_DESC_EDGES]
    ]
    if len(pairs) > MAX_DESC_EDGES:
        listed.append(f"and {len(pairs) - MAX_DESC_EDGES} more")
    desc = f"{len(kept)} packages. " + ("; ".join(listed) if listed else f"{root} has no dependencies.")
    if notes:
        desc += " " + "; ".join(notes) + "."
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="dependency-graph" role="{"group" if any_link else "img"}" '
        f'viewBox="{_n(left)} {_n(top)} {_n(width)} {_n(height)}" width="{_n(width)}" height="{_n(height)}">'
        f"<title>{_plain(f'Dependency graph of {root}')}</title>"
        f"<desc>{_plain(desc)}</desc>"
        f'<defs><marker id="{arrow}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" '
        f'markerUnits="userSpaceOnUse" orient="auto"><path class="arrow" d="M0,0 L10,5 L0,10 z"/></marker></defs>'
        f'<g class="edges">{"".join(drawn_edges)}</g>'
        f'<g class="nodes">{"".join(drawn_nodes)}</g>'
        f"{''.join(drawn_notes)}"
        "</svg>"
    )


def graph_css() -> str:
    """Classes for dependency_svg, in the portal's colour variables so both themes follow."""
    return f"""\
.dependency-graph {{ font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: {FONT_SIZE}px; }}
.dependency-graph .node rect {{ fill: var(--bg); stroke: var(--muted); stroke-width: 1; }}
.dependency-graph .node text {{ fill: var(--fg); }}
.dependency-graph .node.root rect {{ stroke: var(--accent); stroke-width: 2; }}
.dependency-graph a.node text {{ fill: var(--accent); text-decoration: underline; }}
.dependency-graph a.node:hover rect, .dependency-graph a.node:focus rect {{ stroke: var(--accent); stroke-width: 2; }}
.dependency-graph a.node:focus-visible {{ outline: 3px solid var(--accent); }}
.dependency-graph .edge {{ fill: none; stroke: var(--muted); stroke-width: 1.25; }}
.dependency-graph .edge.back {{ stroke-dasharray: 5 3; }}
.dependency-graph .arrow {{ fill: var(--muted); }}
.dependency-graph .edge-label {{ fill: var(--muted); font-size: {LABEL_FONT_SIZE}px; }}
/* a halo in the background colour keeps a range readable where it crosses an edge */
.dependency-graph .edge-label {{ paint-order: stroke; stroke: var(--bg); stroke-width: 3px; }}
.dependency-graph .more {{ fill: var(--muted); font-style: italic; }}
"""
