"""Edits of the watchlist from the command line that keep every other byte of the user's file as it was.

Each edit is a few line-level changes to the text: a value replaced after its `=` (the line's comment kept),
a key line inserted after an order's last key, an `[[orders]]` entry appended or removed with the comment
lines that belong to it. Values are written by tomlkit, so strings, dates and lists are valid TOML. Before
anything is written, the new text must parse to exactly the data intended (else the layout was too unusual
to edit safely) and pass the same validation as `validate`. The write is atomic (temporary file in the same
directory, fsync, rename, same mode and owner), after a copy of the old file is kept as `<name>.bak`. An edit
holds the watchlist's edit lock from its read to its write (`Editor.open`), so edits started together all land.

tomlkit alone is not used for the structure because it files the comment lines above an `[[orders]]` header
under the previous table: deleting an order with it drops the next order's comment, and a key it adds lands
below that comment.
"""
from __future__ import annotations

import contextlib
import copy
import difflib
import errno
import fcntl
import os
import re
import tempfile
import time
import tomllib
import typing
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import tomlkit

from monitor.errors import ConfigError, Problem, UnknownOrder, WriteError
from monitor.watchlist import Dispute, Order, _Locator, _order_id, parse_toml, read_text, validate_data

# Keys `set` accepts: every order key, and the dispute's keys written with a dot.
_SUBTABLES = {"dispute": Dispute}
ORDER_KEYS: tuple[str, ...] = tuple(
    [k for k in Order.model_fields if k not in _SUBTABLES]
    + [f"{t}.{k}" for t, model in _SUBTABLES.items() for k in model.model_fields]
)
_ADD_ORDER = ("id", "shop", "item", "ordered_on", "tracking", "carrier", "promised_by", "protection_ends")
# Seconds an edit waits for another edit of the same watchlist to finish before it gives up.
LOCK_WAIT = 10.0


@dataclass(frozen=True)
class Change:
    """One key of one order: its TOML text before and after (None: absent)."""

    order_id: str
    key: str
    old: str | None
    new: str | None

    def __str__(self) -> str:
        old = " ".join((self.old or "").split())  # a list written over several lines, said on one
        if self.new is None:
            return f"{self.order_id}: removed {self.key} (was {old})"
        return f"{self.order_id}: {self.key} = {self.new}" + (f" (was {old})" if self.old is not None else "")


@dataclass(frozen=True)
class Result:
    """What an edit did, or would do with dry_run."""

    path: Path
    backup: Path | None  # None on a dry run
    changes: list[str]
    diff: str


# ---------------------------------------------------------------- values


def _leaves(annotation: object) -> set[object]:
    """The plain types inside an annotation: Annotated[date | datetime, …] | None -> {date, datetime, None}."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is typing.Annotated:
        return _leaves(args[0])
    if typing.get_origin(annotation) is list:
        return {list}
    return set().union(*map(_leaves, args)) if args else {annotation}


def _field(key: str) -> Any:
    table, _, name = key.rpartition(".")
    return (_SUBTABLES[table] if table else Order).model_fields[name]


def typed(key: str, raw: str) -> Any:
    """The value as the field wants it; text it cannot be is kept as text, so validation names the field."""
    leaves = _leaves(_field(key).annotation)
    text = raw.strip()
    if date in leaves or datetime in leaves:
        with contextlib.suppress(ValueError):
            return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    elif bool in leaves:
        answer = {"true": True, "yes": True, "false": False, "no": False}.get(text.lower())
        if answer is not None:
            return answer
    elif list in leaves:
        if text.startswith("["):
            with contextlib.suppress(tomllib.TOMLDecodeError):
                return tomllib.loads(f"v = {text}")["v"]
        return [part.strip() for part in text.split(",") if part.strip()]
    return raw


def _render(value: Any) -> str:
    return tomlkit.item(value).as_string()


def _close_key(key: str) -> str:
    close = difflib.get_close_matches(key, ORDER_KEYS, n=1)
    return f'; did you mean "{close[0]}"?' if close else f" (expected one of: {', '.join(ORDER_KEYS)})"


def parse_assignments(pairs: Sequence[str]) -> dict[str, str]:
    """KEY=VALUE arguments, checked against the order keys; an empty VALUE removes the key."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        key = key.strip()
        if not eq or not key:
            raise ConfigError([Problem(pair, 'expected KEY=VALUE, like protection_ends=2026-12-23')])
        if key not in ORDER_KEYS:
            raise ConfigError([Problem(key, f'unknown key "{key}" for an order{_close_key(key)}')])
        if key == "id":
            raise ConfigError([Problem(key, "the id cannot be changed: the order's history and alerts are kept "
                                            "under it (remove the order and add it again to start afresh)")])
        if key in out:
            raise ConfigError([Problem(key, "is given twice; expected each key once")])
        out[key] = value
    return out


# ---------------------------------------------------------------- the file's structure


@dataclass(frozen=True)
class _Item:
    """One statement of the file: a table header or a key = value, over lines first..last."""

    path: tuple[Any, ...]  # the header's table, or the key's full path (("orders", 2, "dispute", "opened_on"))
    header: bool
    first: int
    last: int
    value: tuple[int, int] = (0, 0)  # character span of a key's value in the text


def _lines(text: str) -> list[str]:
    """Lines with their endings; only "\n" ends a line in TOML (str.splitlines would also split at U+2028)."""
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def _string_end(text: str, i: int) -> int:
    """The end of the string starting at text[i] (any of TOML's four kinds)."""
    quote = text[i]
    if text.startswith(quote * 3, i):
        j = i + 3
        while not text.startswith(quote * 3, j):
            j += 2 if quote == '"' and text[j] == "\\" else 1
        j += 3
        while j < len(text) and text[j] == quote and j - i < 8:  # up to two quotes may end the content
            j += 1
        return j
    j = i + 1
    while text[j] != quote:
        j += 2 if quote == '"' and text[j] == "\\" else 1
    return j + 1


def _value_end(text: str, i: int) -> int:
    """The end of the value starting at text[i]: a string, an array or inline table, or a bare scalar."""
    if text[i] in "\"'":
        return _string_end(text, i)
    if text[i] in "[{":
        depth = 0
        while True:
            c = text[i]
            if c in "\"'":
                i = _string_end(text, i)
                continue
            if c == "#":
                i = text.index("\n", i)
                continue
            depth += (c in "[{") - (c in "]}")
            i += 1
            if depth == 0:
                return i
    m = re.compile(r"[^#\r\n]*").match(text, i)
    assert m is not None
    return i + len(m.group(0).rstrip())


def _scan(text: str, lines: Sequence[str]) -> list[_Item]:
    """Every header and key of a valid TOML text, with its lines; blank and comment lines are not items."""
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    items: list[_Item] = []
    counters: dict[tuple[Any, ...], int] = {}
    table: tuple[Any, ...] = ()
    n = 0
    while n < len(lines):
        line = lines[n]
        body = line.strip()
        if not body or body.startswith("#"):
            n += 1
        elif m := _Locator._HEADER.match(line.rstrip("\r\n")):
            names = _Locator._split(m.group(2))
            table = _Locator._expand(names, counters)
            if m.group(1) == "[[":
                counters[tuple(names)] = counters.get(tuple(names), -1) + 1
                table = (*table, counters[tuple(names)])
            items.append(_Item(table, True, n, n))
            n += 1
        else:
            m = _Locator._KEY.match(line)
            if m is None:
                raise ValueError(f"line {n + 1}: not a key, a header or a comment")
            begin = starts[n] + m.end()
            while text[begin] in " \t":
                begin += 1
            end = _value_end(text, begin)
            last = n
            while starts[last + 1] <= end - 1:
                last += 1
            items.append(_Item((*table, *_Locator._split(m.group(1))), False, n, last, (begin, end)))
            n = last + 1
    return items


@dataclass
class _Order:
    """Where one [[orders]] entry is: its header, its keys and its sub-tables."""

    index: int
    items: list[_Item]

    @property
    def header(self) -> _Item:
        return self.items[0]

    def keys_of(self, table: tuple[Any, ...]) -> list[_Item]:
        return [it for it in self.items if not it.header and it.path[:-1] == table]

    def find(self, path: tuple[Any, ...]) -> _Item | None:
        return next((it for it in self.items if not it.header and it.path == path), None)


def _orders(items: list[_Item]) -> dict[int, _Order]:
    out: dict[int, _Order] = {}
    current: _Order | None = None
    for it in items:
        if it.header:
            inside = current is not None and it.path[:2] == ("orders", current.index)
            if not inside:
                is_entry = len(it.path) == 2 and it.path[0] == "orders" and isinstance(it.path[1], int)
                current = out.setdefault(it.path[1], _Order(it.path[1], [])) if is_entry else None
        if current is not None:
            current.items.append(it)
    return out


# ---------------------------------------------------------------- one edit of one file


class Editor:
    """The watchlist's text, the changes planned on it, and the checks before writing it; made by `Editor.open`."""

    def __init__(self, path: Path, carriers: Iterable[str] = ()) -> None:
        self.path, self.carriers = path, set(carriers)
        self.locked = False  # set by open(): only then may commit() write
        self.text = read_text(path)  # the same errors as validate for a missing, binary or non-UTF-8 file
        self.raw = path.read_bytes()
        self.data = parse_toml(self.text, path)
        self.expected = copy.deepcopy(self.data)
        self.lines = _lines(self.text)
        self.newline = "\r\n" if "\r\n" in self.text else "\n"
        try:
            self.items = _scan(self.text, self.lines)
        except (ValueError, IndexError):  # tomllib read it, so this is a layout the scanner does not know
            raise self._unusual() from None
        self.orders = _orders(self.items)
        self.edits: list[tuple[int, int, str]] = []  # (start, end, replacement) in character offsets
        self.changes: list[str] = []

    @classmethod
    @contextlib.contextmanager
    def open(cls, path: Path, carriers: Iterable[str] = ()) -> Iterator[Editor]:
        """An editor of the watchlist that holds its edit lock until the block ends: no other edit reads the file
        between this one's read and its write."""
        with edit_lock(path):
            editor = cls(path, carriers)
            editor.locked = True
            try:
                yield editor
            finally:
                editor.locked = False

    def _unusual(self) -> ConfigError:
        return ConfigError([Problem(str(self.path), "this file's layout is too unusual to edit safely from the "
                                                    "command line; edit it by hand (nothing was changed)")])

    # ------------------------------------------------------------ finding things

    def ids(self) -> list[str]:
        """Every order id, in file order."""
        orders = self.data.get("orders", [])
        return [str(_order_id(o.get("id"))) for o in orders if isinstance(o, dict)]

    def index(self, order_id: str) -> int:
        """The position of an order in [[orders]]; UnknownOrder if none has that id."""
        ids = self.ids()
        if order_id not in ids:
            raise UnknownOrder(self.path, order_id, ids)
        i = ids.index(order_id)
        if i not in self.orders:
            raise self._unusual()  # orders written as an inline array: no [[orders]] header to edit under
        return i

    def _offset(self, line: int) -> int:
        return sum(map(len, self.lines[:line]))

    def _indent(self, item: _Item) -> str:
        line = self.lines[item.first]
        return line[: len(line) - len(line.lstrip(" \t"))]

    def _line_end(self, line: int) -> tuple[int, str]:
        """Where text inserted after `line` goes, and the newline to put first when the file ends without one."""
        end = self._offset(line + 1)
        return end, "" if self.lines[line].endswith("\n") else self.newline

    # ------------------------------------------------------------ changes

    def set(self, order_id: str, values: dict[str, str]) -> None:
        """Set (or, for an empty value, remove) keys of one order."""
        i = self.index(order_id)
        order = self.orders[i]
        appended: dict[tuple[Any, ...], list[str]] = {}
        for key, raw in values.items():
            parts = tuple(key.split("."))
            path = ("orders", i, *parts)
            found = order.find(path)
            old = None if found is None else self.text[found.value[0]:found.value[1]]
            value = None if raw.strip() == "" else typed(key, raw)
            if value is None and found is None:
                continue  # removing a key that is not there: nothing to do
            target: dict[str, Any] = self.expected["orders"][i]
            for part in parts[:-1]:
                target = target.setdefault(part, {})
            rendered = None if value is None else _render(value)
            if rendered is None:
                assert found is not None
                del target[parts[-1]]
                self.edits.append((self._offset(found.first), self._offset(found.last + 1), ""))
            else:
                target[parts[-1]] = tomllib.loads(f"v = {rendered}")["v"]
                if found is not None:
                    self._replace(found, rendered)
                else:
                    appended.setdefault(path[:-1], []).append(f"{parts[-1]} = {rendered}")
            self.changes.append(str(Change(order_id, key, old, rendered)))
        for table, lines in sorted(appended.items(), key=lambda tl: len(tl[0])):  # the order's own keys first
            self._insert_keys(order, table, lines)

    def _replace(self, item: _Item, rendered: str) -> None:
        """A new value in place of the old; an aligned comment after it keeps its column when it can."""
        begin, end = item.value
        after = self.text[end:]
        gap = len(after) - len(after.lstrip(" \t"))
        if gap >= 2 and after[gap:gap + 1] == "#":
            width = end - begin + gap
            end += gap
            rendered += " " * max(2, width - len(rendered))
        self.edits.append((begin, end, rendered))

    def _insert_keys(self, order: _Order, table: tuple[Any, ...], lines: list[str]) -> None:
        """New key lines after the table's last key; a missing sub-table is added at the end of the order."""
        keys = order.keys_of(table)
        header = next((it for it in order.items if it.header and it.path == table), None)
        anchor = keys[-1] if keys else header
        if anchor is not None:
            # Under the table's own header a key is written bare; as dotted keys in the order, with its prefix.
            within = self._table_at(anchor.first)
            prefix = "".join(f"{p}." for p in table[len(within):])
            at, lead = self._line_end(anchor.last)
            indent = self._indent(anchor)
            self.edits.append((at, at, lead + "".join(f"{indent}{prefix}{line}{self.newline}" for line in lines)))
            return
        # A new [orders.<name>] table, indented like one elsewhere in the file if there is one.
        name = ".".join(str(p) for p in table if not isinstance(p, int))
        model = next((it for it in self.items if it.header and len(it.path) == len(table)
                      and it.path[0] == table[0] and it.path[2:] == table[2:]), None)
        head_indent = self._indent(model) if model else ""
        model_key = next((it for it in self.items if model and not it.header and it.path[:-1] == model.path), None)
        key_indent = self._indent(model_key) if model_key else head_indent
        at, lead = self._line_end(max(it.last for it in order.items))
        block = f"{head_indent}[{name}]{self.newline}" + "".join(f"{key_indent}{line}{self.newline}" for line in lines)
        self.edits.append((at, at, lead + block))

    def add(self, order_id: str, values: dict[str, str]) -> None:
        """Append a new [[orders]] entry at the end of the file."""
        entry: dict[str, Any] = {"id": order_id}
        entry.update({k: typed(k, v) for k, v in values.items() if v is not None and v != ""})
        keys = sorted(entry, key=lambda k: _ADD_ORDER.index(k) if k in _ADD_ORDER else len(_ADD_ORDER))
        body = "".join(f"{k} = {_render(entry[k])}{self.newline}" for k in keys)
        text = self.text
        lead = "" if not text or text.endswith("\n") else self.newline
        if text.strip() and (lead or not text.endswith(("\n\n", "\r\n\r\n"))):
            lead += self.newline  # a blank line before the new entry, as between the others
        self.edits.append((len(text), len(text), f"{lead}[[orders]]{self.newline}{body}"))
        self.expected.setdefault("orders", []).append(tomllib.loads(body.replace("\r\n", "\n")))
        self.changes.append(f"{order_id}: added")

    def remove(self, order_id: str) -> None:
        """Delete an [[orders]] entry with the comment lines that belong to it.

        Its own comment lines are the block directly above its header and those directly below its last
        line; a comment block separated by a blank line, or directly above the next header, is another's.
        """
        i = self.index(order_id)
        order = self.orders[i]
        first, last = order.header.first, max(it.last for it in order.items)
        while first > 0 and self._is_comment(first - 1):
            first -= 1
        below = last
        while below + 1 < len(self.lines) and self._is_comment(below + 1):
            below += 1
        next_line = below + 1
        if not (next_line < len(self.lines) and self._is_header(next_line)):
            last = below  # the comments below are not the next header's own
        after = last
        while after + 1 < len(self.lines) and not self.lines[after + 1].strip():
            after += 1
        if after + 1 < len(self.lines):
            last = after  # drop the blank line(s) that separated it from what follows
        else:
            while first > 0 and not self.lines[first - 1].strip():
                first -= 1  # at the end of the file: drop the blank line(s) before it instead
        self.edits.append((self._offset(first), self._offset(last + 1), ""))
        del self.expected["orders"][i]
        self.changes.append(f"{order_id}: removed")

    def _is_comment(self, line: int) -> bool:
        return self.lines[line].lstrip().startswith("#") and not any(it.first < line <= it.last for it in self.items)

    def _table_at(self, line: int) -> tuple[Any, ...]:
        """The table that the statement on `line` belongs to."""
        return next((it.path for it in reversed(self.items) if it.header and it.first <= line), ())

    def _is_header(self, line: int) -> bool:
        return any(it.header and it.first == line for it in self.items)

    # ------------------------------------------------------------ checking and writing

    def result(self) -> str:
        """The new text with every planned change applied."""
        text = self.text
        # From the end backwards, so earlier offsets stay right; at one offset, the change planned first comes first.
        for _, (start, end, new) in sorted(enumerate(self.edits), key=lambda e: (e[1][0], e[1][1], e[0]), reverse=True):
            text = text[:start] + new + text[end:]
        return text

    def check(self, text: str) -> None:
        """The new text means what was intended and is a valid watchlist; else ConfigError, nothing written."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            raise self._unusual() from None
        if data != self.expected:
            raise self._unusual()
        try:
            validate_data(data, text, self.path, self.carriers)
        except ConfigError as exc:
            note = Problem(str(self.path), "not changed: the edit would make the watchlist invalid")
            raise ConfigError([*exc.problems, note]) from None

    def commit(self, dry_run: bool = False) -> Result:
        """Check, then keep a backup and write atomically; a dry run only returns the diff."""
        new = self.result()
        self.check(new)
        diff = "".join(difflib.unified_diff(self.lines, _lines(new),
                                            str(self.path), f"{self.path} (new)"))
        if dry_run:
            return Result(self.path, None, self.changes, diff)
        if not self.locked:
            raise RuntimeError("a watchlist edit is written only inside Editor.open(), which holds the edit lock")
        target = self.path.resolve()  # a symlinked watchlist stays a symlink: the file it points to is replaced
        bom = b"\xef\xbb\xbf" if self.raw.startswith(b"\xef\xbb\xbf") else b""
        backup = target.with_name(target.name + ".bak")
        write_atomic(backup, self.raw, like=target)
        if target.read_bytes() != self.raw:
            raise WriteError(f"{self.path}: changed by someone else while it was being edited; nothing was "
                             "written, run the command again")
        write_atomic(target, bom + new.encode("utf-8"), like=target)
        return Result(self.path, backup, self.changes, diff)


def write_atomic(path: Path, data: bytes, like: Path | None = None) -> None:
    """Replace `path` by `data` all at once: temporary file in the same directory, fsync, rename, fsync the
    directory; the mode and owner are those of `like` (else 0644)."""
    try:
        st = (like or path).stat() if (like or path).exists() else None
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise WriteError(f"{path}: cannot write: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), st.st_mode & 0o7777 if st else 0o644)
            if st is not None:
                with contextlib.suppress(PermissionError):  # only root may give a file away; others keep their own
                    os.fchown(f.fileno(), st.st_uid, st.st_gid)
            os.fsync(f.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the rename itself must survive a power cut
        finally:
            os.close(dir_fd)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise WriteError(f"{path}: cannot write: {exc.strerror or exc}") from None


@contextlib.contextmanager
def edit_lock(path: Path) -> Iterator[None]:
    """Hold the watchlist's edit lock, an flock on `<name>.lock` beside it, waiting up to LOCK_WAIT for another edit.

    Not on the watchlist itself: a write replaces it by rename, so the next edit would lock the new file while a
    third still waits on the old one. The lock file is removed at the end, so it is there only while an edit runs;
    an edit that waited on a removed one locks whatever file has the name now. In a directory this user cannot
    write, no lock is taken: reading (a dry run) is safe, and a write fails there with its own message.
    """
    target = path.resolve()  # beside the file a symlink points to, which is the one replaced
    name = target.with_name(target.name + ".lock")
    deadline = time.monotonic() + LOCK_WAIT
    while True:
        fd = _open_lock(name)
        if fd is None:
            yield
            return
        try:
            _flock(fd, deadline, path)
            if _same_file(fd, name):
                break
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)  # the edit before us removed it after we opened it: lock the one there now
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(name)  # before the close, so a waiter on this inode sees it was removed and starts again
        os.close(fd)


def _open_lock(name: Path) -> int | None:
    """The lock file, created if need be; None in a directory this user cannot write (nothing to protect there)."""
    try:
        return os.open(name, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        error = exc
    with contextlib.suppress(OSError):
        return os.open(name, os.O_RDONLY | os.O_CLOEXEC)  # one another user left behind: flock needs no write access
    if not os.access(name.parent, os.W_OK):
        return None
    raise WriteError(f"{name}: cannot take the edit lock: {error.strerror or error}; nothing was written")


def _flock(fd: int, deadline: float, path: Path) -> None:
    """flock(LOCK_EX) given up at `deadline`: then a WriteError, since the other edit may be stuck."""
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise WriteError(f"{path}: cannot take the edit lock: {exc.strerror or exc}; nothing was written") from None
        if time.monotonic() >= deadline:
            raise WriteError(f"{path}: another edit of this watchlist is still running after {LOCK_WAIT:g} s; "
                             "nothing was written, run the command again")
        time.sleep(0.05)


def _same_file(fd: int, name: Path) -> bool:
    """The open lock file is still the one at `name` (not removed by the edit that held it)."""
    try:
        here = os.stat(name)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (mine.st_dev, mine.st_ino) == (here.st_dev, here.st_ino)
