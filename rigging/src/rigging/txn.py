"""Changing a project's files all-or-nothing, across crashes, without clobbering the user's edits.

Prepare: every new file (or new managed section) is written under `.rigging/txn/staged/`.
Commit: the plan is written to `.rigging/txn/plan.json` by an atomic rename; it lists each change
with the hash of what stood on disk when it was planned (`before`) and of what it will put there
(`after`). Apply: staged files are renamed into place, managed sections are spliced into the file
as it stands, and deleted files are moved into `.rigging/txn/trash/`, so a change that is done
can always be told from one that is not.

A run killed before the commit leaves the project untouched (the staging folder is discarded
next time); a run killed after it is finished by `recover()`, which every project command calls
first, under the project lock. Recovery applies install's no-clobber rule: a file the user
changed since the plan was made (neither `before` nor `after`) stops it, naming the file, unless
`force` is given. So the project is always its old state or its new one, and rigging.lock always
describes it.

The journal is untrusted input like the lock: every path in it is checked before it is used.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from pathlib import Path

from rigging.errors import RiggingError
from rigging.install_paths import UnsafePath, check_folder, checked, link_problem

TYPE_CHECKING = False  # typing costs ~3 ms to import; only the annotations use it
if TYPE_CHECKING:
    from typing import Any

TXN_DIR = ".rigging/txn"
_PLAN_VERSION = 2

# Test hook: RIGGING_TEST_KILL_AT=N makes the N-th step SIGKILL this process (tests/test_install_offline_and_crash.py).
_KILL_AT = int(os.environ.get("RIGGING_TEST_KILL_AT", "0") or 0)
_steps = 0


def _step() -> None:
    global _steps
    _steps += 1
    if _KILL_AT and _steps == _KILL_AT:
        import signal  # the test hook only: not imported by every install

        os.kill(os.getpid(), signal.SIGKILL)


def steps_taken() -> int:
    return _steps


def sha(data: bytes) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(data).hexdigest()


class NotRegular(Exception):
    """Something other than a regular file stands at a path (a link, a folder); str(self) says what."""


def read_regular(path: Path) -> bytes | None:
    """The bytes of the regular file at `path`; None when nothing is there.

    A symbolic link is never followed (it could point anywhere outside the project): it raises
    NotRegular, as does a folder, so that rigging treats it as the user's and leaves it alone.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        with contextlib.suppress(OSError):
            if stat.S_ISLNK(os.lstat(path).st_mode):
                raise NotRegular("a symbolic link") from None
        raise NotRegular(f"unreadable ({exc.strerror})") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise NotRegular("a folder" if path.is_dir() else "not a regular file")
    with os.fdopen(fd, "rb") as handle:
        return handle.read()


def is_executable(path: Path) -> bool:
    """Whether the regular file at `path` has its owner's execute bit (links are not followed)."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return False
    return stat.S_ISREG(mode) and bool(mode & stat.S_IXUSR)


def disk_hash(path: Path) -> str | None:
    """The hash of the regular file at `path`; None when nothing is there. Anything else (a link,
    a folder) hashes as a marker that matches no recorded digest."""
    try:
        data = read_regular(path)
    except NotRegular as exc:
        return f"not-a-file: {exc}"
    return None if data is None else sha(data)


def section_hash(path: Path) -> str | None:
    """The hash of the managed section in `path`; None when the file or the section is absent."""
    from rigging.managed_section import current_section

    try:
        data = read_regular(path)
        section = current_section(data.decode("utf-8")) if data is not None else None
    except (NotRegular, UnicodeDecodeError) as exc:
        return f"not-a-file: {exc}"
    return None if section is None else sha(section.encode())


class Change:
    """One planned change. op: "write" (a whole file), "section" (the managed section of a file;
    data is the new section, "" to remove it) or "delete"."""

    __slots__ = ("after", "before", "data", "executable", "op", "path")

    def __init__(
        self, op: str, path: str, before: str | None, data: bytes | None = None, executable: bool = False
    ) -> None:
        self.op, self.path, self.before, self.data = op, path, before, data
        self.executable = executable  # a skill's script: written with mode 0755
        if op == "write":
            assert data is not None
            self.after: str | None = sha(data)
        elif op == "section":
            self.after = sha(data) if data else None
        else:
            self.after = None


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _create(path: Path, data: bytes, sync: bool = False, executable: bool = False) -> None:
    """A new file at `path`, never through a link or over something already there."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o755 if executable else 0o644)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        if sync:
            out.flush()
            os.fsync(out.fileno())


def _check_journal_folder(root: Path) -> Path:
    """The journal folder, unless a link on the way would put the journal somewhere else."""
    problem = link_problem(root, TXN_DIR + "/staged/x") or link_problem(root, TXN_DIR + "/trash/x")
    if problem is not None:
        raise RiggingError(f"{root / TXN_DIR}: {problem}; remove it (rigging keeps only its journal there)")
    return root / TXN_DIR


def apply(root: Path, changes: list[Change], prune: tuple[str, ...] = ()) -> None:
    """Make `changes` (in order; put rigging.lock last), all or nothing; `prune` empty folders after."""
    txn = _check_journal_folder(root)
    staged = txn / "staged"
    staged.mkdir(parents=True, exist_ok=True)
    plan: dict[str, Any] = {"version": _PLAN_VERSION, "changes": [], "prune": list(prune)}
    for index, change in enumerate(changes):
        entry: dict[str, Any] = {"op": change.op, "path": change.path, "before": change.before, "after": change.after}
        if change.op != "delete":
            assert change.data is not None
            _create(staged / str(index), change.data, executable=change.executable)
            entry["staged"] = str(index)
            _step()
        plan["changes"].append(entry)
    # One sync makes every staged file durable before the plan can exist: a plan surviving a
    # power cut always finds whole files. (352 separate fsyncs took 160 ms; this takes ~13 ms.)
    os.sync()
    tmp = txn / "plan.json.tmp"
    _create(tmp, json.dumps(plan).encode(), sync=True)
    os.replace(tmp, txn / "plan.json")  # the commit point
    _fsync_dir(txn)
    _step()
    _roll_forward(root, force=False)


def pending(root: Path) -> bool:
    """Whether an interrupted transaction waits in this project (readers then take the write lock)."""
    return os.path.lexists(root / TXN_DIR)


def _read_plan(root: Path) -> tuple[list[dict[str, Any]], list[Path]]:
    txn = root / TXN_DIR
    where = txn / "plan.json"
    try:
        plan = json.loads(where.read_text(encoding="utf-8"))
        if plan.get("version") != _PLAN_VERSION:
            raise ValueError(f"plan version {plan.get('version')!r}")
        changes = plan["changes"]
        folders = [check_folder(root, folder) for folder in plan.get("prune", [])]
        for entry in changes:
            if entry["op"] not in ("write", "section", "delete"):
                raise ValueError(f"operation {entry['op']!r}")
            checked(root, entry["path"], kinds="any")
            if entry["op"] != "delete":
                if not (isinstance(entry["staged"], str) and entry["staged"].isdigit()):
                    raise ValueError(f"staged file {entry['staged']!r}")
                with contextlib.suppress(FileNotFoundError):  # absent: applied already
                    if not stat.S_ISREG(os.lstat(txn / "staged" / entry["staged"]).st_mode):
                        raise ValueError(f"staged/{entry['staged']} is not a file rigging staged")
    except UnsafePath as exc:
        raise RiggingError(
            f"{where}: refusing a change to a path that {exc}; delete {txn} to abandon the interrupted install"
        ) from None
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as exc:
        raise RiggingError(f"{where}: damaged ({exc}); delete {txn} to abandon the interrupted install") from None
    return changes, folders


def _is_done(root: Path, txn: Path, index: int, entry: dict[str, Any]) -> bool:
    if entry["op"] == "delete":
        return os.path.lexists(txn / "trash" / str(index))
    return not (txn / "staged" / entry["staged"]).exists()


def _standing(root: Path, entry: dict[str, Any]) -> str | None:
    path = root / entry["path"]
    return section_hash(path) if entry["op"] == "section" else disk_hash(path)


def _clobbers(root: Path, entry: dict[str, Any]) -> bool:
    """Whether finishing this change would destroy something the user put there since the plan."""
    standing = _standing(root, entry)
    if standing is None and entry["op"] != "delete":
        return False  # nothing there to lose (a removed file, or a file without the section)
    return standing not in (entry["before"], entry["after"])


def _apply_change(root: Path, txn: Path, index: int, entry: dict[str, Any]) -> None:
    target = root / entry["path"]
    if entry["op"] == "delete":
        trash = txn / "trash"
        trash.mkdir(exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            os.replace(target, trash / str(index))
        return
    source = txn / "staged" / entry["staged"]
    target.parent.mkdir(parents=True, exist_ok=True)
    if entry["op"] == "write":
        os.replace(source, target)
        return
    from rigging.managed_section import replace_section

    if _standing(root, entry) != entry["after"]:  # not spliced in yet by a run that was killed
        try:
            data = read_regular(target)
            existing = data.decode("utf-8") if data is not None else None
        except (NotRegular, UnicodeDecodeError):
            existing = None  # only with force: the link or unreadable file is replaced, never followed
        updated = replace_section(existing, source.read_text(encoding="utf-8"))
        if updated is None:
            with contextlib.suppress(FileNotFoundError):
                target.unlink()
        else:
            from rigging.atomic_files import write_atomic

            write_atomic(target, updated.encode())
    source.unlink()


def _roll_forward(root: Path, force: bool) -> None:
    txn = _check_journal_folder(root)
    changes, folders = _read_plan(root)
    todo = [(i, entry) for i, entry in enumerate(changes) if not _is_done(root, txn, i, entry)]
    if not force:
        clobbered = [entry["path"] for _, entry in todo if _clobbers(root, entry)]
        if clobbered:
            shown = ", ".join(clobbered[:5]) + (f" and {len(clobbered) - 5} more" if len(clobbered) > 5 else "")
            raise RiggingError(
                f"an interrupted install in {root} cannot be finished: {shown} changed since it began; "
                "move your edits aside and rerun, or run `rigging install --force` to finish it over them"
            )
    for index, entry in todo:
        try:
            _apply_change(root, txn, index, entry)
        except OSError as exc:
            raise RiggingError(
                f"an interrupted install in {root} cannot be finished: {entry['path']}: {exc.strerror or exc}; "
                f"fix that and rerun, or delete {txn} to abandon it (the files may then be part old, part new)"
            ) from None
        _step()
    for folder in folders:
        with contextlib.suppress(OSError):  # only removes empty folders
            folder.rmdir()
    (txn / "plan.json").unlink()
    _discard(root)


def _discard(root: Path) -> None:
    import shutil

    shutil.rmtree(root / TXN_DIR, ignore_errors=True)
    with contextlib.suppress(OSError):
        (root / ".rigging").rmdir()


def recover(root: Path, force: bool = False) -> str | None:
    """Finish or discard an interrupted transaction; says which, or None when there was none.

    The caller holds the project's write lock.
    """
    if not pending(root):
        return None
    txn = _check_journal_folder(root)
    if (txn / "plan.json").exists():
        _roll_forward(root, force)
        return "finished an interrupted install"
    _discard(root)
    return "discarded an interrupted install that had changed nothing"
