"""Redaction: secrets never leave the process.

Contract: every boundary where crossline lets data out (an event serialized, spooled,
sent or collected, a log line, a command's output) passes it through this module first.
Emitters and collectors both use it; it imports nothing of either.

- ``redact_text(text)``: any string. In every URI the userinfo (``user:pass@``, or a
  token used as the user name, ``https://ghp_x@github.com``) becomes ``***@``; query
  parameters with a secret-looking name (and the signing parameters of presigned URLs)
  keep their name and lose their value; ``name=value``, ``name: value``, ``--name value`` (also as an argv list
  prints it, ``'--name', 'value'``) with a secret-looking name lose the value (connection strings and
  command lines in error messages); ``Bearer <token>`` loses the token; well-known token
  formats (GitHub, GitLab, Slack, OpenAI-style ``sk-``, AWS access key ids) are replaced
  wherever they stand.
- ``strip_userinfo(uri)``: the URI without its userinfo, for identities (a repository
  URL, an S3 namespace) where ``***@`` would be a new, wrong name.
- ``is_secret_name(name)``: whether a key, argument or parameter name looks secret. The
  name is split into words (``dbPassword``, ``DB_PASSWORD``, ``--db-password`` all give
  ``db password``); it is secret if a word equals or ends with one of the secret keys
  (``dbpassword``; but ``key`` must be a whole word: ``monkey`` is not one), or
  consecutive words spell a multi-word key (``api_key`` matches ``my-api-key``).
  A name that is just ``key`` is not secret: it is the generic key of a key/value pair
  (the ``tags`` facet), whose value is judged by the pair's own name.
- ``redact(value)``: a redacted deep copy of JSON-like data (dicts, lists, strings,
  scalars; an event as ``json.loads`` gives it). A value under a secret-looking key
  becomes ``REDACTED`` whole; so does the ``value`` of a ``{name|key, value}`` pair with a
  secret-looking name, and the item after a secret-looking ``--flag`` in a list (argv);
  every string goes through ``redact_text``. Iterative, so no nesting depth makes it
  raise; it never raises on any input and is idempotent.
- ``redact_event(event)``: ``redact`` for a dict, and for an OpenLineage event or facet
  object (attrs classes) a redacted deep copy of the same type; the caller's object is
  never changed. Anything else is returned as it is.
- ``secret_keys()``: the secret keys in force: ``DEFAULT_SECRET_KEYS`` changed by
  ``$CROSSLINE_REDACT_KEYS`` (comma-separated; ``name`` or ``+name`` adds a key,
  ``-name`` removes a default). Components with their own setting (the durable
  transport's ``redact_keys``) pass ``extra`` in the same syntax.
- ``RedactingFilter``: a ``logging.Filter`` that redacts a record's message, args and
  exception text.
"""

from __future__ import annotations

import copy
import functools
import logging
import os
import re
from collections.abc import Iterable
from typing import Any

import attr

REDACTED = "***"
KEYS_ENV = "CROSSLINE_REDACT_KEYS"
DEFAULT_SECRET_KEYS: tuple[str, ...] = (
    "password", "passwd", "pwd", "passphrase", "secret", "secrets", "token", "key",
    "credential", "credentials", "auth", "authorization", "cookie", "api_key", "access_key",
    "secret_key", "private_key",
)
# These keys match a word only exactly ("key" is not "monkey"); the others also end a word
# ("dbpassword", "githubtoken", "mysqlpwd").
_WHOLE_WORD_ONLY = frozenset({"key"})
# Parameters of presigned URLs (S3 SigV4 and SigV2, GCS, Azure SAS) that carry a credential.
_SIGNING_PARAMS = frozenset({
    "x-amz-signature", "x-amz-credential", "x-amz-security-token", "signature", "sig",
    "x-goog-signature", "x-goog-credential", "awsaccesskeyid",
})
_PAIR_NAMES = ("name", "key", "Name", "Key")
_PAIR_VALUES = ("value", "Value")

_URI_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/?#@\s\"<>]+)@")
_QUERY_PARAM = re.compile(r"(?P<lead>[?&;])(?P<name>[^=&#\s\"'<>]+)=(?P<value>[^&#\s\"'<>]*)")
_ASSIGNMENT = re.compile(
    r"(?P<name>\b[A-Za-z_][A-Za-z0-9_.-]{0,63})(?P<quote>[\"']?)(?P<sep>\s*(?:=|:(?!//))\s*)"
    r"(?P<value>\"[^\"]*\"|'[^']*'|[^\s,;&\"'<>)\]}]+)"
)
_FLAG = re.compile(  # "--db-password X" (X quoted or up to the next space)
    r"(?P<flag>(?<![\w-])--?[A-Za-z][A-Za-z0-9_.-]*)(?P<sep>\s+)(?P<value>\"[^\"]*\"|'[^']*'|[^\s\-]\S*)"
)
_FLAG_IN_LIST = re.compile(  # an argv list as repr or JSON shows it: '--db-password', 'X'
    r"(?P<flag>(?<![\w-])--?[A-Za-z][A-Za-z0-9_.-]*)(?P<sep>([\"'])\s*,\s*([\"']))(?P<value>.*?)(?=\4)"
)
_AUTH_HEADER = re.compile(
    r"(?i)\b(?P<name>(?:proxy-)?authorization)(?P<sep>[\"']?\s*[:=]\s*[\"']?)(?P<value>(?:[A-Za-z]+\s+)?[^\s\"',;]+)"
)
_BEARER = re.compile(r"\b(?P<scheme>[Bb]earer)\s+(?P<value>[A-Za-z0-9._~+/=-]{8,})")
_KNOWN_TOKENS = re.compile(
    r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_-]{20,}"
    r"|xox[abposr]-[A-Za-z0-9-]{10,}|sk-[A-Za-z0-9_-]{20,}|(?:AKIA|ASIA)[0-9A-Z]{16})\b"
)
_NESTED = re.compile(r"(?P<name>\b[A-Za-z_][A-Za-z0-9_.-]{0,63})(?P<quote>[\"']?)\s*[:=]\s*(?P<open>[{\[])")
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


def secret_keys(extra: str | Iterable[str] | None = None) -> tuple[str, ...]:
    """The secret keys in force: the defaults, changed by ``$CROSSLINE_REDACT_KEYS``, then ``extra``."""
    extra_items = tuple(extra.split(",")) if isinstance(extra, str) else tuple(str(e) for e in extra or ())
    return _secret_keys(os.environ.get(KEYS_ENV, ""), extra_items)


@functools.lru_cache(maxsize=64)
def _secret_keys(env: str, extra: tuple[str, ...]) -> tuple[str, ...]:
    keys = list(DEFAULT_SECRET_KEYS)
    for items in (env.split(","), extra):
        for item in (str(i).strip() for i in items):
            if item.startswith("-"):
                keys = [k for k in keys if _normal(k) != _normal(item[1:])]
            elif item.lstrip("+"):
                keys.append(item.lstrip("+"))
    return tuple(dict.fromkeys(k for k in keys if _normal(k)))


def _normal(key: str) -> str:
    return "".join(_words(key))


def _words(name: str) -> list[str]:
    return [w.lower() for w in _WORDS.findall(name)]


class _Rules:
    """What one set of secret keys needs, computed once: a pre-check and a name cache."""

    def __init__(self, keys: tuple[str, ...]) -> None:
        self.keys = keys
        self.wanted = [_normal(k) for k in keys]
        # A text can hold a secret only if it holds one of these (lower-cased); most hold none.
        words = {(_words(k) or [k.lower()])[-1] for k in keys} | _TRIGGER_WORDS
        self.words = tuple(sorted(w for w in words if not any(o != w and o in w for o in words)))
        self.names: dict[str, bool] = {}
        self.texts: dict[str, str] = {}  # recent short texts and their redacted form

    def trigger(self, text: str) -> bool:
        low = text.lower()
        for word in self.words:
            if word in low:
                return True
        return False

    def text(self, text: str) -> str:
        """``redact_text`` with these keys, remembering short texts (names, URLs repeat a lot)."""
        done = self.texts.get(text)
        if done is not None:
            return done
        done = _redact_text(text, self) if self.trigger(text) else text
        if len(text) <= 256:
            if len(self.texts) >= 8192:
                self.texts.clear()
            self.texts[text] = done
        return done

    def secret(self, name: str) -> bool:
        known = self.names.get(name)
        if known is None:
            known = self._secret(name)
            if len(self.names) < 65536:
                self.names[name] = known
        return known

    def _secret(self, name: str) -> bool:
        words = _words(name)[:24]
        if not words or words == ["key"]:
            return False
        for wanted in self.wanted:
            for i, word in enumerate(words):
                if word == wanted or (wanted not in _WHOLE_WORD_ONLY and word.endswith(wanted)):
                    return True
                joined = word
                for nxt in words[i + 1 :]:
                    joined += nxt
                    if joined == wanted:
                        return True
                    if len(joined) >= len(wanted):
                        break
        return False


_TRIGGER_WORDS = {"@", "earer", "signature", "sig=", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_",
                  "glpat-", "xox", "sk-", "akia", "asia"}


@functools.lru_cache(maxsize=64)
def _rules(keys: tuple[str, ...]) -> _Rules:
    return _Rules(keys)


def _is_secret(name: str, keys: tuple[str, ...]) -> bool:
    return _rules(keys).secret(name)


def is_secret_name(name: Any, keys: tuple[str, ...] | None = None) -> bool:
    """Whether ``name`` (a key, argument or parameter name) looks like it holds a secret."""
    return isinstance(name, str) and _is_secret(name, keys if keys is not None else secret_keys())


def strip_userinfo(uri: str) -> str:
    """``uri`` without ``user:pass@`` after its scheme (unchanged if it has none)."""
    return _URI_USERINFO.sub(lambda m: m["scheme"], uri) if "@" in uri else uri


def redact_text(text: str, keys: tuple[str, ...] | None = None) -> str:
    """``text`` with every secret this module recognizes replaced by ``REDACTED``."""
    if not isinstance(text, str) or not text:
        return text
    return _rules(keys if keys is not None else secret_keys()).text(text)


def _redact_text(text: str, rules: _Rules) -> str:
    keys = rules.keys
    out = text
    if "@" in out:
        out = _URI_USERINFO.sub(lambda m: f"{m['scheme']}{REDACTED}@", out)
    if "=" in out and ("?" in out or "&" in out or ";" in out):
        out = _QUERY_PARAM.sub(lambda m: _param(m, keys), out)
    if "=" in out or ":" in out:
        if "{" in out or "[" in out:
            out = _redact_nested(out, rules)
        out = _AUTH_HEADER.sub(lambda m: m[0] if m["value"] == REDACTED else f"{m['name']}{m['sep']}{REDACTED}", out)
        out = _ASSIGNMENT.sub(lambda m: _assignment(m, keys), out)
    if "-" in out:
        out = _FLAG_IN_LIST.sub(lambda m: _flag(m, keys), out)
        out = _FLAG.sub(lambda m: _flag(m, keys), out)
    if "earer" in out:
        out = _BEARER.sub(lambda m: f"{m['scheme']} {REDACTED}", out)
    return _KNOWN_TOKENS.sub(REDACTED, out)


def _redact_nested(text: str, rules: _Rules) -> str:
    """``"password": {...}`` or ``[...]`` in text (a logged JSON body): the whole block goes."""
    pieces, pos = [], 0
    for m in _NESTED.finditer(text):
        if m.start() < pos or not rules.secret(m["name"]):
            continue
        end = _closing(text, m.end("open") - 1)
        pieces += [text[pos : m.start("open")], f'"{REDACTED}"']
        pos = end
    return "".join(pieces) + text[pos:] if pieces else text


def _closing(text: str, start: int) -> int:
    """The index after the bracket that closes ``text[start]`` (or the end), skipping quoted text."""
    depth, quote, i = 0, "", start
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return len(text)


def _param(m: re.Match[str], keys: tuple[str, ...]) -> str:
    name = m["name"]
    if m["value"] and m["value"] != REDACTED and (name.lower() in _SIGNING_PARAMS or _is_secret(name, keys)):
        return f"{m['lead']}{name}={REDACTED}"
    return m[0]


def _assignment(m: re.Match[str], keys: tuple[str, ...]) -> str:
    value = m["value"]
    if value.strip("\"'") in (REDACTED, "") or not _is_secret(m["name"], keys):
        return m[0]
    if value[:1] in "\"'" and len(value) >= 2:
        value = value[0] + REDACTED + value[-1]
    else:
        value = REDACTED
    return f"{m['name']}{m['quote']}{m['sep']}{value}"


def _flag(m: re.Match[str], keys: tuple[str, ...]) -> str:
    if m["value"] == REDACTED or not _is_secret(m["flag"], keys):
        return m[0]
    return f"{m['flag']}{m['sep']}{REDACTED}"


# -- structured data ------------------------------------------------------------------------
def redact(value: Any, keys: tuple[str, ...] | None = None) -> Any:
    """A redacted deep copy of JSON-like ``value`` (see the module docstring); never raises."""
    keys = keys if keys is not None else secret_keys()
    rules = _rules(keys)
    text, secret = rules.text, rules.secret
    out_root: list[Any] = [None]
    # (source container, destination container) pairs still to fill in; no recursion.
    stack: list[tuple[Any, Any]] = [([value], out_root)]
    while stack:
        src, dst = stack.pop()
        if isinstance(src, dict):
            for k, v in src.items():
                if isinstance(k, str):
                    if v is not None and v != REDACTED and secret(k):
                        dst[text(k)] = REDACTED
                        continue
                    k = text(k)
                if isinstance(v, str):
                    dst[k] = text(v)
                elif isinstance(v, dict):
                    dst[k] = child = {}
                    stack.append((v, child))
                elif isinstance(v, (list, tuple)):
                    dst[k] = child = [None] * len(v)
                    stack.append((v, child))
                else:
                    dst[k] = v
            if "value" in dst or "Value" in dst:
                _hide_pair(dst, keys)
        else:
            secret_next = False
            for i, item in enumerate(src):
                if isinstance(item, str):
                    dst[i] = REDACTED if secret_next else text(item)
                    secret_next = item.startswith("-") and "=" not in item and secret(item)
                    continue
                secret_next = False
                if isinstance(item, dict):
                    dst[i] = child = {}
                    stack.append((item, child))
                elif isinstance(item, (list, tuple)):
                    dst[i] = child = [None] * len(item)
                    stack.append((item, child))
                else:
                    dst[i] = item
    return out_root[0]


def _hides(key: Any, value: Any, keys: tuple[str, ...]) -> bool:
    return value is not None and value != REDACTED and isinstance(key, str) and _is_secret(key, keys)


def _hide_pair(pair: dict[Any, Any], keys: tuple[str, ...]) -> None:
    """``{"name": "db_password", "value": "x"}`` (and Key/Value): hide the value."""
    for name_key in _PAIR_NAMES:
        name = pair.get(name_key)
        if isinstance(name, str) and _is_secret(name, keys):
            for value_key in _PAIR_VALUES:
                if pair.get(value_key) is not None:
                    pair[value_key] = REDACTED
            return


def redact_event(event: Any, keys: tuple[str, ...] | None = None) -> Any:
    """A redacted copy of an event or facet: a dict as ``redact`` does, an attrs object in kind."""
    keys = keys if keys is not None else secret_keys()
    if isinstance(event, (dict, list, str)):
        return redact(event, keys)
    if not attr.has(type(event)):
        return event
    try:
        clone = copy.deepcopy(event)
    except Exception:  # an object that cannot be copied is sent as the caller built it  # noqa: BLE001
        logging.getLogger(__name__).warning("crossline: cannot copy a %s to redact it", type(event).__name__)
        return event
    _redact_attrs_in_place(clone, keys)
    return clone


def _redact_attrs_in_place(root: Any, keys: tuple[str, ...]) -> None:
    """Walk a deep copy: attrs fields, dict values and list items, replacing what ``redact`` would."""
    stack: list[Any] = [root]
    seen: set[int] = set()
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if attr.has(type(obj)):
            for field in attr.fields(type(obj)):
                value = getattr(obj, field.name, None)
                new = _attrs_value(field.name, value, keys, stack)
                if new is not value:
                    object.__setattr__(obj, field.name, new)
        elif isinstance(obj, dict):
            for k in list(obj):
                obj[k] = _attrs_value(k, obj[k], keys, stack)
            _hide_pair(obj, keys)
        elif isinstance(obj, list):
            secret_next = False
            for i, item in enumerate(obj):
                obj[i] = REDACTED if secret_next and isinstance(item, str) else _attrs_value(None, item, keys, stack)
                secret_next = isinstance(item, str) and item.startswith("-") and "=" not in item \
                    and _is_secret(item, keys)


def _attrs_value(name: Any, value: Any, keys: tuple[str, ...], stack: list[Any]) -> Any:
    if _hides(name, value, keys):
        return REDACTED
    if isinstance(value, str):
        red = redact_text(value, keys)
        return value if red == value else red
    if isinstance(value, tuple):
        return tuple(_attrs_value(None, v, keys, stack) for v in value)
    if isinstance(value, (dict, list)) or attr.has(type(value)):
        stack.append(value)
    return value


class RedactingFilter(logging.Filter):
    """Redacts each record's message (args included) and its exception text before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: let logging report it as usual  # noqa: BLE001
            return True
        clean = redact_text(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            # Formatters use exc_text when it is set: a traceback quoting a URL stays clean.
            record.exc_text = redact_text(_FORMATTER.formatException(record.exc_info))
        return True


_FORMATTER = logging.Formatter()
