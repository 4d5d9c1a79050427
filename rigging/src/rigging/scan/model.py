"""What a scan reports: findings (rule, severity, place, reason, fix) and disclosed capabilities."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

Severity = Literal["block", "warn", "info"]
SEVERITIES: tuple[Severity, ...] = ("block", "warn", "info")


class Rule(NamedTuple):
    name: str
    text: str  # what it looks for
    fix: str  # the one-line hint every finding of the rule carries


# SARIF's rule table, `--json` and each finding's fix hint all come from here
RULES: dict[str, Rule] = {
    "RIG-S001": Rule(
        "unicode-tag-characters",
        "Unicode tag characters (U+E0000-E007F) that smuggle invisible text",
        "delete the invisible characters; nothing legitimate needs them in a rule",
    ),
    "RIG-S002": Rule(
        "unicode-bidi-controls",
        "bidirectional controls that make text read differently than it runs",
        "delete the bidi controls; write the text in its plain order",
    ),
    "RIG-S003": Rule(
        "unicode-variation-smuggling", "variation selectors used to hide bytes", "delete the variation selectors"
    ),
    "RIG-S004": Rule(
        "unicode-invisible",
        "zero-width or invisible formatting characters",
        "delete them (a variation selector belongs only after an emoji)",
    ),
    "RIG-S010": Rule(
        "prompt-injection",
        "phrases that try to override the agent's instructions or hide from the user",
        "remove the phrase; an example of one belongs inside a code span or block",
    ),
    "RIG-S011": Rule(
        "hidden-html-comment",
        "instructions or URLs inside HTML comments the reader does not see",
        "delete the comment, or move its text into the visible document",
    ),
    "RIG-S020": Rule(
        "exfiltration-url",
        "a Markdown image or link whose URL carries variables or secrets",
        "use a fixed URL; never build URLs from variables or secrets",
    ),
    "RIG-S021": Rule(
        "exfiltration-host",
        "a webhook, paste or tunnel host that receives data",
        "remove the webhook/paste/tunnel host",
    ),
    "RIG-S022": Rule(
        "credential-read-and-send",
        "reads credentials (.env, ~/.ssh, ~/.aws) where it also talks to the network",
        "do not read credentials in a file that sends data anywhere",
    ),
    "RIG-S030": Rule(
        "pipe-to-shell",
        "downloaded content piped straight into a shell or interpreter",
        "download to a file, verify its checksum, then run it",
    ),
    "RIG-S031": Rule(
        "decode-and-execute", "base64-decoded content executed", "ship the script in the package as readable text"
    ),
    "RIG-S032": Rule("unpinned-npx", "npx -y of a package without a version", "pin it: npx -y PACKAGE@X.Y.Z"),
    "RIG-S033": Rule(
        "unpinned-pip",
        "pip install of a package without an exact version",
        "pin with ==X.Y.Z (better: a requirements file with --require-hashes)",
    ),
    "RIG-S034": Rule(
        "reverse-shell",
        "a shell wired to a network connection (/dev/tcp, nc -e, socat exec)",
        "remove it; a package never hands a shell to another machine",
    ),
    "RIG-S035": Rule(
        "system-modification",
        "changes the system outside the project: sudoers, world-writable or setuid files, rm -rf of home or /",
        "remove it; a package changes files in the project only",
    ),
    "RIG-S036": Rule(
        "crypto-miner",
        "runs a cryptocurrency miner (xmrig, stratum pools)",
        "remove it",
    ),
    "RIG-S040": Rule(
        "wildcard-allowed-tools",
        "allowed-tools grants every shell command",
        "list the exact commands, e.g. Bash(git status:*)",
    ),
    "RIG-S041": Rule(
        "hooks",
        "agent hooks: commands that run on events without being asked",
        "say in the README what each hook runs, or drop the hooks",
    ),
    "RIG-S050": Rule(
        "leaked-secret",
        "a credential written into the package",
        "remove it and revoke it now; everyone who has the package has it",
    ),
    "RIG-S090": Rule(
        "not-scanned", "a file the scan skipped (symlink, too large, binary)", "remove it from the package"
    ),
    # `rigging validate` problems: a package pushed with another OCI client is held to the same rules
    "RIG-V001": Rule(
        "invalid-package", "a problem `rigging validate` refuses (an error)", "fix it as `rigging validate` says"
    ),
    "RIG-V002": Rule(
        "package-warning", "a problem `rigging validate` warns about", "fix it as `rigging validate` says"
    ),
    # The Semgrep pack (rigging/scan/rules/semgrep.yml): each rule's metadata names one of these
    "RIG-G010": Rule(
        "jailbreak-phrase",
        "jailbreak or role-override phrases the built-in checks do not know",
        "remove the phrase; an example of one belongs inside a code span or block",
    ),
    "RIG-G011": Rule(
        "hidden-markup",
        "HTML that hides text from the reader (display:none, zero size, white on white)",
        "delete the hidden element, or make its text visible",
    ),
    "RIG-G020": Rule(
        "exfiltration-instruction",
        "an instruction to send files, secrets or the conversation to a URL",
        "remove the instruction; a package never sends data anywhere",
    ),
    "RIG-G050": Rule(
        "leaked-secret-format",
        "a credential in a format the built-in checks do not know (Google, Stripe, GitLab, npm, Anthropic, HF)",
        "remove it and revoke it now; everyone who has the package has it",
    ),
    "RIG-G101": Rule(
        "python-shell-of-download",
        "Python runs downloaded content in a shell (subprocess shell=True, os.system) or exec",
        "ship the script in the package; never run what was just downloaded",
    ),
    "RIG-G102": Rule(
        "python-exec-of-decoded",
        "Python eval/exec/compile of base64-, zlib- or marshal-decoded content",
        "ship the code in the package as readable text",
    ),
    "RIG-G103": Rule(
        "python-secrets-to-network",
        "Python sends environment secrets or credential files over the network",
        "do not send secrets anywhere; the agent's environment is not the package's",
    ),
    "RIG-G104": Rule(
        "python-reverse-shell",
        "Python connects a socket to a shell (dup2 of the socket, then a shell or pty)",
        "remove it; a package never hands a shell to another machine",
    ),
    "RIG-G201": Rule(
        "shell-run-of-download",
        'a shell script runs downloaded content (sh -c "$(curl …)", eval, source <(curl …))',
        "download to a file, verify its checksum, then run it",
    ),
    "RIG-G202": Rule(
        "shell-run-of-decoded",
        "a shell script runs base64-decoded content",
        "ship the script in the package as readable text",
    ),
    "RIG-G203": Rule(
        "shell-credentials-to-network",
        "a shell script sends credential files (~/.ssh, ~/.aws, .env) or the environment over the network",
        "do not read credentials in a script that talks to the network",
    ),
    "RIG-G301": Rule(
        "js-exec-of-download",
        "JavaScript runs fetched content (child_process exec, eval, new Function)",
        "ship the code in the package; never run what was just downloaded",
    ),
    "RIG-G302": Rule(
        "js-secrets-to-network",
        "JavaScript sends process.env or credential files over the network",
        "do not send secrets anywhere; the agent's environment is not the package's",
    ),
}


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: Severity
    file: str  # relative to the package folder, with forward slashes
    line: int  # 1-based; 0 when the finding is about the whole file
    reason: str  # one line
    fix: str

    @classmethod
    def of(cls, rule: str, severity: Severity, file: str, line: int, reason: str) -> Finding:
        return cls(rule, severity, file, line, reason, RULES[rule].fix)

    def format(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{self.severity:<5} {self.rule} {where} {self.reason} (fix: {self.fix})"

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "file": self.file,
            "line": self.line,
            "reason": self.reason,
            "fix": self.fix,
        }


@dataclass
class Capabilities:
    """The powers a package discloses: what a project's policy can allow or deny."""

    scripts: dict[str, str] = field(default_factory=dict)  # file -> language
    hosts: set[str] = field(default_factory=set)
    allowed_tools: set[str] = field(default_factory=set)
    hooks: set[str] = field(default_factory=set)  # files that declare hooks
    outside_paths: set[str] = field(default_factory=set)

    def as_dict(self) -> dict[str, Any]:
        return {
            "scripts": [{"file": f, "language": lang} for f, lang in sorted(self.scripts.items())],
            "network_hosts": sorted(self.hosts),
            "allowed_tools": sorted(self.allowed_tools),
            "hooks": sorted(self.hooks),
            "outside_paths": sorted(self.outside_paths),
        }

    def summary(self) -> str:
        parts = [
            f"{len(self.scripts)} script(s)",
            f"{len(self.hosts)} host(s)",
            f"{len(self.allowed_tools)} tool(s)",
            f"{len(self.hooks)} hook file(s)",
            f"{len(self.outside_paths)} outside path(s)",
        ]
        return ", ".join(parts)


@dataclass
class ScanReport:
    root: str
    files: int = 0
    findings: list[Finding] = field(default_factory=list)
    capabilities: Capabilities = field(default_factory=Capabilities)
    semgrep: bool = False  # whether the Semgrep pack ran (built-ins always do)

    @property
    def blocked(self) -> bool:
        return any(f.severity == "block" for f in self.findings)

    def counts(self) -> dict[str, int]:
        return {s: sum(1 for f in self.findings if f.severity == s) for s in SEVERITIES}

    def sort(self) -> None:
        order = {"block": 0, "warn": 1, "info": 2}
        self.findings.sort(key=lambda f: (order[f.severity], f.file, f.line, f.rule))

    def as_dict(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "files": self.files,
            "blocked": self.blocked,
            "semgrep": self.semgrep,
            "counts": self.counts(),
            "findings": [f.as_dict() for f in self.findings],
            "capabilities": self.capabilities.as_dict(),
        }
