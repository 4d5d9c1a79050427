"""The built-in checks. Each regular expression runs once over a whole file (not line by line) and
offsets are turned into line numbers afterwards: that keeps a 100 KB package well inside 20 ms."""

from __future__ import annotations

import bisect
import functools
import math
import re
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from rigging.scan.files import Skipped, TextFile, read_package
from rigging.scan.model import Capabilities, Finding, ScanReport, Severity

MARKDOWN = (".md", ".mdc", ".markdown")
SCRIPT_LANGUAGES = {
    ".sh": "shell",
    ".bash": "shell",
    ".zsh": "shell",
    ".py": "python",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".ts": "typescript",
    ".rb": "ruby",
    ".pl": "perl",
    ".ps1": "powershell",
    ".bat": "batch",
    ".cmd": "batch",
}
SHEBANG_LANGUAGES = (
    ("python", "python"),
    ("node", "javascript"),
    ("bash", "shell"),
    ("zsh", "shell"),
    ("sh", "shell"),
    ("ruby", "ruby"),
    ("perl", "perl"),
)


class Folded:
    """A pattern written in lower case, compiled plain (for lowered text) and case-insensitive.

    `needles`: lower-case strings of which every match holds one. Looking for them with `in` is
    about 50x faster than the regular expression, so most files skip the expression entirely.
    """

    def __init__(self, pattern: str, needles: tuple[str, ...]) -> None:
        self.pattern = pattern
        self.plain = re.compile(pattern)
        self.needles = needles

    @functools.cached_property
    def any_case(self) -> re.Pattern[str]:  # rarely needed: compiled on first use, not at import
        return re.compile(self.pattern, re.IGNORECASE)


class Source:
    """One file's text, with line lookup and the spans that are code (fenced or inline) in Markdown."""

    def __init__(self, file: TextFile) -> None:
        self.path = file.path
        self.text = file.text
        self.starts = [0] + [m.end() for m in re.finditer("\n", self.text)]
        # Case-insensitive patterns run 3-8x slower in `re`; lower-case once and match plain patterns,
        # unless lowering changed the length (a few letters do) and would shift every offset.
        lower = self.text.lower()
        self.lower = lower if len(lower) == len(self.text) else None
        self.markdown = self.path.lower().endswith(MARKDOWN)
        self.code: list[tuple[int, int]] = _code_spans(self.text) if self.markdown else []
        self._code_starts = [s for s, _ in self.code]

    def search(self, pattern: Folded) -> Iterator[re.Match[str]]:
        """Matches of a pattern written in lower case, ignoring case; spans index `self.text`."""
        if self.lower is None:
            return pattern.any_case.finditer(self.text)
        if not any(needle in self.lower for needle in pattern.needles):
            return iter(())
        return pattern.plain.finditer(self.lower)

    def span(self, match: re.Match[str], group: int = 0) -> str:
        """The original text of a match (the lowered copy would misquote it)."""
        return self.text[match.start(group) : match.end(group)]

    def finding(self, rule: str, severity: Severity, line: int, reason: str) -> Finding:
        return Finding.of(rule, severity, self.path, line, reason)

    def line(self, offset: int) -> int:
        return bisect.bisect_right(self.starts, offset)

    def line_text(self, number: int) -> str:
        end = self.starts[number] - 1 if number < len(self.starts) else len(self.text)
        return self.text[self.starts[number - 1] : end]

    def in_code(self, offset: int) -> bool:
        return self.code_span(offset) is not None

    def code_span(self, offset: int) -> tuple[int, int] | None:
        i = bisect.bisect_right(self._code_starts, offset) - 1
        return self.code[i] if i >= 0 and self.code[i][0] <= offset < self.code[i][1] else None

    def context(self, offset: int, lines: int = 3) -> str:
        """The line at `offset` and the few before it: where a "don't do this" would be said."""
        number = self.line(offset)
        return "\n".join(self.line_text(n) for n in range(max(1, number - lines), number + 1))


FENCE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})", re.MULTILINE)
INLINE_CODE = re.compile(r"`[^`\n]+`")


def _code_spans(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    opened: re.Match[str] | None = None
    for match in FENCE.finditer(text):
        if opened is None:
            opened = match
        elif match.group(1)[0] == opened.group(1)[0] and len(match.group(1)) >= len(opened.group(1)):
            spans.append((opened.start(), match.end()))
            opened = None
    if opened is not None:  # an unclosed fence runs to the end, as CommonMark says
        spans.append((opened.start(), len(text)))
    fenced = [s for s, _ in spans]
    for match in INLINE_CODE.finditer(text):
        i = bisect.bisect_right(fenced, match.start()) - 1
        if i < 0 or not spans[i][0] <= match.start() < spans[i][1]:
            spans.append((match.start(), match.end()))
    spans.sort()
    return spans


# -- hidden Unicode ------------------------------------------------------------------------------

HIDDEN = re.compile(
    "[\U000e0000-\U000e007f\u202a-\u202e\u2066-\u2069\U000e0100-\U000e01ef\ufe00-\ufe0f"
    "\u200b-\u200f\u2060-\u2064\ufeff\u061c\ufff9-\ufffb\u206a-\u206f]+"
)


def _is_tag(cp: int) -> bool:
    return 0xE0000 <= cp <= 0xE007F


def _is_bidi(cp: int) -> bool:
    return 0x202A <= cp <= 0x202E or 0x2066 <= cp <= 0x2069


def _emoji_like(char: str) -> bool:
    # U+FE0F after a symbol or a keycap digit is ordinary emoji presentation, not smuggling
    return ord(char) >= 0x2000 or char in "0123456789#*"


def check_unicode(src: Source) -> Iterator[Finding]:
    for match in HIDDEN.finditer(src.text):
        run = match.group()
        cps = [ord(c) for c in run]
        line = src.line(match.start())
        names = ", ".join(sorted({f"U+{cp:04X}" for cp in cps})[:6])
        if any(_is_tag(cp) for cp in cps):
            decoded = "".join(chr(cp - 0xE0000) for cp in cps if 0xE0020 <= cp <= 0xE007E)
            yield src.finding(
                "RIG-S001",
                "block",
                line,
                f"{len(cps)} invisible tag character(s) ({names}) hiding the text {decoded[:120]!r}",
            )
        elif any(_is_bidi(cp) for cp in cps):
            yield src.finding(
                "RIG-S002", "block", line, f"bidirectional control character(s) {names} reorder what the reader sees"
            )
        elif any(0xE0100 <= cp <= 0xE01EF for cp in cps) or _smuggled_selectors(run):
            hidden = bytes(_selector_byte(cp) for cp in cps if _selector_byte(cp) >= 0)
            yield src.finding(
                "RIG-S003",
                "block",
                line,
                f"{len(cps)} variation selector(s) ({names}) encode hidden bytes "
                f"{hidden.decode('utf-8', 'replace')[:120]!r}",
            )
        elif set(run) <= EMOJI_JOINERS and _emoji_like(_before(src.text, match.start())):
            continue  # "❤️‍🔥": presentation selector and zero-width joiner inside an emoji sequence
        elif any(0xFE00 <= cp <= 0xFE0F for cp in cps) and not _emoji_like(_before(src.text, match.start())):
            yield src.finding("RIG-S004", "warn", line, f"variation selector(s) {names} after a plain character")
        elif any(cp not in range(0xFE00, 0xFE10) for cp in cps) and not (match.start() == 0 and run == "\ufeff"):
            yield src.finding("RIG-S004", "warn", line, f"invisible character(s) {names} in the text")


EMOJI_JOINERS = frozenset("\ufe0e\ufe0f\u200d")


def _before(text: str, offset: int) -> str:
    return text[offset - 1] if offset > 0 else "\n"


def _smuggled_selectors(run: str) -> bool:
    # one selector after an emoji is normal; a run of several is bytes being carried
    selectors = sum(1 for c in run if 0xFE00 <= ord(c) <= 0xFE0F)
    return selectors > 2


def _selector_byte(cp: int) -> int:
    if 0xFE00 <= cp <= 0xFE0F:
        return cp - 0xFE00
    if 0xE0100 <= cp <= 0xE01EF:
        return cp - 0xE0100 + 16
    return -1


# -- prompt injection and hidden comments --------------------------------------------------------

# Written in lower case: matched against the lowered text (see Folded). No leading \b: it would
# stop `re` from skipping ahead to the alternatives' first letters, and costs 3x.
INJECTION = Folded(
    r"(?:ignore|forget|override)\s+(?:all\s+|any\s+)?(?:of\s+)?(?:the\s+|your\s+)?"
    r"(?:previous|prior|above|earlier|preceding|system)\s+(?:instructions|prompts?|rules|directions|guidelines)"
    r"|disregard\s+(?:all\s+|any\s+)?(?:of\s+)?(?:the\s+|your\s+)?(?:[\w']+\s+){0,2}"
    r"(?:instructions|rules|guidelines|system\s+prompt)"
    r"|(?:do\s+not|don't|never)\s+(?:tell|inform|notify|alert|mention\s+(?:this|it)\s+to|let)\s+the\s+user"
    r"|without\s+(?:telling|informing|notifying|alerting|asking)\s+the\s+user"
    r"|hide\s+(?:this|it)\s+from\s+the\s+user"
    r"|you\s+are\s+now\s+(?:dan\b|in\s+(?:developer|god|dan)\s+mode|jailbroken|unrestricted|no\s+longer\s+bound|free\s+from)",
    ("ignore", "forget", "override", "disregard", "the user", "you are now"),
)
HTML_COMMENT = re.compile(r"<!--(.*?)-->", re.DOTALL)
IMPERATIVE = re.compile(
    r"\b(?:ignore|disregard|you\s+must|always|never|execute|run|send|upload|fetch|curl|wget|instead|"
    r"you\s+are|do\s+not|secretly|assistant|AI|agent)\b|https?://",
    re.IGNORECASE,
)


def check_injection(src: Source) -> Iterator[Finding]:
    for match in src.search(INJECTION):
        phrase = " ".join(src.span(match).split())
        line = src.line(match.start())
        if src.in_code(match.start()):
            yield src.finding(
                "RIG-S010", "info", line, f"injection phrase {phrase!r} quoted in code (not an instruction)"
            )
        elif _quoted(src.text, match) and DISCUSSION.search(src.line_text(line)):
            # a document naming the attack (Attackers write "ignore previous instructions") rather
            # than making it; quotation marks alone would let any injection through as a warning
            yield src.finding("RIG-S010", "warn", line, f"injection phrase {phrase!r} quoted in a sentence about it")
        else:
            yield src.finding(
                "RIG-S010", "block", line, f"prompt-injection phrase {phrase!r} in the text an agent reads"
            )


DISCUSSION = re.compile(
    r"\b(?:attack\w*|phrases?|examples?|e\.g\.|such\s+as|injections?|malicious|markers?|jailbreaks?|"
    r"watch\s+for|look\s+for|detect\w*|classic|patterns?|treat)\b",
    re.IGNORECASE,
)
QUOTES = {'"': '"', "\u201c": "\u201d", "'": "'"}


def _quoted(text: str, match: re.Match[str]) -> bool:
    before, after = text[match.start() - 1 : match.start()], text[match.end() : match.end() + 1]
    return before in QUOTES and after == QUOTES[before]


def check_comments(src: Source) -> Iterator[Finding]:
    if not src.markdown:
        return
    for match in HTML_COMMENT.finditer(src.text):
        if src.in_code(match.start()):
            continue
        body = " ".join(match.group(1).split())
        line = src.line(match.start())
        if INJECTION.any_case.search(body):
            yield src.finding("RIG-S011", "block", line, f"an HTML comment hides an injection: {body[:100]!r}")
        elif IMPERATIVE.search(body):
            yield src.finding(
                "RIG-S011",
                "warn",
                line,
                f"an HTML comment the reader does not see holds instructions or a URL: {body[:100]!r}",
            )


# -- exfiltration --------------------------------------------------------------------------------

MD_LINK = re.compile(r"!?\[[^\]\n]*\]\(\s*<?([^)\s>]+)")
INTERPOLATION = re.compile(
    r"\$\{[^}]*\}|\$[A-Z_][A-Z0-9_]*|\{\{[^}]*\}\}|%[A-Z_]+%|\{[a-z_]*(?:key|token|secret)[a-z_]*\}", re.I
)
EXFIL_HOSTS = Folded(
    r"(?:webhook\.site|requestbin\.(?:com|net)|requestcatcher\.com|pipedream\.net|"
    r"hookbin\.com|beeceptor\.com|interactsh\.com|oast\.(?:fun|pro|live|site|online|me)|burpcollaborator\.net|"
    r"pastebin\.com|paste\.ee|hastebin\.com|ghostbin\.\w+|transfer\.sh|file\.io|0x0\.st|termbin\.com|"
    r"ngrok(?:-free)?\.(?:io|app|dev)|ngrok\.io|trycloudflare\.com|loca\.lt|serveo\.net|"
    r"(?:discord(?:app)?\.com|canary\.discord\.com)/api/webhooks|hooks\.slack\.com/services)",
    (
        "webhook",
        "request",
        "pipedream",
        "hookbin",
        "beeceptor",
        "interactsh",
        "oast.",
        "burpcollab",
        "paste",
        "hastebin",
        "ghostbin",
        "transfer.sh",
        "file.io",
        "0x0.st",
        "termbin",
        "ngrok",
        "trycloudflare",
        "loca.lt",
        "serveo",
        "discord",
        "hooks.slack",
    ),
)
CREDENTIAL_READ = re.compile(
    r"(?<![\w.])\.env(?![\w.-])|~/\.ssh|\$HOME/\.ssh|\.ssh/(?:id_|authorized_keys|config)|id_rsa|id_ed25519|"
    r"~/\.aws|\$HOME/\.aws|\.aws/credentials|~/\.netrc|~/\.config/gh|~/\.docker/config\.json|~/\.kube/config"
)
CREDENTIAL_NEEDLES = (".env", ".ssh", "id_rsa", "id_ed25519", ".aws", ".netrc", ".config/gh", ".docker", ".kube")
READ_VERB = re.compile(r"\b(?:cat|read|open|load|send|upload|post|grep|base64|tar|zip|source)\b|<\s*~|@-|\|", re.I)
NETWORK = re.compile(
    r"\b(?:curl|wget|nc|ncat|netcat|scp|rsync|Invoke-WebRequest|Invoke-RestMethod)\b|"
    r"\brequests\.(?:get|post|put)|\burllib\.request|\bhttpx\.|\bfetch\(|\baxios\.|\bhttp\.request|socket\.connect",
)


def check_exfiltration(src: Source) -> Iterator[Finding]:
    for match in MD_LINK.finditer(src.text):
        url = match.group(1)
        if url.startswith(("http://", "https://", "//")) and INTERPOLATION.search(url):
            kind = "image" if match.group().startswith("!") else "link"
            yield src.finding(
                "RIG-S020",
                "block",
                src.line(match.start()),
                f"a Markdown {kind} sends interpolated values to {url[:100]!r}",
            )
    for match in src.search(EXFIL_HOSTS):
        yield src.finding(
            "RIG-S021",
            "block",
            src.line(match.start()),
            f"names {src.span(match)!r}, a host that collects data sent to it",
        )
    reads = CREDENTIAL_READ.finditer(src.text) if _has(src.text, CREDENTIAL_NEEDLES) else ()
    for read in reads:
        # a script is one program, so anywhere in it counts; in prose only the same passage does
        window = (0, len(src.text)) if not src.markdown else _lines_around(src, read.start(), 1)
        sent = NETWORK.search(src.text, *window)
        # prose mentions `.env` and `curl` side by side innocently ("copy .env.example to .env");
        # an instruction to leak says what to do with the file: read it, send it, pipe it
        if sent is not None and (not src.markdown or READ_VERB.search(src.text, *window)):
            yield src.finding(
                "RIG-S022",
                "block",
                src.line(read.start()),
                f"reads {read.group()!r} and calls the network ({sent.group()!r}, line {src.line(sent.start())})",
            )
            return


def _lines_around(src: Source, offset: int, lines: int) -> tuple[int, int]:
    number = src.line(offset)
    start = src.starts[max(0, number - 1 - lines)]
    end = src.starts[number + lines] if number + lines < len(src.starts) else len(src.text)
    return start, end


# -- execution -----------------------------------------------------------------------------------

PIPE_TO_SHELL = Folded(
    r"(?:curl|wget|iwr|invoke-webrequest)\b[^\n|;&]*\|\s*(?:sudo\s+(?:-\S+\s+)*)?(?:ba|z|da|k)?sh\b"
    r"|(?:curl|wget)\b[^\n|;&]*\|\s*(?:sudo\s+)?(?:python[\d.]*|node|perl|ruby)\b(?!\s*-m\s+json)"
    r"|iex\s*\(\s*(?:new-object\s+net\.webclient|iwr|invoke-webrequest)"
    r"|sh\s+<\(\s*(?:curl|wget)\b",
    ("curl", "wget", "iwr", "invoke-webrequest"),
)
DECODE_EXEC = Folded(
    r"base64\s+(?:-d|--decode)\b[^\n;&]*\|\s*(?:sudo\s+)?(?:(?:ba|z)?sh|python[\d.]*|perl|node|eval)\b"
    r"|eval\s*[\"'(]?\s*\$\(\s*(?:echo\s+\S+\s*\|\s*)?base64\s+(?:-d|--decode)"
    r"|(?:exec|eval)\s*\(\s*(?:base64\.b64decode|atob|buffer\.from\([^)]*base64)",
    ("base64", "atob"),
)
# Split by what each form must contain, so a file without it skips the expression (see Folded)
REVERSE_SHELLS = (
    Folded(r"/dev/(?:tcp|udp)/[\w.$-]+/\w+", ("/dev/tcp", "/dev/udp")),
    Folded(
        r"\b(?:nc|ncat|netcat)\s[^\n|;&]*-(?:e|c)\s*(?:/usr)?(?:/bin/)?(?:ba|z|da)?sh\b",
        ("/bin/", "-e sh", "-e bash", "-c sh", "-c bash", "-e zsh"),
    ),
    Folded(r"\bsocat\b[^\n]*\bexec:[^\n]*\bsh\b", ("socat",)),
    Folded(r"\bmkfifo\b[^\n]*\|\s*(?:/bin/)?(?:ba)?sh\s+-i[^\n]*\|\s*(?:nc|ncat|netcat)\b", ("mkfifo",)),
)
SYSTEM_CHANGE = Folded(
    r"(?:>>?|\btee\s+(?:-a\s+)?)\s*/etc/(?:sudoers|passwd|shadow|hosts|ld\.so\.preload|profile)\b"
    r"|\bnopasswd\s*:\s*all\b"
    r"|\bchmod\s+(?:-r\s+)?(?:0?777|a\+rwx)\s+(?:/|~|\$home)(?:\s|$|/etc|/usr|/bin)"
    r"|\bchmod\s+(?:[ugo]*\+s|[24][0-7]{3})\s+(?:/bin/|/usr/bin/)\S+"
    r"|\brm\s+-(?:rf|fr|r\s+-f|f\s+-r)\s+(?:--no-preserve-root\s+)?(?:/|~/?|\$home/?|/\*)(?=\s|$|[;&|\"'`])",
    ("/etc/", "nopasswd", "chmod", "rm "),
)
MINER = Folded(
    r"stratum\+(?:tcp|ssl|tls)://|\bxmrig\b|\bminerd\b|\bcpuminer\b|\bnbminer\b", ("stratum", "miner", "xmrig")
)
# A warning counts only when it is about running the command that follows: a bare "don't" ("Don't
# worry, just run this:") is how a package talks the check down, so the negation has to govern a
# verb of running or piping, stand right before the code ("Instead of `…`", "Avoid this:"), or be a
# "Bad:" label on the line before it.
_NOT = (
    r"(?:don['\u2019]?t|do\s+not|never|avoid|must\s*not|mustn['\u2019]?t|should\s*not|shouldn['\u2019]?t"
    r"|instead\s+of)"
)
_RUN = (
    r"(?:run|running|execute|executing|pipe|piping|curl|wget|paste|pasting|copy|copying|copy-paste"
    r"|do\s+(?:this|that)(?=\s*(?:[:.!)]|$))|do\s+the\s+following|(?:use|using)\s+(?=`|curl\b|wget\b|pipes?\b))"
)
WARNS_AGAINST = re.compile(
    rf"\b{_NOT}(?:\s+(?:ever|just|blindly|simply|directly|casually))*\s+[`*_]*{_RUN}"
    rf"|\b{_NOT}(?:\s+(?:this|that|doing\s+this|the\s+following))?[\s:*_]*\Z"
    r"|^[\s>*_#-]*(?:❌[\s*_]*)?(?:bad|wrong|unsafe|insecure|dangerous)(?:\s+(?:example|way|practice|pattern))?"
    r"[\s*_]*[:)][\s*_]*\Z"
    r"|^[\s>*_#-]*❌[\s*_:]*\Z",
    re.I | re.M,
)
# ...and a later sentence that tells the reader to go ahead ("Never run scripts as root. Run this:",
# "Don't pipe it, just run:") undoes it
GO_AHEAD = re.compile(
    r"(?:^|[.!?;:,—]|\b(?:just|now|then|simply|instead|so|but|first)\b)[\s*_]*"
    r"(?:(?:just|now|then|simply|instead|so|but|first|please|go\s+ahead\s+and)[\s,]+)*"
    r"(?:run|execute|paste|type|enter|install|use|copy|try|here['\u2019]?s|here\s+is)\b",
    re.I | re.M,
)
NPX = re.compile(r"\bnpx\s+(?:-y|--yes)\s+(?:--?\S+\s+)*(@?[\w.-]+(?:/[\w.-]+)?(?:@\S+)?)")
PIP = re.compile(r"\bpip[\d.]*\s+install\s+([^\n;&|#'\"`{}()]+)")


def _counter_example(src: Source, offset: int) -> bool:
    """Markdown showing a command in code, after prose that warns against running it ("Never do this:").

    Only the prose before the code counts: a "never" a file writes inside the code, or beside a
    command it means to run, is as easy to copy as the command; and a script is never an example."""
    span = src.code_span(offset) if src.markdown else None
    if span is None:
        return False
    start = span[0]
    line_start = src.starts[src.line(start) - 1]
    before = src.context(line_start - 1, lines=2) if line_start > 0 else ""
    prose = before + "\n" + src.text[line_start:start]
    warnings = list(WARNS_AGAINST.finditer(prose))
    return bool(warnings) and GO_AHEAD.search(prose, warnings[-1].end()) is None


def check_execution(src: Source, script: bool) -> Iterator[Finding]:
    for pattern, rule, what in (
        (PIPE_TO_SHELL, "RIG-S030", "pipes a download into a shell"),
        (DECODE_EXEC, "RIG-S031", "executes base64-decoded content"),
        *((shell, "RIG-S034", "wires a shell to a network connection") for shell in REVERSE_SHELLS),
        (SYSTEM_CHANGE, "RIG-S035", "changes the system outside the project"),
        (MINER, "RIG-S036", "runs a cryptocurrency miner"),
    ):
        for match in src.search(pattern):
            line = src.line(match.start())
            command = " ".join(src.span(match).split())[:100]
            severity: Severity = "block"
            reason = f"{what}: {command!r}"
            if _counter_example(src, match.start()):
                severity, reason = "info", f"{what} as a counter-example: {command!r}"
            yield src.finding(rule, severity, line, reason)
    if not script:
        return
    for match in NPX.finditer(src.text):
        package = match.group(1)
        if "@" not in package.lstrip("@"):
            yield src.finding(
                "RIG-S032", "warn", src.line(match.start()), f"npx -y runs whatever version of {package!r} is newest"
            )
    for match in PIP.finditer(src.text):
        loose = [
            arg
            for arg in match.group(1).split()
            if not arg.startswith(("-", ".", "/", "$", "git+", "http")) and "==" not in arg and "@" not in arg
        ]
        if loose and not re.search(r"(?:^|\s)-(?:r|c|e)\s|--require-hashes", match.group(1)):
            yield src.finding(
                "RIG-S033",
                "warn",
                src.line(match.start()),
                f"pip install of {', '.join(loose[:3])} without an exact version",
            )


# -- allowed-tools, hooks ------------------------------------------------------------------------

FRONTMATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)", re.DOTALL)
ALLOWED_TOOLS = re.compile(r"^allowed[-_]tools[ \t]*:(.*(?:\n[ \t]+-.*)*)", re.MULTILINE | re.IGNORECASE)
WILDCARD_TOOL = re.compile(r"^(?:Bash|Shell|\*)$|^\w+\(\s*\*\s*\)$|^Bash\(\s*\*?\s*:?\s*\*\s*\)$")
HOOK_FILES = ("settings.json", "settings.local.json", "hooks.json")
HOOKS_KEY = re.compile(r'"hooks"\s*:\s*[{\[]')


def check_tools(src: Source, caps: Capabilities) -> Iterator[Finding]:
    front = FRONTMATTER.match(src.text) if src.markdown else None
    if front is None:
        return
    for match in ALLOWED_TOOLS.finditer(front.group(1)):
        tools = [t.strip(" \t'\"-[]") for t in re.split(r"[,\n]|\s(?![^(]*\))", match.group(1))]
        tools = [t for t in tools if t]
        caps.allowed_tools.update(tools)
        wild = [t for t in tools if WILDCARD_TOOL.match(t)]
        if wild:
            yield src.finding(
                "RIG-S040",
                "warn",
                src.line(front.start(1) + match.start()),
                f"allowed-tools grants {', '.join(wild)}: any command runs without asking",
            )


def check_hooks(src: Source, caps: Capabilities) -> Iterator[Finding]:
    name = PurePosixPath(src.path).name
    keyed = HOOKS_KEY.search(src.text) if name.endswith(".json") else None
    hook_folder = "hooks" in PurePosixPath(src.path).parts[:-1]
    if keyed is None and name not in HOOK_FILES and not hook_folder:
        return
    caps.hooks.add(src.path)
    line = src.line(keyed.start()) if keyed else 0
    yield src.finding("RIG-S041", "warn", line, "declares agent hooks: commands that run on events without being asked")


# -- secrets -------------------------------------------------------------------------------------

# Token formats are case-sensitive (AKIA…, ghp_…); the generic `name = "value"` form is not.
SECRETS = re.compile(
    r"(?P<aws>(?:AKIA|ASIA)[0-9A-Z]{16}(?![0-9A-Za-z]))|"
    r"(?P<github>gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})|"
    r"(?P<slack>xox[bpars]-[A-Za-z0-9-]{10,})|"
    r"(?P<pem>-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY-----)|"
    r"(?P<openai>sk-(?:proj-)?[A-Za-z0-9_-]{32,})"
)
SECRET_NEEDLES = ("AKIA", "ASIA", "gh", "github_pat_", "xox", "-----BEGIN", "sk-")
GENERIC_SECRET = Folded(
    r"(?:api[_-]?key|secret|token|passw(?:or)?d)[\w-]*[\"']?\s*[:=]\s*[\"']([a-z0-9_/+=.-]{20,})[\"']",
    ("key", "secret", "token", "passw"),
)
SECRET_NAMES = {
    "aws": "an AWS access key id",
    "github": "a GitHub token",
    "slack": "a Slack token",
    "pem": "a private key",
    "openai": "an API secret key",
    "generic": "a high-entropy credential",
}


def _has(text: str, needles: tuple[str, ...]) -> bool:
    return any(needle in text for needle in needles)


def _entropy(value: str) -> float:
    counts = {c: value.count(c) for c in set(value)}
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


def check_secrets(src: Source) -> Iterator[Finding]:
    tokens = SECRETS.finditer(src.text) if _has(src.text, SECRET_NEEDLES) else ()
    found = [(m, m.lastgroup or "generic", m.group()) for m in tokens]
    for match in src.search(GENERIC_SECRET):
        if _entropy(src.span(match, 1)) >= 3.5:  # "changeme-please-changeme" is not a key
            found.append((match, "generic", src.span(match, 1)))
    for match, kind, value in found:
        if "EXAMPLE" in value.upper() or re.search(r"(.)\1{7,}$", value):
            continue  # documentation placeholders (AKIAIOSFODNN7EXAMPLE, xxxx…)
        yield src.finding(
            "RIG-S050",
            "block",
            src.line(match.start()),
            f"{SECRET_NAMES[kind]} is written in the file ({src.span(match)[:12]}…)",
        )


# -- capabilities --------------------------------------------------------------------------------

URL_HOST = re.compile(r"https?://([A-Za-z0-9.-]+\.[A-Za-z]{2,})(?::\d+)?")
URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")
# places outside the project a package may name (looked for, never used; hence noqa S108)
OUTSIDE_NEEDLES = ("~/", "$HOME/", "/etc/", "/usr/", "/var/", "/home/", "/root/", "/opt/", "/Users/", "/private/")
OUTSIDE_NEEDLES += ("/tmp/",)  # noqa: S108
OUTSIDE_PATH = re.compile(
    r"(?<![\w.~/$-])(~/[\w.\-/]*|\$HOME/[\w.\-/]*|/(?:etc|usr|var|home|root|opt|tmp|Users|private)/[\w.\-/]*)"
)


def script_language(src: Source) -> str | None:
    suffix = PurePosixPath(src.path).suffix.lower()
    if suffix in SCRIPT_LANGUAGES:
        return SCRIPT_LANGUAGES[suffix]
    if src.text.startswith("#!"):
        first = src.text.split("\n", 1)[0]
        for word, language in SHEBANG_LANGUAGES:
            if re.search(rf"\b{word}[\d.]*\b", first):
                return language
        return "executable"
    if src.path.startswith("scripts/"):
        return "other"
    return None


def disclose(src: Source, caps: Capabilities, language: str | None) -> None:
    if language is not None:
        caps.scripts[src.path] = language
    if "://" in src.text:
        caps.hosts.update(h.lower() for h in URL_HOST.findall(src.text))
    if _has(src.text, OUTSIDE_NEEDLES):
        text = src.text.split("\n", 1)[-1] if src.text.startswith("#!") else src.text  # /usr/bin/env is no access
        text = URL.sub(" ", text) if "://" in text else text
        caps.outside_paths.update(p.rstrip(".") for p in OUTSIDE_PATH.findall(text))


# -- the scan ------------------------------------------------------------------------------------


def scan_source(file: TextFile, caps: Capabilities) -> list[Finding]:
    src = Source(file)
    language = script_language(src)
    disclose(src, caps, language)
    return [
        *check_unicode(src),
        *check_injection(src),
        *check_comments(src),
        *check_exfiltration(src),
        *check_execution(src, script=language is not None),
        *check_tools(src, caps),
        *check_hooks(src, caps),
        *check_secrets(src),
    ]


def builtin_scan(root: Path) -> ScanReport:
    """Run every built-in check over the package folder `root` (`rigging.scan.scan_package` adds
    validation and Semgrep to this)."""
    report = ScanReport(str(root))
    for item in read_package(root):
        if isinstance(item, Skipped):
            report.findings.append(Finding.of("RIG-S090", "info", item.path, 0, f"not scanned: {item.why}"))
            continue
        report.files += 1
        report.findings.extend(scan_source(item, report.capabilities))
    report.sort()
    return report
