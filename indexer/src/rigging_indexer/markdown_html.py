"""Untrusted Markdown from packages (READMEs, skills, rules, workflows, docs) as safe HTML.

Three layers, each enough on its own for the worst cases: markdown-it with raw HTML off (markup in
the text is shown as text), our renderer (only http, https and mailto links; images become links,
so the page never loads anything from elsewhere; headings get `md-` ids), and nh3 with an explicit
allowlist as the last word. Hidden Unicode is shown as `⟨U+202E⟩` rather than passed through: it is
how instructions are hidden from the people reviewing a package while agents still read them.

It lives in the indexer because READMEs are rendered when a version is indexed and kept beside it
(`versions.readme_html`, marked with RENDERER), as PyPI's warehouse renders a description once at
upload: a page view then reads HTML rather than parsing Markdown. The portal renders the rest
(skills, rules, docs) itself with the same function, and any README rendered by another RENDERER.
"""

from __future__ import annotations

import functools
import html
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import unquote, urljoin

import markdown_it
import nh3
import pygments  # the package alone: its lexers and formatters load when code is highlighted
from markdown_it import MarkdownIt
from markdown_it.common.utils import unescapeAll
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

# The scanner's pattern is the definition of "hidden" in Rigging (bidi controls, zero-width
# characters, word joiners, BOM, tags, variation selectors and a few more), so the portal shows
# exactly what `rigging scan` reports.
from rigging.limits import MAX_FILE_BYTES
from rigging.scan.checks import HIDDEN

if TYPE_CHECKING:
    from pygments.formatters.html import HtmlFormatter

__all__ = [
    "ID_PREFIX",
    "MAX_HIGHLIGHT_CHARS",
    "MAX_MARKDOWN_CHARS",
    "RENDERER",
    "has_hidden",
    "pygments_css",
    "render_markdown",
    "reveal_hidden",
    "reveal_hidden_text",
    "sanitize",
    "split_frontmatter",
]

# No file of a valid package is larger, so only what is not a package file (or a hostile one) is
# cut. markdown-it-py needs up to ~10 µs a character on adversarial input ("[[[[…", "*a*a…"): about
# 5 s at this size, so callers should cache by content digest rather than render on every view.
MAX_MARKDOWN_CHARS = MAX_FILE_BYTES
# Pygments' regex lexers are fast on code but a hostile block can be slow, so big blocks (and
# everything past a per-document budget) are shown plain.
MAX_HIGHLIGHT_CHARS = 200_000
HIGHLIGHT_BUDGET_CHARS = 500_000
# Package content must not be able to name (and so clobber) the page's own elements.
ID_PREFIX = "md-"
LIGHT_STYLE = "default"  # both keep every token at WCAG AA contrast (4.5:1) on their background
DARK_STYLE = "github-dark"

# Stored HTML is used only while it was made by this renderer: change the number whenever the
# output changes, and a library's new release (which may change it too) is part of the mark.
RENDERER_REVISION = 1
RENDERER = (
    f"{RENDERER_REVISION}; markdown-it-py {markdown_it.__version__}; nh3 {nh3.__version__}; "
    f"pygments {pygments.__version__}"
)

LINK_SCHEMES = frozenset({"http", "https", "mailto"})
IMAGE_SCHEMES = frozenset({"http", "https"})
LINK_REL = "nofollow noopener ugc"

_FRONTMATTER = re.compile(r"\A---[ \t]*\r?\n(?P<front>|.*?\r?\n)---[ \t]*(?:\r?\n|\Z)", re.DOTALL)
# What a browser ignores around and inside a URL (WHATWG URL parsing), and a scheme as it sees it.
_URL_TRIM = "".join(chr(c) for c in range(0x21))
_URL_DROP = re.compile(r"[\t\n\r]")
_SCHEME = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*):")
_SLUG_DROP = re.compile(r"[^\w\- ]")
_KEYCAP = "0123456789#*"


# -- hidden characters ---------------------------------------------------------------------------


def _emoji(char: str) -> bool:
    return bool(char) and unicodedata.category(char) == "So"


def _benign(text: str, index: int) -> bool:
    """Whether the hidden character at index is an ordinary part of an emoji: one presentation
    selector after a symbol (❤️, 1️⃣) or a joiner between two (👩‍💻). They carry nothing and flagging them
    would bury the real cases; runs of selectors (how bytes are smuggled) are never benign."""
    char = text[index]
    before = text[index - 1] if index else ""
    after = text[index + 1] if index + 1 < len(text) else ""
    if char in "\ufe0e\ufe0f":
        return _emoji(before) or (before != "" and before in _KEYCAP and after == "\u20e3")
    if char == "\u200d":
        skin_tone = before != "" and 0x1F3FB <= ord(before) <= 0x1F3FF
        return (_emoji(before) or skin_tone or (before == "\ufe0f" and _benign(text, index - 1))) and _emoji(after)
    return False


def _marker(char: str) -> str:
    return f"⟨U+{ord(char):04X}⟩"


def _replace_hidden(text: str, replace: Callable[[str], str]) -> str:
    out: list[str] = []
    last = 0
    for match in HIDDEN.finditer(text):
        for index in range(match.start(), match.end()):
            if not _benign(text, index):
                out.append(text[last:index])
                out.append(replace(text[index]))
                last = index + 1
    if not out:
        return text
    out.append(text[last:])
    return "".join(out)


def _span(char: str) -> str:
    return f'<span class="hidden-char">{_marker(char)}</span>'


def has_hidden(text: str) -> bool:
    """Whether text has a hidden character that the portal would reveal."""
    return any(
        not _benign(text, index) for match in HIDDEN.finditer(text) for index in range(match.start(), match.end())
    )


def reveal_hidden(text: str) -> str:
    """Plain text (a name, a description) as HTML: escaped, each hidden character shown as a
    `<span class="hidden-char">⟨U+202E⟩</span>`. Safe to mark as Markup."""
    return _replace_hidden(html.escape(text, quote=True), _span)


def reveal_hidden_text(text: str) -> str:
    """Plain text with each hidden character replaced by `⟨U+202E⟩`, still plain text: for places
    where markup cannot go (attributes, SVG, titles). Escape it as usual."""
    return _replace_hidden(text, _marker)


def _escape(text: str) -> str:
    return _replace_hidden(html.escape(text, quote=True), _span)


# -- frontmatter ---------------------------------------------------------------------------------


def split_frontmatter(text: str) -> tuple[str, str]:
    """(frontmatter, body): the text between a leading `---` line and the next `---` line, and the
    rest. ('', text) when the text does not open with a closed frontmatter block."""
    match = _FRONTMATTER.match(text.removeprefix("\ufeff"))
    if match is None:
        return "", text
    return match.group("front").rstrip("\r\n"), text.removeprefix("\ufeff")[match.end() :]


# -- URLs ----------------------------------------------------------------------------------------


def _browser_view(url: str) -> str:
    """The URL as a browser reads it: control characters and spaces around it trimmed, tabs and
    newlines inside it dropped, backslashes as slashes (http and https pages)."""
    return _URL_DROP.sub("", url.strip(_URL_TRIM)).replace("\\", "/")


def _scheme(url: str) -> str | None:
    match = _SCHEME.match(_browser_view(url))
    return match.group(1).lower() if match else None


def _validate_link(url: str) -> bool:
    """markdown-it's gate: what is not a link stays text. data: passes so that data images can be
    dropped whole (rather than shown as a screenful of base64); the renderer never links to one.
    markdown-it hands over the URL percent-encoded, so `java&#9;script:` arrives as
    `java%09script:`: harmless to a browser (a relative path), but only ever written to disguise a
    script URL, so the decoded form must pass too."""
    for seen in (url, unquote(url)):
        scheme = _scheme(seen)
        if not (scheme is None or scheme in LINK_SCHEMES or scheme == "data"):
            return False
    return True


def _relative_url(link_base: str | None, url: str) -> str | None:
    """nh3 hands us every URL without a scheme. `//host` (or `/\\host`, `\\\\host`) has no scheme
    yet leads to another site, so it is made explicitly https rather than joined to link_base."""
    seen = _browser_view(url)
    if seen.startswith("//"):
        return "https:" + seen
    if seen.startswith("#"):
        fragment = seen[1:]
        return seen if not fragment or fragment.startswith(ID_PREFIX) else f"#{ID_PREFIX}{fragment}"
    if link_base:
        return urljoin(link_base, seen)
    return seen


# -- sanitising ----------------------------------------------------------------------------------


@functools.cache
def _token_classes() -> frozenset[str]:
    from pygments.token import STANDARD_TYPES

    return frozenset(name for name in STANDARD_TYPES.values() if name)


_TAGS = frozenset(
    {"h1", "h2", "h3", "h4", "h5", "h6", "p", "br", "hr", "blockquote", "ul", "ol", "li", "pre", "code", "span"}
    | {"a", "em", "strong", "del", "s", "table", "thead", "tbody", "tr", "th", "td", "details", "summary"}
)
_CLEAN_CONTENT = frozenset({"script", "style", "template", "noscript", "iframe", "object", "svg", "math", "title"})


@functools.lru_cache(maxsize=256)
def _cleaner(link_base: str | None) -> nh3.Cleaner:
    align = {"align": {"left", "center", "right"}}
    return nh3.Cleaner(
        tags=set(_TAGS),
        clean_content_tags=set(_CLEAN_CONTENT),
        attributes={
            "a": {"href", "title"},
            "ol": {"start"},
            **{f"h{level}": {"id"} for level in range(1, 7)},
        },
        tag_attribute_values={"th": align, "td": align},
        allowed_classes={
            "span": {"hidden-char", *_token_classes()},
            "pre": {"highlight"},
            "p": {"notice"},
        },
        url_schemes=set(LINK_SCHEMES),
        url_relative=functools.partial(_relative_url, link_base),
        link_rel=LINK_REL,
        id_prefix=ID_PREFIX,
        strip_comments=True,
    )


def sanitize(fragment: str, *, link_base: str | None = None) -> str:
    """Any HTML fragment through the same allowlist render_markdown ends with: no scripts, styles,
    event handlers, images or frames; http, https and mailto links only, all `rel="nofollow
    noopener ugc"`; ids only on headings and prefixed `md-`; hidden characters revealed."""
    cleaned = _cleaner(link_base).clean(fragment)
    # Hidden characters that reached an attribute (a link title) cannot become a span there.
    return _replace_hidden(cleaned, _marker)


# -- rendering -----------------------------------------------------------------------------------


@dataclass
class _State:
    slugs: dict[str, int] = field(default_factory=dict)  # slug -> how many times it was asked for
    links: list[bool] = field(default_factory=list)  # per open link: whether we emitted an <a>
    highlight_left: int = HIGHLIGHT_BUDGET_CHARS

    def unique(self, slug: str) -> str:
        # Counting per slug keeps thousands of equal headings linear; the loop only steps over a
        # heading that is itself literally called "x-1".
        candidate = slug
        while candidate in self.slugs:
            self.slugs[slug] += 1
            candidate = f"{slug}-{self.slugs[slug]}"
        self.slugs[candidate] = 0
        return candidate


def _state(env: EnvType) -> _State:
    state = env.get("rigging")
    if not isinstance(state, _State):
        state = env["rigging"] = _State()
    return state


def _slug(text: str) -> str:
    """GitHub's heading anchors (lower case, punctuation dropped, each space a hyphen), so links
    written for GitHub find their heading here too, under our prefix."""
    slug = _SLUG_DROP.sub("", HIDDEN.sub("", text).strip().lower()).replace(" ", "-")[:80]
    return ID_PREFIX + (slug or "section")


@functools.cache
def _formatter() -> HtmlFormatter:
    from pygments.formatters.html import HtmlFormatter

    return HtmlFormatter(nowrap=True)


def _highlight(code: str, language: str, state: _State) -> str | None:
    if not language or len(code) > MAX_HIGHLIGHT_CHARS or len(code) > state.highlight_left:
        return None
    from pygments import highlight
    from pygments.lexers import get_lexer_by_name
    from pygments.util import ClassNotFound

    try:
        # By name only: guessing from content would run every lexer's analyser on hostile text.
        lexer = get_lexer_by_name(language, stripnl=False)
    except ClassNotFound:
        return None
    state.highlight_left -= len(code)
    # Pygments escapes the code and writes only class attributes, so spans can go into its text.
    return _replace_hidden(highlight(code, lexer, _formatter()), _span)


class _SafeRenderer(RendererHTML):
    """markdown-it's HTML renderer with every rule that writes package text or URLs overridden."""

    def text(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        return _escape(tokens[idx].content)

    def code_inline(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        return f"<code>{_escape(tokens[idx].content)}</code>"

    def code_block(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        return f"<pre><code>{_escape(tokens[idx].content)}</code></pre>\n"

    def fence(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        token = tokens[idx]
        info = unescapeAll(token.info).strip()
        language = info.split(maxsplit=1)[0] if info else ""
        highlighted = _highlight(token.content, language, _state(env))
        if highlighted is None:
            return f"<pre><code>{_escape(token.content)}</code></pre>\n"
        return f'<pre class="highlight"><code>{highlighted}</code></pre>\n'

    # With html off markdown-it never makes these; should that ever change, markup stays text.
    def html_block(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        return f"<p>{_escape(tokens[idx].content)}</p>\n"

    def html_inline(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        return _escape(tokens[idx].content)

    def heading_open(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        inline = tokens[idx + 1] if idx + 1 < len(tokens) else None
        words = (
            "".join(child.content for child in (inline.children or []) if child.type in ("text", "code_inline"))
            if inline
            else ""
        )
        tokens[idx].attrSet("id", _state(env).unique(_slug(words)))
        return self.renderToken(tokens, idx, options, env)

    def th_open(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        return self._cell(tokens, idx, options, env)

    def td_open(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        return self._cell(tokens, idx, options, env)

    def _cell(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        # markdown-it aligns cells with style="text-align:…", which our CSP would refuse.
        style = str(tokens[idx].attrs.pop("style", ""))
        if style.startswith("text-align:"):
            tokens[idx].attrSet("align", style.removeprefix("text-align:"))
        return self.renderToken(tokens, idx, options, env)

    def link_open(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        scheme = _scheme(str(tokens[idx].attrGet("href") or ""))
        linked = scheme is None or scheme in LINK_SCHEMES
        _state(env).links.append(linked)
        return self.renderToken(tokens, idx, options, env) if linked else ""

    def link_close(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        links = _state(env).links
        linked = links.pop() if links else True
        return self.renderToken(tokens, idx, options, env) if linked else ""

    def image(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        token = tokens[idx]
        alt = self.renderInlineAsText(token.children, options, env).strip()
        label = _escape(f"[image: {alt}]" if alt else "[image]")
        src = str(token.attrGet("src") or "")
        scheme = _scheme(src)
        # A link inside a link is invalid HTML; data: URLs are never offered, not even as links.
        if any(_state(env).links) or not (scheme is None or scheme in IMAGE_SCHEMES):
            return label
        return f'<a href="{html.escape(src, quote=True)}">{label}</a>'


@functools.cache
def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False}, renderer_cls=_SafeRenderer).enable(["table", "strikethrough"])
    md.validateLink = _validate_link  # type: ignore[method-assign]
    return md


def _truncate(text: str) -> tuple[str, bool]:
    if len(text) <= MAX_MARKDOWN_CHARS:
        return text, False
    cut = text.rfind("\n", 0, MAX_MARKDOWN_CHARS)
    return text[: cut if cut > MAX_MARKDOWN_CHARS // 2 else MAX_MARKDOWN_CHARS], True


def render_markdown(text: str, *, link_base: str | None = None) -> str:
    """Untrusted Markdown as sanitised HTML. A leading frontmatter block is left out (pages show it
    themselves); relative links are resolved against link_base (end it with `/` for a folder) or
    left relative; past MAX_MARKDOWN_CHARS the text is cut, with a notice."""
    _, body = split_frontmatter(text.removeprefix("\ufeff"))
    body, truncated = _truncate(body)
    rendered = _markdown().render(body, {"rigging": _State()})
    if truncated:
        notice = (
            f'<p class="notice">This document is longer than {MAX_MARKDOWN_CHARS:,} characters; '
            "only its beginning is shown.</p>\n"
        )
        rendered = notice + rendered
    return sanitize(rendered, link_base=link_base)


@functools.cache
def pygments_css() -> str:
    """The stylesheet for highlighted code (`pre.highlight`): a light theme, and a dark one for the
    system's dark mode (unless the page chose light) or `data-theme=dark` on the root element,
    matching how portal.css switches its colours. Also the alignment of Markdown table cells."""
    from pygments.formatters.html import HtmlFormatter

    def rules(style: str, selector: str) -> list[str]:
        formatter = HtmlFormatter(style=style)
        # Not get_style_defs(): it adds unscoped `pre` and line-number rules for the whole page.
        return [*formatter.get_background_style_defs(selector), *formatter.get_token_style_defs(selector)]

    light = rules(LIGHT_STYLE, ".highlight")
    media_dark = rules(DARK_STYLE, ":root:not([data-theme=light]) .highlight")
    forced_dark = rules(DARK_STYLE, ":root[data-theme=dark] .highlight")
    return "\n".join(
        [
            f"/* Code highlighting: Pygments {LIGHT_STYLE!r} (light) and {DARK_STYLE!r} (dark). */",
            *light,
            "@media (prefers-color-scheme: dark) {",
            *(f"  {line}" for line in media_dark),
            "}",
            *forced_dark,
            # Table cells are aligned with the align attribute (style attributes would break the
            # CSP); these outrank a page-wide `th, td { text-align: left }`.
            *(f"th[align={side}], td[align={side}] {{ text-align: {side}; }}" for side in ("left", "center", "right")),
            "",
        ]
    )
