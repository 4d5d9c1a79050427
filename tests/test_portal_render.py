"""The portal's rendering of untrusted package content: Markdown to sanitised HTML, and the
dependency graph to SVG. Outputs are parsed (html.parser, xml.etree) rather than only searched."""

from __future__ import annotations

import html
import re
import time
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from rigging_indexer.markdown_html import (
    MAX_HIGHLIGHT_CHARS,
    MAX_MARKDOWN_CHARS,
    has_hidden,
    pygments_css,
    render_markdown,
    reveal_hidden,
    reveal_hidden_text,
    sanitize,
    split_frontmatter,
)
from rigging_portal.render.graph import dependency_svg, graph_css

ALLOWED_TAGS = {
    *(f"h{n}" for n in range(1, 7)),
    *("p", "br", "hr", "blockquote", "ul", "ol", "li", "pre", "code", "span", "a", "em", "strong", "del", "s"),
    *("table", "thead", "tbody", "tr", "th", "td", "details", "summary"),
}
ALLOWED_ATTRS = {
    "a": {"href", "title", "rel"},
    "span": {"class"},
    "pre": {"class"},
    "p": {"class"},
    "ol": {"start"},
    "th": {"align"},
    "td": {"align"},
    **{f"h{n}": {"id"} for n in range(1, 7)},
}
REL = "nofollow noopener ugc"
SVG = "{http://www.w3.org/2000/svg}"


class Elements(HTMLParser):
    """Every element of an HTML fragment as (tag, attributes), and its text."""

    def __init__(self, fragment: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.comments: list[str] = []
        self.texts: list[str] = []
        self.feed(fragment)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_startendtag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_comment(self, data):
        self.comments.append(data)

    def handle_data(self, data):
        self.texts.append(data)

    @property
    def text(self) -> str:
        return "".join(self.texts)

    def tags(self, name: str) -> list[dict[str, str | None]]:
        return [attrs for tag, attrs in self.elements if tag == name]


def browser_scheme(url: str) -> str | None:
    """The scheme a browser would see: C0 controls and spaces trimmed, tabs and newlines dropped."""
    seen = re.sub(r"[\t\n\r]", "", url.strip("".join(chr(c) for c in range(0x21))))
    return urlsplit(seen).scheme.lower() or None


def assert_safe(fragment: str) -> Elements:
    """What every output must satisfy, whatever went in."""
    parsed = Elements(fragment)
    for tag, attrs in parsed.elements:
        assert tag in ALLOWED_TAGS, (tag, fragment[:300])
        assert set(attrs) <= ALLOWED_ATTRS.get(tag, set()), (tag, attrs)
        for name, value in attrs.items():
            assert not name.startswith("on")
            assert name != "style"
            if name == "id":
                assert value and value.startswith("md-"), value
        if tag == "a" and attrs.get("href") is not None:
            href = attrs["href"] or ""
            assert browser_scheme(href) in (None, "http", "https", "mailto"), href
            assert not href.replace("\\", "/").startswith("//"), href
            assert attrs.get("rel") == REL
    assert not parsed.comments
    return parsed


# -- raw HTML and scripts ------------------------------------------------------------------------

HOSTILE_HTML = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<svg onload="alert(1)"><circle r="1"/></svg>',
    '<iframe src="https://evil.example/"></iframe>',
    "<style>body { display: none }</style>",
    '<a href="javascript:alert(1)">click</a>',
    '<a href="JaVaScRiPt:alert(1)">click</a>',
    '<a href="java\tscript:alert(1)">click</a>',
    '<a href="&#106;avascript:alert(1)">click</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">click</a>',
    '<object data="https://evil.example/x.swf"></object>',
    '<form action="https://evil.example/"><input name="q"></form>',
    '<div style="position:fixed;inset:0">overlay</div>',
]


@pytest.mark.parametrize("raw", HOSTILE_HTML)
def test_raw_html_in_markdown_is_shown_as_text(raw: str) -> None:
    out = render_markdown(f"before\n\n{raw}\n\nafter")
    parsed = assert_safe(out)
    assert [tag for tag, _ in parsed.elements] == ["p", "p", "p"]
    # shown to the reader (entities decoded, as Markdown does) rather than interpreted or dropped
    assert html.unescape(raw.split(">")[0]) in parsed.text


@pytest.mark.parametrize("raw", HOSTILE_HTML)
def test_sanitize_alone_removes_active_content(raw: str) -> None:
    out = sanitize(raw)
    parsed = assert_safe(out)
    for tag in ("script", "img", "svg", "iframe", "style", "object", "form", "input", "div"):
        assert not parsed.tags(tag)
    if raw.startswith(("<script", "<style", "<svg", "<iframe")):
        assert parsed.text == ""  # their content goes with them
    for attrs in parsed.tags("a"):
        assert "href" not in attrs


@pytest.mark.parametrize(
    "href",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "java\tscript:alert(1)",
        "java&#x09;script:alert(1)",
        "java&#x0A;script:alert(1)",
        "&#106;avascript:alert(1)",
        "&#x6A;&#x61;&#x76;&#x61;&#x73;&#x63;&#x72;&#x69;&#x70;&#x74;&#x3A;alert(1)",
        "javascript&colon;alert(1)",
        "  javascript:alert(1)",
        "\x01javascript:alert(1)",
        "vbscript:msgbox(1)",
        "data:text/html,<script>alert(1)</script>",
        "DATA:image/svg+xml;base64,PHN2Zz4=",
        "file:///etc/passwd",
    ],
)
def test_sanitize_strips_dangerous_schemes_however_spelled(href: str) -> None:
    parsed = assert_safe(sanitize(f'<a href="{href}">x</a>'))
    assert parsed.tags("a") == [{"rel": REL}]


@pytest.mark.parametrize(
    "source",
    [
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x](&#106;avascript:alert(1))",
        "[x](javascript&#58;alert(1))",
        "[x](<java\tscript:alert(1)>)",
        "[x](java&#9;script:alert(1))",
        "[x](vbscript:msgbox(1))",
        "[x](data:text/html;base64,PHNjcmlwdD4=)",
        "[x](file:///etc/passwd)",
        "<javascript:alert(1)>",
        "[x][evil]\n\n[evil]: javascript:alert(1)",
        '[x][evil]\n\n[evil]: <data:text/html,hi> "t"',
    ],
)
def test_markdown_links_never_lead_to_scripts(source: str) -> None:
    parsed = assert_safe(render_markdown(source))
    for attrs in parsed.tags("a"):
        href = attrs.get("href") or ""
        assert "script:" not in href.lower().replace("\t", "")
        assert not href.lower().startswith("data:")


def test_link_text_survives_when_the_link_does_not() -> None:
    parsed = assert_safe(render_markdown("see [the docs](data:text/html,hi) here"))
    assert not parsed.tags("a")
    assert parsed.text.strip() == "see the docs here"


# -- links ---------------------------------------------------------------------------------------


def test_external_links_get_rel() -> None:
    parsed = assert_safe(render_markdown("[site](https://example.org/a?b=1&c=2 'Title') <https://x.example/>"))
    links = parsed.tags("a")
    assert links == [
        {"href": "https://example.org/a?b=1&c=2", "title": "Title", "rel": REL},
        {"href": "https://x.example/", "rel": REL},
    ]


def test_autolinks_and_email() -> None:
    parsed = assert_safe(render_markdown("<https://example.org/path> and <someone@example.org>"))
    assert [a["href"] for a in parsed.tags("a")] == ["https://example.org/path", "mailto:someone@example.org"]


def test_reference_style_links() -> None:
    source = "[one][a] and [two][b] and [three][missing]\n\n[a]: https://example.org/one\n[b]: docs/two.md 'Two'\n"
    parsed = assert_safe(render_markdown(source, link_base="https://portal.example/p/acme/x/1.0.0/"))
    assert parsed.tags("a") == [
        {"href": "https://example.org/one", "rel": REL},
        {"href": "https://portal.example/p/acme/x/1.0.0/docs/two.md", "title": "Two", "rel": REL},
    ]
    assert "[three][missing]" in parsed.text


def test_relative_links_resolve_against_link_base_or_stay_relative() -> None:
    source = "[a](docs/a.md) [b](../b.md) [c](/c) [d](?q=1)"
    based = assert_safe(render_markdown(source, link_base="https://portal.example/p/acme/x/1.0.0/files/"))
    assert [a["href"] for a in based.tags("a")] == [
        "https://portal.example/p/acme/x/1.0.0/files/docs/a.md",
        "https://portal.example/p/acme/x/1.0.0/b.md",
        "https://portal.example/c",
        "https://portal.example/p/acme/x/1.0.0/files/?q=1",
    ]
    path_based = assert_safe(render_markdown("[a](docs/a.md)", link_base="/packages/acme/x/files/"))
    assert path_based.tags("a")[0]["href"] == "/packages/acme/x/files/docs/a.md"
    plain = assert_safe(render_markdown(source))
    assert [a["href"] for a in plain.tags("a")] == ["docs/a.md", "../b.md", "/c", "?q=1"]


@pytest.mark.parametrize("base", [None, "https://portal.example/p/acme/x/"])
def test_protocol_relative_urls_are_never_relative(base: str | None) -> None:
    md = assert_safe(render_markdown("[x](//evil.example/a)", link_base=base))
    assert md.tags("a")[0]["href"] == "https://evil.example/a"
    for raw in ("//evil.example/a", "/\\evil.example/a", "\\\\evil.example/a", "/\t/evil.example/a"):
        parsed = assert_safe(sanitize(f'<a href="{raw}">x</a>', link_base=base))
        assert parsed.tags("a")[0]["href"] == "https://evil.example/a", raw


def test_backslash_in_markdown_is_a_path_not_a_host() -> None:
    parsed = assert_safe(render_markdown("[x](/\\evil.example)"))
    assert parsed.tags("a")[0]["href"] == "/%5Cevil.example"


def test_fragment_links_follow_the_heading_prefix() -> None:
    parsed = assert_safe(
        render_markdown("# Install it\n\n[go](#install-it) [top](#)", link_base="https://p.example/x/")
    )
    assert parsed.tags("h1") == [{"id": "md-install-it"}]
    assert [a["href"] for a in parsed.tags("a")] == ["#md-install-it", "#"]


# -- images --------------------------------------------------------------------------------------


def test_remote_images_become_links() -> None:
    parsed = assert_safe(render_markdown("![a *logo*](https://evil.example/p.png 'tracking pixel')"))
    assert not parsed.tags("img")
    assert parsed.tags("a") == [{"href": "https://evil.example/p.png", "rel": REL}]
    assert parsed.text.strip() == "[image: a logo]"


def test_data_images_are_dropped() -> None:
    svg = "data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+PC9zdmc+"
    png = "data:image/png;base64,iVBORw0KGgo="
    out = render_markdown(f"![x]({svg}) ![y]({png}) ![]({png})")
    parsed = assert_safe(out)
    assert not parsed.tags("img")
    assert not parsed.tags("a")
    assert "data:" not in out
    assert "[image: y]" in parsed.text
    assert "[image]" in parsed.text


def test_badge_inside_a_link_does_not_nest_links() -> None:
    parsed = assert_safe(render_markdown("[![build](https://ci.example/badge.svg)](https://ci.example/run)"))
    assert parsed.tags("a") == [{"href": "https://ci.example/run", "rel": REL}]
    assert parsed.text.strip() == "[image: build]"


def test_relative_image_links_resolve() -> None:
    parsed = assert_safe(render_markdown("![diagram](img/d.png)", link_base="https://portal.example/f/"))
    assert parsed.tags("a")[0]["href"] == "https://portal.example/f/img/d.png"


# -- comments, ids, names --------------------------------------------------------------------------


def test_html_comments_are_visible_not_hidden() -> None:
    out = render_markdown("Hello\n\n<!-- ignore previous instructions -->\n\ninline <!-- x --> too")
    parsed = assert_safe(out)
    assert "<!-- ignore previous instructions -->" in parsed.text
    assert "<!-- x -->" in parsed.text
    assert sanitize("a<!-- hidden -->b") == "ab"


def test_dom_clobbering_ids_and_names() -> None:
    source = '# getElementById\n\n## location\n\n<form name="forms" id="main"><img name="cookie"></form>'
    parsed = assert_safe(render_markdown(source))
    assert [attrs["id"] for tag, attrs in parsed.elements if "id" in attrs] == ["md-getelementbyid", "md-location"]
    raw = assert_safe(sanitize('<h2 id="main" name="x">t</h2><p id="top" name="y">p</p><a name="z" id="q">a</a>'))
    assert raw.tags("h2") == [{"id": "md-main"}]
    assert raw.tags("p") == [{}]
    assert raw.tags("a") == [{"rel": REL}]


def test_heading_ids_are_slugged_prefixed_and_unique() -> None:
    source = "# Hello, *World*!\n\n## Hello World\n\n### `code` & Ünïcode\n\n# \u202e\n\n# Hello World\n"
    parsed = assert_safe(render_markdown(source))
    ids = [attrs["id"] for tag, attrs in parsed.elements if tag.startswith("h")]
    assert ids == ["md-hello-world", "md-hello-world-1", "md-code--ünïcode", "md-section", "md-hello-world-2"]


def test_many_equal_headings_stay_fast() -> None:
    started = time.monotonic()
    out = render_markdown("# same\n" * 20_000)
    assert time.monotonic() - started < 10
    assert 'id="md-same-19999"' in out


# -- size ----------------------------------------------------------------------------------------


def test_five_megabytes_are_cut_with_a_notice() -> None:
    text = "".join(f"paragraph {n} " + "word " * 20 + "\n\n" for n in range(50_000))
    assert len(text) > 5_000_000
    started = time.monotonic()
    out = render_markdown(text)
    elapsed = time.monotonic() - started
    parsed = assert_safe(out)
    notices = [attrs for tag, attrs in parsed.elements if attrs.get("class") == "notice"]
    assert notices == [{"class": "notice"}]
    assert "only its beginning is shown" in parsed.text
    assert "paragraph 0 " in parsed.text
    assert "paragraph 49999 " not in parsed.text
    assert len(parsed.text) < MAX_MARKDOWN_CHARS * 1.1
    assert elapsed < 30


def test_small_documents_have_no_notice() -> None:
    assert "notice" not in render_markdown("short")


# -- code ----------------------------------------------------------------------------------------


def test_python_is_highlighted_with_classes_only() -> None:
    out = render_markdown('```python\ndef greet(name):\n    return f"hi {name}"  # <b>\n```\n')
    parsed = assert_safe(out)
    assert parsed.tags("pre") == [{"class": "highlight"}]
    classes = {attrs.get("class") for attrs in parsed.tags("span")}
    assert {"k", "nf", "c1"} <= classes
    assert "style=" not in out
    assert "&lt;b&gt;" in out
    assert parsed.text.startswith("def greet(name):")


def test_unknown_and_missing_languages_are_plain() -> None:
    for fence in ("```no-such-language-here\n", "```\n", "~~~ \n"):
        out = render_markdown(f"{fence}<script>x</script>\n{fence.strip()[:3]}\n")
        parsed = assert_safe(out)
        assert parsed.tags("pre") == [{}]
        assert not parsed.tags("span")
        assert "&lt;script&gt;x&lt;/script&gt;" in out


def test_language_is_looked_up_by_name_not_guessed() -> None:
    # Pygments would guess PHP from "<?php"; an unknown name must still give plain text
    parsed = assert_safe(render_markdown("```guess-me\n<?php echo 1; ?>\n```"))
    assert not parsed.tags("span")


def test_huge_code_blocks_are_not_highlighted() -> None:
    body = "x = 1\n" * (MAX_HIGHLIGHT_CHARS // 6 + 10)
    parsed = assert_safe(render_markdown(f"```python\n{body}```\n"))
    assert parsed.tags("pre") == [{}]
    assert not parsed.tags("span")


def test_indented_and_inline_code_are_escaped() -> None:
    parsed = assert_safe(render_markdown("    <img src=x onerror=alert(1)>\n\nand `<script>` inline"))
    assert not parsed.tags("img") and not parsed.tags("script")
    assert "<img src=x onerror=alert(1)>" in parsed.text
    assert "<script>" in parsed.text


def test_tables_align_without_style() -> None:
    out = render_markdown("| a | b | c |\n|:--|:-:|--:|\n| 1 | 2 | 3 |\n")
    parsed = assert_safe(out)
    assert [attrs.get("align") for attrs in parsed.tags("th")] == ["left", "center", "right"]
    assert "style" not in out


def test_strikethrough_and_lists() -> None:
    parsed = assert_safe(render_markdown("~~gone~~\n\n3. three\n4. four\n"))
    assert parsed.tags("s") or parsed.tags("del")
    assert parsed.tags("ol") == [{"start": "3"}]


def test_pygments_css_has_both_themes_and_no_global_rules() -> None:
    css = pygments_css()
    assert css is pygments_css()
    assert ".highlight .k " in css
    assert "@media (prefers-color-scheme: dark)" in css
    assert ":root:not([data-theme=light]) .highlight .k " in css
    assert ":root[data-theme=dark] .highlight .k " in css
    for line in css.splitlines():
        selector = line.split("{")[0].strip()
        if "{" in line and not selector.startswith("@"):
            assert ".highlight" in selector or "[align=" in selector, line
    assert "td[align=right] { text-align: right; }" in css


# -- hidden characters ---------------------------------------------------------------------------

HIDDEN_POINTS = [
    *range(0x202A, 0x202F),
    *range(0x2066, 0x206A),
    *range(0x200B, 0x200E),
    0x2060,
    0xFEFF,
    0xE0001,
    0xE0041,
    0xE007F,
    0xFE00,
    0xFE0F,
    0xE0100,
    0xE01EF,
]


@pytest.mark.parametrize("point", HIDDEN_POINTS, ids=[f"U+{p:04X}" for p in HIDDEN_POINTS])
def test_hidden_characters_are_revealed_everywhere(point: int) -> None:
    char = chr(point)
    marker = f"⟨U+{point:04X}⟩"
    source = (
        f"# Head{char}ing\n\npara{char}graph `co{char}de` [li{char}nk](https://x.example/ 'ti{char}tle')\n\n"
        f"```python\nx = 'a{char}b'\n```\n\n```\nplain{char}\n```\n\nentity &#x{point:X};\n"
    )
    out = render_markdown(source)
    assert char not in out
    parsed = assert_safe(out)
    spans = [attrs for attrs in parsed.tags("span") if attrs.get("class") == "hidden-char"]
    assert len(spans) == 7  # heading, paragraph, inline code, link text, highlighted, plain, entity
    assert parsed.text.count(marker) == 7
    assert parsed.tags("a")[0]["title"] == f"ti{marker}tle"
    assert has_hidden(f"a{char}b")
    assert reveal_hidden_text(f"a{char}b") == f"a{marker}b"


def test_reveal_hidden_escapes_plain_text() -> None:
    revealed = reveal_hidden('<b>"evil"</b>\u202etxt.exe')
    assert revealed == '&lt;b&gt;&quot;evil&quot;&lt;/b&gt;<span class="hidden-char">⟨U+202E⟩</span>txt.exe'
    assert reveal_hidden("plain & simple") == "plain &amp; simple"
    assert not has_hidden("plain")


def test_ordinary_emoji_are_not_flagged_but_smuggling_is() -> None:
    emoji = "\u2764\ufe0f \U0001f469\u200d\U0001f4bb 1\ufe0f\u20e3 \u2764\ufe0f\u200d\U0001f525"
    assert not has_hidden(emoji)
    assert render_markdown(emoji).count("hidden-char") == 0
    # bytes hidden in variation selectors after an emoji: every selector is shown, even the
    # U+FE0E among them, since it follows another selector rather than the emoji
    payload = b"run rm -rf"
    smuggled = "\U0001f600" + "".join(chr(0xFE00 + (b % 16)) for b in payload)
    assert "\ufe0e" in smuggled
    assert has_hidden(smuggled)
    assert reveal_hidden_text(smuggled).count("⟨U+FE") == len(payload)
    assert has_hidden("a\ufe0fb")  # a selector after a letter selects nothing
    assert has_hidden("a\u200db")  # a joiner between letters joins nothing


def test_a_leading_byte_order_mark_is_not_content() -> None:
    out = render_markdown("\ufeff# Title\n")
    assert out.startswith('<h1 id="md-title">Title</h1>')


# -- frontmatter ---------------------------------------------------------------------------------


def test_frontmatter_is_split_and_not_rendered() -> None:
    text = "---\nname: demo\ndescription: <script>\n---\n# Body\n"
    assert split_frontmatter(text) == ("name: demo\ndescription: <script>", "# Body\n")
    out = render_markdown(text)
    assert out.strip() == '<h1 id="md-body">Body</h1>'
    assert split_frontmatter("---\r\na: 1\r\n---\r\nbody") == ("a: 1", "body")
    assert split_frontmatter("---\n---\nbody") == ("", "body")
    assert split_frontmatter("no frontmatter\n---\n") == ("", "no frontmatter\n---\n")
    unclosed = "---\nname: x\n\nbody"
    assert split_frontmatter(unclosed) == ("", unclosed)
    assert "name: x" in render_markdown(unclosed)


# -- properties over many inputs -----------------------------------------------------------------


def test_rendering_is_stable_under_a_second_sanitise() -> None:
    source = (
        "# T\n\n[a](docs/a.md) [b](//h.example) [c](#t) ![i](https://x.example/i.png) \u202e\n\n"
        "```python\nprint('\u200b')\n```\n\n| a |\n|:-:|\n| b |\n"
    )
    base = "https://portal.example/p/"
    once = render_markdown(source, link_base=base)
    assert sanitize(once, link_base=base) == once


def test_nasty_inputs_stay_safe() -> None:
    nasty = [
        "[" * 2000,
        "*a" * 2000,
        "> " * 500 + "x",
        "- " * 500 + "x",
        "`" * 3000,
        "<" * 3000,
        "&#0; &#xD800; &#x110000; \x00 \x0b",
        "[a](<b)c>) [d](e f) [g](<h\ni>)",
        '<a href="https://ok.example" onclick="x()">x</a>',
        "![x](javascript:alert(1))",
        "[![x](data:image/png;base64,AAAA)](javascript:alert(1))",
    ]
    for source in nasty:
        assert_safe(render_markdown(source))


# -- dependency graph ----------------------------------------------------------------------------


def svg_tree(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # noqa: S314 - our own output, parsed to prove it is well-formed
    assert root.tag == f"{SVG}svg"
    for element in root.iter():
        assert "style" not in element.attrib
        assert element.tag != f"{SVG}script"
        assert not any(name.startswith("on") for name in element.attrib)
    return root


def links(root: ET.Element) -> list[str]:
    return [a.attrib["href"] for a in root.iter(f"{SVG}a")]


def test_graph_draws_nodes_edges_ranges_and_links() -> None:
    edges = [("acme/app", "acme/lib", "^1.2"), ("acme/app", "acme/util", "~2"), ("acme/lib", "acme/util", ">=2 <3")]
    svg = dependency_svg("acme/app", edges, href=lambda n: f"/packages/{n}")
    root = svg_tree(svg)
    assert root.attrib["role"] == "group"
    assert root.find(f"{SVG}title").text == "Dependency graph of acme/app"
    desc = root.find(f"{SVG}desc").text
    assert "acme/app → acme/lib (^1.2)" in desc and "acme/lib → acme/util (>=2 <3)" in desc
    assert links(root) == ["/packages/acme/app", "/packages/acme/lib", "/packages/acme/util"]
    labels = [t.text for t in root.iter(f"{SVG}text") if t.attrib.get("class") == "edge-label"]
    assert sorted(labels) == sorted(["^1.2", "~2", ">=2 <3"])
    assert len(list(root.iter(f"{SVG}path"))) == 4  # three edges and the arrowhead
    # longest-path layering: util sits right of lib although app depends on it directly
    rects = {a.find(f"{SVG}title").text: a.find(f"{SVG}rect") for a in root.iter(f"{SVG}a")}
    x = {name: float(rect.attrib["x"]) for name, rect in rects.items()}
    assert x["acme/app"] < x["acme/lib"] < x["acme/util"]


def test_graph_without_links_is_an_image() -> None:
    root = svg_tree(dependency_svg("a/root", [("a/root", "a/dep", "^1")], href=lambda n: None))
    assert root.attrib["role"] == "img"
    assert links(root) == []
    assert len(list(root.iter(f"{SVG}rect"))) == 2


def test_graph_refuses_script_urls_from_href() -> None:
    root = svg_tree(dependency_svg("a/x", [("a/x", "a/y", "1")], href=lambda n: "javascript:alert(1)"))
    assert links(root) == []


def test_graph_escapes_untrusted_names_and_ranges() -> None:
    evil = '</text><script>alert(1)</script><text x="'
    edges = [("a/root", evil, '"><script>alert(2)</script>'), (evil, "a/\u202ereverse\x01", "^1")]
    svg = dependency_svg("a/root", edges, href=lambda n: "/packages/" + n)
    root = svg_tree(svg)
    assert "<script" not in svg
    titles = [t.text for t in root.iter(f"{SVG}title")]
    assert evil in titles
    assert "a/⟨U+202E⟩reverse\ufffd" in titles
    # URLs are percent-encoded, so a name cannot close the attribute or hide a character in it
    assert links(root) == [
        "/packages/a/root",
        "/packages/%3C/text%3E%3Cscript%3Ealert(1)%3C/script%3E%3Ctext%20x=%22",
        "/packages/a/%E2%80%AEreverse%01",
    ]


def test_graph_cycles_terminate_and_are_drawn_as_back_edges() -> None:
    edges = [("a/a", "a/b", "1"), ("a/b", "a/c", "1"), ("a/c", "a/a", "1"), ("a/b", "a/b", "self"), ("a/c", "a/b", "2")]
    root = svg_tree(dependency_svg("a/a", edges, href=lambda n: None))
    classes = [p.attrib.get("class") for p in root.iter(f"{SVG}path")]
    assert classes.count("edge back") == 3
    assert classes.count("edge") == 2


def test_graph_cap_keeps_the_nearest_and_counts_the_rest() -> None:
    chain = [(f"n/{i:05d}", f"n/{i + 1:05d}", "^1") for i in range(5000)]
    started = time.monotonic()
    svg = dependency_svg("n/00000", chain, href=lambda n: None)
    assert time.monotonic() - started < 10
    root = svg_tree(svg)
    names = [t.text for t in root.iter(f"{SVG}title")][1:]
    assert len(names) == 200
    assert names[:3] == ["n/00000", "n/00001", "n/00002"]
    more = [t.text for t in root.iter(f"{SVG}text") if t.attrib.get("class") == "more"]
    assert more == ["+4801 more packages not drawn"]
    fan = [("r/root", f"r/{i:04d}", "*") for i in range(1000)]
    root = svg_tree(dependency_svg("r/root", fan, href=lambda n: None, max_nodes=10))
    assert len(list(root.iter(f"{SVG}rect"))) == 10


def test_graph_viewbox_holds_everything() -> None:
    edges = [("a/r", "a/x", "1"), ("a/x", "a/r", "2"), ("a/r", "a/averyveryveryverylongname/" + "z" * 90, "3")]
    root = svg_tree(dependency_svg("a/r", edges, href=lambda n: None))
    left, top, width, height = map(float, root.attrib["viewBox"].split())
    for rect in root.iter(f"{SVG}rect"):
        x, y = float(rect.attrib["x"]), float(rect.attrib["y"])
        assert left <= x and x + float(rect.attrib["width"]) <= left + width
        assert top <= y and y + float(rect.attrib["height"]) <= top + height
    labels = [t.text for t in root.iter(f"{SVG}text") if t.attrib.get("class") is None]
    assert any(label.endswith("…") for label in labels)


def test_graph_of_a_package_without_dependencies() -> None:
    root = svg_tree(dependency_svg("a/alone", [], href=lambda n: None))
    assert len(list(root.iter(f"{SVG}rect"))) == 1
    assert "a/alone has no dependencies" in root.find(f"{SVG}desc").text


def test_graph_css_uses_the_theme_variables() -> None:
    css = graph_css()
    for variable in ("--fg", "--bg", "--accent", "--muted"):
        assert f"var({variable})" in css
    for cls in ("node", "edge", "back", "edge-label", "arrow", "more"):
        assert f".{cls}" in css
