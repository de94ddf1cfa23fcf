"""Small libraries written to disk for the documentation tests (imported by their subprocesses)."""

from __future__ import annotations

import textwrap
from pathlib import Path

TINY_INIT = '''
"""sparktinylib: a tiny data library for Spark's documentation tests."""

__version__ = "{version}"

from sparktinylib.frame import Frame, read_table
from sparktinylib import odd


def merge_frames(left, right, how="inner"):
    """Merge two frames on their common columns.

    Parameters
    ----------
    left : Frame
        The left frame.
    right : Frame
        The right frame.
    how : {{"inner", "outer"}}, default "inner"
        Which rows to keep.

    Returns
    -------
    Frame
        The merged frame, with the columns of both.

    Notes
    -----
    Rows are matched by hashing the common columns; the order of the left frame is kept.

    .. versionchanged:: 1.0
       ``how="outer"`` keeps rows of both frames.

    Examples
    --------
    >>> merge_frames(Frame(a=[1]), Frame(a=[1]))
    Frame(a=[1])
    """
    return left


def google_style(path, retries=3):
    """{google_summary}

    Args:
        path (str): Where the table lives.
        retries (int): How many times to try again.

    Returns:
        bytes: The raw table.
    """
    return b""


def undocumented(x):
    return x
'''

TINY_FRAME = '''
"""Frames: rows of named columns."""

import collections


class _Accessor:
    """As pandas' `Series.str`: the namespace class on the class, bound to an instance on one."""

    def __init__(self, namespace):
        self._namespace = namespace

    def __get__(self, obj, owner=None):
        return self._namespace if obj is None else self._namespace(obj)


class _TextMethods:
    """Vectorized text functions for the strings of a frame or a column."""

    def __init__(self, data):
        self._data = data

    def upper(self):
        """Convert every string to upper case."""
        return self._data

    @property
    def length(self):
        """Number of characters of each string."""
        return []


class _Axis:
    """As pandas' `AxisProperty`: a data descriptor whose docstring is the instance's own."""

    def __init__(self, doc):
        self.__doc__ = doc

    def __get__(self, obj, owner=None):
        return self if obj is None else list(obj.columns)

    def __set__(self, obj, value):
        raise AttributeError("read-only")


Pair = collections.namedtuple("Pair", "left right")  # its fields' descriptors are not ours


class Frame:
    """A table of named columns, each one a list.

    Parameters
    ----------
    **columns
        Column name to list of values.
    """

    text = _Accessor(_TextMethods)
    labels = _Axis("The names of the columns, in their order.")

    def __init__(self, **columns):
        self.columns = columns

    def sort_values(self, by, kind="quicksort"):
        """Sort the rows by the values of one column.

        Parameters
        ----------
        by : str
            The column to sort by.
        kind : {"quicksort", "stable"}, default "quicksort"
            Sorting algorithm; only "stable" keeps the order of equal values.

        Returns
        -------
        Frame
            A new frame with its rows in order.

        See Also
        --------
        to_records : The rows as dictionaries.
        merge_frames, nosuchfunction

        .. deprecated:: 0.9
           ``kind="mergesort"``: use ``kind="stable"``.
        """
        return self

    @property
    def shape(self):
        """Number of rows and columns, as a tuple."""
        return (0, len(self.columns))

    def to_records(self):
        """Convert the frame to a list of row dictionaries, one per row."""
        return []


class Column:
    """One named column of a frame."""

    text = _Accessor(_TextMethods)


class KeyColumn(Column):
    """A column whose values are unique."""


def read_table(path):
    """Read a frame from a tab-separated text file on disk."""
    return Frame()
'''

TINY_ODD = '''
"""Docstrings that are hard to read."""


def surrogates():
    """Lone \\udcff surrogate, a NUL \\x00 and \\ttabs.

    Parameters
    ----------
    : missing name
    x : int
        \\u00e9t\\u00e9 \\U0001F600

    Returns
    -------
    """


def broken_rst():
    """Summary with `unclosed backquote and :func:`role

    .. directive-without-body::

    Parameters
    ----------
    """


class WeirdDoc:
    __doc__ = 42  # not a string

    def method(self):
        """A method of a class whose own docstring is not a string."""


def epytext(a):
    """Epydoc style.

    @param a: the value
    @return: the same value
    """
    return a
'''


def write_tiny_lib(root: Path, version: str = "1.0",
                   google_summary: str = "Load a table from a path, retrying on failure.") -> Path:
    """`sparktinylib` (with package metadata, so its version is known without importing it)."""
    pkg = root / "sparktinylib"
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text(
        TINY_INIT.format(version=version, google_summary=google_summary), encoding="utf-8")
    (pkg / "frame.py").write_text(TINY_FRAME, encoding="utf-8")
    (pkg / "odd.py").write_text(TINY_ODD, encoding="utf-8")
    for old in root.glob("sparktinylib-*.dist-info"):
        for f in old.iterdir():
            f.unlink()
        old.rmdir()
    meta = root / f"sparktinylib-{version}.dist-info"
    meta.mkdir()
    (meta / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: sparktinylib\nVersion: {version}\n", encoding="utf-8")
    return root


def write_bad_libs(root: Path) -> Path:
    """`sparkbrokenlib` fails to import; `sparkhanginglib` never finishes importing."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "sparkbrokenlib.py").write_text('raise ImportError("sparkbrokenlib is broken")\n',
                                           encoding="utf-8")
    (root / "sparkhanginglib.py").write_text(textwrap.dedent('''
        import time
        while True:
            time.sleep(1)
    '''), encoding="utf-8")
    return root
