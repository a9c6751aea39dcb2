"""Reading the JSON / YAML text every file format here is written in, with errors that name
the file and say what is wrong instead of a traceback from deep inside a parser.

* the bytes must be UTF-8 text (a UTF-8 BOM is fine): a binary file, a UTF-16 file or
  another encoding is refused with what it looks like;
* a syntax error, or nesting deep enough to exhaust the parser's recursion, is refused;
* a key given twice in one object / mapping (JSON and YAML keep the last one silently) is
  recorded: the object is then a :class:`KeyRecordingDict` whose ``duplicates`` lists
  those keys (:func:`duplicate_keys`), so that the reader can name where it happened.

Every function takes the error type to raise (each format has its own, e.g.
``CalibrationError``, ``PseudoLabelError``); messages start with the file path.
"""
from __future__ import annotations

import json
from typing import List, Type

import yaml

__all__ = ['KeyRecordingDict', 'duplicate_keys', 'refuse_duplicate_keys', 'read_text',
           'load_json', 'load_yaml']


class KeyRecordingDict(dict):
    """A parsed object in which some keys appeared more than once (the last value won)."""
    duplicates: List[str]


def duplicate_keys(obj) -> List[str]:
    """The keys given more than once in the parsed object ``obj`` (``[]`` for any other)."""
    return list(getattr(obj, 'duplicates', ()))


def refuse_duplicate_keys(obj, where: str, error=ValueError) -> None:
    """Raise ``error`` naming ``where`` when a key of ``obj`` was given more than once."""
    dups = duplicate_keys(obj)
    if dups:
        raise error(f'{where}: field(s) {dups} appear more than once (JSON keeps only the '
                    'last value silently)')


def _record_pairs(pairs) -> dict:
    out, dups = {}, []
    for k, v in pairs:
        if k in out and k not in dups:
            dups.append(k)
        out[k] = v
    if not dups:
        return out
    rec = KeyRecordingDict(out)
    rec.duplicates = dups
    return rec


def read_text(path: str, error: Type[Exception], what: str = 'text') -> str:
    """The file's content as text; ``error`` if it is not UTF-8 (binary, UTF-16, ...)."""
    with open(path, 'rb') as f:
        data = f.read()
    if data.startswith((b'\xff\xfe', b'\xfe\xff')):
        raise error(f'{path}: UTF-16 text (it starts with a UTF-16 byte-order mark): '
                    f'save it as UTF-8 {what}')
    if b'\x00' in data[:4096]:
        raise error(f'{path}: a binary file (it contains NUL bytes; UTF-16 without a '
                    f'byte-order mark also does), not UTF-8 {what}')
    try:
        return data.decode('utf-8-sig')
    except UnicodeDecodeError as e:
        raise error(f'{path}: not UTF-8 {what}: byte {e.start} ({data[e.start:e.start + 1]!r})'
                    ' is invalid (a binary file, or text in another encoding? save it as '
                    'UTF-8)') from None


def _parse(path: str, error: Type[Exception], what: str, parse, syntax_error):
    """Read ``path`` as UTF-8 text and parse it; every failure is an ``error`` naming it."""
    text = read_text(path, error, f'{what} text')
    try:
        return parse(text)
    except syntax_error as e:
        raise error(f'{path}: not valid {what}: {e}') from None
    except RecursionError:
        raise error(f'{path}: the {what} is nested too deeply to be a file of this format '
                    '(Python\'s recursion limit was reached while parsing it)') from None


def load_json(path: str, error: Type[Exception]):
    """Parse a JSON file; objects with a repeated key come back as
    :class:`KeyRecordingDict`."""
    return _parse(path, error, 'JSON', lambda t: json.loads(t, object_pairs_hook=_record_pairs),
                  json.JSONDecodeError)


class _RecordingLoader(yaml.SafeLoader):
    """PyYAML's safe loader, recording repeated mapping keys."""

    def construct_mapping(self, node, deep=False):
        keys = [(k.tag, k.value) for k, _ in getattr(node, 'value', ())
                if isinstance(k, yaml.ScalarNode) and k.tag != 'tag:yaml.org,2002:merge']
        dups = [v for i, (t, v) in enumerate(keys) if (t, v) in keys[:i]]
        mapping = super().construct_mapping(node, deep)
        if dups:
            mapping = KeyRecordingDict(mapping)
            mapping.duplicates = list(dict.fromkeys(dups))
        return mapping


_RecordingLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
                                 _RecordingLoader.construct_mapping)


def load_yaml(path: str, error: Type[Exception]):
    """Parse a YAML file (safe loader); mappings with a repeated key come back as
    :class:`KeyRecordingDict`."""
    return _parse(path, error, 'YAML', lambda t: yaml.load(t, Loader=_RecordingLoader),
                  yaml.YAMLError)
