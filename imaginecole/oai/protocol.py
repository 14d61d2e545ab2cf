"""The rules of OAI-PMH 2.0 requests: verbs, arguments, dates and resumption tokens.

Pure functions over the request's arguments; each refusal is an ``OaiError`` with the code the
protocol names (section 3.6 of the specification).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from imaginecole.clock import as_utc

METADATA_PREFIX = "oai_dc"

# verb -> (required arguments, optional arguments, exclusive argument)
VERBS: dict[str, tuple[frozenset[str], frozenset[str], str | None]] = {
    "Identify": (frozenset(), frozenset(), None),
    "ListMetadataFormats": (frozenset(), frozenset({"identifier"}), None),
    "ListSets": (frozenset(), frozenset(), "resumptionToken"),
    "GetRecord": (frozenset({"identifier", "metadataPrefix"}), frozenset(), None),
    "ListIdentifiers": (
        frozenset({"metadataPrefix"}),
        frozenset({"from", "until", "set"}),
        "resumptionToken",
    ),
    "ListRecords": (
        frozenset({"metadataPrefix"}),
        frozenset({"from", "until", "set"}),
        "resumptionToken",
    ),
}

SET_SPEC = re.compile(r"[A-Za-z0-9\-_.!~*'()]+(:[A-Za-z0-9\-_.!~*'()]+)*\Z")
DAY = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
SECOND = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z\Z")
MAX_ARGUMENT_CHARS = 1000


class OaiError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class OaiRequest:
    verb: str
    arguments: dict[str, str]


def parse_request(multi: dict[str, list[str]]) -> OaiRequest:
    """Check a request's arguments (name -> every value given) against its verb's rules."""
    verbs = multi.get("verb", [])
    if len(verbs) != 1 or verbs[0] not in VERBS:
        raise OaiError("badVerb", "The verb is missing, repeated or not an OAI-PMH verb.")
    verb = verbs[0]
    required, optional, exclusive = VERBS[verb]
    arguments: dict[str, str] = {}
    for name, values in multi.items():
        if name == "verb":
            continue
        if name not in required | optional and name != exclusive:
            raise OaiError("badArgument", f"{verb} takes no argument named {name!r}.")
        if len(values) != 1:
            raise OaiError("badArgument", f"The argument {name!r} is repeated.")
        if len(values[0]) > MAX_ARGUMENT_CHARS:
            raise OaiError("badArgument", f"The argument {name!r} is too long.")
        if "\x00" in values[0]:
            raise OaiError("badArgument", f"The argument {name!r} contains a NUL character.")
        arguments[name] = values[0]
    if exclusive and exclusive in arguments:
        if len(arguments) > 1:
            raise OaiError("badArgument", f"{exclusive} must be the only argument with the verb.")
        return OaiRequest(verb, arguments)
    missing = sorted(required - arguments.keys())
    if missing:
        raise OaiError("badArgument", f"{verb} needs the argument {missing[0]!r}.")
    if "set" in arguments and not SET_SPEC.match(arguments["set"]):
        raise OaiError("badArgument", "The set argument is not a setSpec.")
    return OaiRequest(verb, arguments)


def check_prefix(prefix: str) -> None:
    if prefix != METADATA_PREFIX:
        raise OaiError(
            "cannotDisseminateFormat", f"This repository disseminates {METADATA_PREFIX} only."
        )


def date_range(since: str | None, until: str | None) -> tuple[datetime | None, datetime | None]:
    """Return the inclusive start and exclusive end of ``from`` and ``until``.

    Datestamps are shown to the second: ``until`` includes its whole second (or whole day).
    """
    start = _parse_date(since, "from") if since else None
    end = _parse_date(until, "until") if until else None
    if since and until and len(since) != len(until):
        raise OaiError("badArgument", "from and until must have the same granularity.")
    if start is not None and end is not None and start > end:
        raise OaiError("badArgument", "from is later than until.")
    if end is not None:
        end += timedelta(days=1) if len(until or "") == 10 else timedelta(seconds=1)
    return start, end


def _parse_date(text: str, name: str) -> datetime:
    try:
        if DAY.match(text):
            return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
        if SECOND.match(text):
            return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        pass
    raise OaiError("badArgument", f"{name} must be a UTC date, YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ.")


def datestamp(stamp: datetime) -> str:
    return as_utc(stamp).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Token:
    """Where a list stopped: the request's selection, the last identifier sent, how many."""

    since: str | None
    until: str | None
    set_spec: str | None
    after: str
    cursor: int


def encode_token(token: Token) -> str:
    data = [token.since, token.until, token.set_spec, token.after, token.cursor]
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_token(text: str) -> Token:
    """Return the token a previous response gave, or raise badResumptionToken."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        since, until, set_spec, after, cursor = json.loads(raw)
        token = Token(since, until, set_spec, after, cursor)
        if not (
            all(v is None or isinstance(v, str) for v in (since, until, set_spec))
            and isinstance(after, str)
            and after
            and isinstance(cursor, int)
            and not isinstance(cursor, bool)
            and cursor > 0
        ):
            raise ValueError
        date_range(since, until)
        if set_spec is not None and not SET_SPEC.match(set_spec):
            raise ValueError
        return token
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, OaiError):
        raise OaiError("badResumptionToken", "This resumptionToken is not one of ours.") from None
