"""Event tables on disk: Parquet (default), ROOT TTrees (uproot) and CSV.

An event table is columnar, one row per event, flat float columns with physics
names (``pho1_pt``, ``n_jets``, ``weight``, ...). Every file hepgan writes
carries a JSON metadata record (hepgan version, config, seed, generator
settings) and is written under a temporary name, then renamed: a crash never
leaves a half-written file under the real name.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hepgan import __version__
from hepgan.exceptions import ConfigError, InputFileError, MissingExtraError, SchemaError

__all__ = [
    "MARKER",
    "RUN_FILES",
    "atomic_dir",
    "format_of",
    "check_output_file",
    "check_output_dir",
    "check_not_an_input",
    "claim_run_dir",
    "clear_run",
    "is_hepgan_dir",
    "mark_dir",
    "run_dir_lock",
    "atomic_path",
    "check_columns",
    "check_finite",
    "iter_table",
    "table_columns",
    "check_table_columns",
    "read_metadata",
    "count_rows",
    "read_table",
    "write_table",
    "ChunkedParquetWriter",
    "ChunkedTableWriter",
]

METADATA_KEY = b"hepgan"
FORMATS = ("parquet", "root", "csv")


def format_of(path: Path, fmt: str | None = None) -> str:
    """The table format of ``path``: ``fmt`` when given (checked), else from the suffix (.parquet/.pq, .root, .csv/.txt).

    Example:
        >>> format_of(Path("events.pq")), format_of(Path("out.root")), format_of(Path("x.dat"), "csv")
        ('parquet', 'root', 'csv')
    """
    if fmt is not None:
        if fmt not in FORMATS:
            raise InputFileError(f"{path}: unknown format '{fmt}', expected one of {', '.join(FORMATS)}")
        return fmt
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix == ".root":
        return "root"
    if suffix in (".csv", ".txt"):
        return "csv"
    raise InputFileError(f"{path}: cannot tell the format from the suffix '{suffix}' (expected .parquet, .root or .csv)")


def _split_root_path(path: str | Path) -> tuple[Path, str | None]:
    """``file.root:tree`` -> (file.root, tree)."""
    s = str(path)
    if ".root:" in s:
        file, tree = s.rsplit(":", 1)
        return Path(file), tree
    return Path(s), None


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yields a temporary path beside ``path``; renames it to ``path`` on success.

    On any exception the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputFileError(f"{path}: the output folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise InputFileError(f"{path}: the output folder {parent} is not writable")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; a result should be readable like any file
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


#: The file hepgan writes into every folder it makes (run folders, evaluation folders): how it
#: recognises a folder of its own.
MARKER = ".hepgan"


def _real(path: str | Path) -> Path:
    """The file system path of an input or output (a ``.root:tree`` suffix stripped), symlinks resolved."""
    return _split_root_path(path)[0].resolve()


def is_hepgan_dir(path: str | Path) -> bool:
    """True when ``path`` is a folder hepgan made (it holds the marker file)."""
    return (Path(path) / MARKER).is_file()


def mark_dir(path: str | Path, command: str) -> None:
    """Writes the marker that says hepgan made the folder (kept if it is there already)."""
    marker = Path(path) / MARKER
    if not marker.is_file():
        with atomic_path(marker) as tmp:
            tmp.write_text(json.dumps({"made_by": f"hepgan {command}", "hepgan_version": __version__}) + "\n")


def check_not_an_input(out: str | Path, inputs: Sequence[str | Path | None], option: str = "--out") -> None:
    """Raises ConfigError when the output is one of the command's inputs, or an input lies inside an output folder.

    Paths are compared after resolving symlinks; this holds even with ``--overwrite``.
    """
    o = _real(out)
    for i in inputs:
        if i is None:
            continue
        ip = _real(i)
        if o == ip or (o.exists() and ip.exists() and os.path.samefile(o, ip)):
            raise ConfigError(f"{out}: is also an input of this command ({i}); hepgan never writes over its inputs: choose another {option}")
        if o.is_dir() and o in ip.parents:
            raise ConfigError(f"{out}: the input {i} lies in this output folder; hepgan never writes where its inputs are: choose another {option}")


def _check_writable_place(out: Path, option: str) -> None:
    parent = out.parent if str(out.parent) else Path(".")
    existing = next((p for p in [parent, *parent.parents] if p.exists()), Path("."))
    if not existing.is_dir():
        raise InputFileError(f"{out}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputFileError(f"{out}: the folder {existing} is not writable")


def check_output_file(out: str | Path, fmt: str = "parquet", inputs: Sequence[str | Path | None] = (), overwrite: bool = True, option: str = "--out") -> Path:
    """Checks, before long work starts, that ``out`` can be written as ``fmt``.

    Raises when ``out`` is a folder, its folder does not exist or is not writable, it is one of
    ``inputs`` (always), or it exists and ``overwrite`` is False.
    """
    out = _split_root_path(out)[0]
    parent = out.parent if str(out.parent) else Path(".")
    if out.is_dir():
        raise InputFileError(f"{out}: is a folder, expected a file name")
    if not parent.is_dir():
        raise InputFileError(f"{out}: the output folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise InputFileError(f"{out}: the output folder {parent} is not writable")
    check_not_an_input(out, inputs, option)
    if (out.exists() or out.is_symlink()) and not overwrite:
        raise ConfigError(f"{out}: exists already; hepgan replaces a file only with --overwrite (or choose another {option})")
    if fmt == "root":
        try:
            import uproot  # noqa: F401
        except ImportError as err:
            raise MissingExtraError("uproot", "root") from err
    return out


def check_output_dir(out: str | Path, inputs: Sequence[str | Path | None] = (), overwrite: bool = False, option: str = "--out") -> Path:
    """Checks an output folder: it may be new, empty or hepgan's own; a folder with a user's files needs ``overwrite``.

    Even then hepgan only writes its own files beside the user's and deletes none. An output folder
    that is a file, lies in an unwritable place, is an input or holds an input is refused always.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputFileError(f"{out}: is a file, expected a folder for {option}")
    _check_writable_place(out, option)
    if out.is_dir() and not os.access(out, os.W_OK | os.X_OK):
        raise InputFileError(f"{out}: the folder is not writable")
    check_not_an_input(out, inputs, option)
    if out.is_dir() and any(out.iterdir()) and not is_hepgan_dir(out) and not overwrite:
        raise ConfigError(
            f"{out}: holds files hepgan did not write; choose another {option}, or pass --overwrite "
            "(hepgan then writes its own files beside them and deletes none)"
        )
    return out


@contextlib.contextmanager
def atomic_dir(path: str | Path, command: str = "evaluate") -> Iterator[Path]:
    """Yields a temporary folder beside ``path``; once the block succeeds its files move into ``path``.

    Only the files the block wrote are replaced in ``path`` (each by an atomic rename); anything
    else in ``path`` is left alone, and the folder gets hepgan's marker. On any exception the
    temporary folder is removed and ``path`` is untouched.
    """
    import shutil

    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    except OSError as err:
        raise InputFileError(f"{path}: cannot create the output folder ({err.strerror})") from None
    try:
        yield tmp
        path.mkdir(exist_ok=True)
        os.chmod(path, 0o777 & ~_umask())
        for src in sorted(tmp.rglob("*")):
            dst = path / src.relative_to(tmp)
            if src.is_dir():
                dst.mkdir(exist_ok=True)
            else:
                os.chmod(src, 0o666 & ~_umask())
                os.replace(src, dst)
        mark_dir(path, command)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


RUN_FILES = ("checkpoint.safetensors", "model_best.safetensors", "history.json")


def claim_run_dir(run_dir: str | Path, overwrite: bool = False, command: str = "train") -> Path:
    """Creates a run folder, or takes an existing one (see :func:`check_output_dir`), and marks it as hepgan's.

    Call :func:`clear_run` next, under :func:`run_dir_lock`.
    """
    run_dir = check_output_dir(run_dir, overwrite=overwrite, option="--run-dir")
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputFileError(f"{run_dir}: cannot create the run folder ({err.strerror})") from None
    mark_dir(run_dir, command)
    return run_dir


def clear_run(run_dir: str | Path, overwrite: bool = False) -> None:
    """Refuses a folder that already holds a run (see RUN_FILES) unless ``overwrite``, which removes its run files."""
    run_dir = Path(run_dir)
    held = [name for name in RUN_FILES if (run_dir / name).exists()]
    if held and not overwrite:
        raise ConfigError(
            f"{run_dir}: already holds a run ({held[0]}); continue it with --resume {run_dir}, "
            "choose another --run-dir, or pass --overwrite"
        )
    for name in held:
        (run_dir / name).unlink()


@contextlib.contextmanager
def run_dir_lock(run_dir: str | Path) -> Iterator[None]:
    """Holds the lock of a run folder for the block: a second hepgan process on it is refused.

    The lock is an advisory ``flock`` on ``RUN_DIR/.hepgan.lock``, which the operating system
    releases when the holder dies: a lock left by a killed process is taken over.
    """
    import socket

    path = Path(run_dir) / ".hepgan.lock"
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    f = open(path, "a+")  # noqa: SIM115 - held open for the whole block
    try:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            raise ConfigError(f"{run_dir}: in use by {holder}; wait until it ends (or stop it) and try again") from None
        f.seek(0)
        f.truncate()
        f.write(f"hepgan process {os.getpid()} on {socket.gethostname()}\n")
        f.flush()
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
    finally:
        f.close()


def _metadata_record(metadata: dict[str, Any] | None) -> dict[str, Any]:
    record = {"hepgan_version": __version__}
    record.update(metadata or {})
    return record


def _to_arrow(df: pd.DataFrame, metadata: dict[str, Any] | None):
    import pyarrow as pa

    table = pa.Table.from_pandas(df, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta.pop(b"pandas", None)
    meta[METADATA_KEY] = json.dumps(_metadata_record(metadata), default=str).encode()
    return table.replace_schema_metadata(meta)


def write_table(
    df: pd.DataFrame,
    path: str | Path,
    metadata: dict[str, Any] | None = None,
    fmt: str | None = None,
    tree: str = "events",
) -> Path:
    """Writes an event table atomically.

    Args:
        df: the table, one row per event.
        path: output file; the suffix picks the format unless ``fmt`` is given.
        metadata: JSON-serialisable record stored with the table.
        fmt: "parquet", "root" or "csv".
        tree: TTree name for ROOT output.

    Returns:
        The path written.
    """
    path, tree_in_path = _split_root_path(path)
    tree = tree_in_path or tree
    fmt = format_of(path, fmt)
    with atomic_path(path) as tmp:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            pq.write_table(_to_arrow(df, metadata), tmp)
        elif fmt == "root":
            try:
                import uproot
            except ImportError as err:
                raise MissingExtraError("uproot", "root") from err
            with uproot.recreate(tmp) as f:
                arrays = {c: np.ascontiguousarray(df[c].to_numpy()) for c in df.columns}
                # mktree: a TTree, which every ROOT version reads (plain assignment makes an RNTuple)
                t = f.mktree(tree, {c: a.dtype for c, a in arrays.items()})
                t.extend(arrays)
                # ROOT has no free-form file metadata in uproot; store it as a TObjString.
                f["hepgan_metadata"] = json.dumps(_metadata_record(metadata), default=str)
        else:
            with open(tmp, "w") as f:
                f.write("# hepgan " + json.dumps(_metadata_record(metadata), default=str) + "\n")
                df.to_csv(f, index=False)
    return path


class ChunkedTableWriter:
    """Writes a Parquet or ROOT file chunk by chunk under a temporary name (bounded memory).

    Use as a context manager; the file appears under its real name only when
    the block exits without an exception.
    """

    def __init__(self, path: str | Path, metadata: dict[str, Any] | None = None, fmt: str | None = None, tree: str = "events"):
        path, tree_in_path = _split_root_path(path)
        self.path = path
        self.tree = tree_in_path or tree
        self.fmt = format_of(path, fmt)
        if self.fmt == "csv":
            raise InputFileError(f"{path}: chunked output is written as .parquet or .root, not CSV")
        self.metadata = metadata
        self._ctx = atomic_path(self.path)
        self._writer = None
        self.n_rows = 0

    def __enter__(self) -> ChunkedTableWriter:
        self._tmp = self._ctx.__enter__()
        return self

    def write(self, df: pd.DataFrame) -> None:
        if self.fmt == "parquet":
            import pyarrow.parquet as pq

            table = _to_arrow(df, self.metadata)
            if self._writer is None:
                self._writer = pq.ParquetWriter(self._tmp, table.schema)
            self._writer.write_table(table)
        else:
            try:
                import uproot
            except ImportError as err:
                raise MissingExtraError("uproot", "root") from err
            arrays = {c: np.ascontiguousarray(df[c].to_numpy()) for c in df.columns}
            if self._writer is None:
                self._writer = uproot.recreate(self._tmp)
                self._writer["hepgan_metadata"] = json.dumps(_metadata_record(self.metadata), default=str)
                self._tree = self._writer.mktree(self.tree, {c: a.dtype for c, a in arrays.items()})
            self._tree.extend(arrays)
        self.n_rows += len(df)

    def __exit__(self, exc_type, exc, tb) -> bool:
        if self._writer is not None:
            self._writer.close()
        elif exc_type is None:
            exc_type = SchemaError
            exc = SchemaError(f"{self.path}: nothing to write (no rows)")
            self._ctx.__exit__(exc_type, exc, None)
            raise exc
        return bool(self._ctx.__exit__(exc_type, exc, tb))


ChunkedParquetWriter = ChunkedTableWriter


def _open_root_tree(path: Path, tree: str | None):
    try:
        import uproot
    except ImportError as err:
        raise MissingExtraError("uproot", "root") from err
    try:
        f = uproot.open(path)
        trees = [k.split(";")[0] for k, v in f.classnames().items() if v.startswith(("TTree", "ROOT::RNTuple"))]
        if tree is None:
            if len(trees) != 1:
                raise InputFileError(
                    f"{path}: name the tree as FILE.root:TREE (trees found: {', '.join(trees) or 'none'})"
                )
            tree = trees[0]
        if tree not in trees:
            raise InputFileError(f"{path}: no TTree '{tree}' (trees found: {', '.join(trees) or 'none'})")
        t = f[tree]
        t.keys()  # reads the branch list: a truncated file fails here, not later
        return t
    except InputFileError:
        raise
    except Exception as err:  # uproot raises many kinds on corrupt files
        raise InputFileError(f"{path}: not a readable ROOT file ({type(err).__name__}: {err})") from None


@contextlib.contextmanager
def _wrap_read_errors(path: Path) -> Iterator[None]:
    """Turns whatever a reading library raises on a bad file into one InputFileError naming it."""
    try:
        yield
    except (InputFileError, SchemaError):
        raise
    except Exception as err:
        raise InputFileError(f"{path}: cannot read ({type(err).__name__}: {err})") from None


def _check_exists(path: Path) -> None:
    if not path.exists():
        raise InputFileError(f"{path}: no such file")
    if path.is_dir():
        raise InputFileError(f"{path}: is a folder, expected a file")
    if path.stat().st_size == 0:
        raise InputFileError(f"{path}: the file is empty")


def _parquet_file(path: Path):
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path)
    except Exception as err:
        raise InputFileError(f"{path}: not a readable Parquet file ({type(err).__name__}: {err})") from None


def check_columns(available: Sequence[str], wanted: Sequence[str], where: str) -> None:
    """Raises SchemaError naming the first missing column and a close match."""
    import difflib

    missing = [c for c in wanted if c not in available]
    if missing:
        c = missing[0]
        close = difflib.get_close_matches(c, list(available), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else f" (columns: {', '.join(available)})"
        raise SchemaError(f"{where}: missing column '{c}'{hint}")


def check_finite(df: pd.DataFrame, where: str, drop: bool = False) -> pd.DataFrame:
    """Rejects NaN/inf values, naming the column; with ``drop``, drops those rows and says how many.

    Returns:
        The table (rows with non-finite values removed when ``drop``).
    """
    bad_rows = np.zeros(len(df), dtype=bool)
    for c in df.columns:
        col = df[c]
        if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
            raise SchemaError(f"{where}: column '{c}' has dtype {col.dtype}, expected a number")
        bad = ~np.isfinite(col.to_numpy(dtype=np.float64))
        if bad.any():
            if not drop:
                raise SchemaError(
                    f"{where}: column '{c}' has {int(bad.sum())} NaN or inf values "
                    f"(first at row {int(np.argmax(bad))}); fix the input, or drop those rows "
                    "(--drop-nan; in a run config data.drop_nan: true)"
                )
            bad_rows |= bad
    if drop and bad_rows.any():
        import logging

        logging.getLogger("hepgan").warning("%s: dropped %d rows with NaN or inf values", where, int(bad_rows.sum()))
        df = df.loc[~bad_rows].reset_index(drop=True)
    return df


_PANDAS_INDEX = re.compile(r"^__index_level_\d+__$")  # an unnamed pandas index, as pyarrow stores it
_CSV_INDEX = re.compile(r"^Unnamed: \d+$")  # an unnamed pandas index, as read_csv reads it back


class _Source:
    """One event table on disk, read column by column: its flat and jagged columns, and chunks of them.

    Flat columns hold one number per event and come back as numpy arrays; jagged ones (ROOT
    branches of variable length, Parquet lists) as awkward arrays, read only when an alias or a
    cut needs them. What pandas stores for an unnamed index is left out; a named index is a column.
    """

    def __init__(self, path: Path, fmt: str, tree: str | None):
        self.path, self.fmt, self.tree = path, fmt, tree
        self.flat: list[str] = []
        self.jagged: list[str] = []
        self.other: dict[str, str] = {}  # neither, with their types: strings, objects, fixed-size arrays
        self.range_index: tuple[str, int, int] | None = None  # a named RangeIndex pandas kept in metadata only
        if fmt == "parquet":
            self._scan_parquet()
        elif fmt == "root":
            with _wrap_read_errors(path):
                self._scan_root()
        else:
            self._scan_csv()

    def _scan_parquet(self) -> None:
        import pyarrow as pa

        pf = _parquet_file(self.path)
        for field in pf.schema_arrow:
            t = field.type.value_type if pa.types.is_dictionary(field.type) else field.type
            if _PANDAS_INDEX.match(field.name):
                continue
            if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t):
                self.flat.append(field.name)
            elif pa.types.is_list(t) or pa.types.is_large_list(t):
                self.jagged.append(field.name)
            else:
                self.other[field.name] = str(field.type)
        meta = pf.schema_arrow.pandas_metadata or {}
        for idx in meta.get("index_columns", []):
            if isinstance(idx, dict) and idx.get("kind") == "range" and idx.get("name"):
                self.range_index = (str(idx["name"]), int(idx["start"]), int(idx["step"]))
                self.flat.append(self.range_index[0])

    def _scan_root(self) -> None:
        from uproot.interpretation.jagged import AsJagged
        from uproot.interpretation.numerical import AsDtype

        t = _open_root_tree(self.path, self.tree)
        for name, branch in t.items():
            if "/" in name or "." in name:  # sub-branches of objects: not event columns
                continue
            interp = getattr(branch, "interpretation", None)
            if interp is None:  # an RNTuple field: classified by its C++ type
                kind = _rntuple_kind(branch.typename)
            elif isinstance(interp, AsJagged):
                kind = "jagged"
            elif isinstance(interp, AsDtype) and interp.inner_shape == ():
                kind = "flat"
            else:
                kind = "other"
            if kind == "flat":
                self.flat.append(name)
            elif kind == "jagged":
                self.jagged.append(name)
            else:
                self.other[name] = branch.typename

    def _scan_csv(self) -> None:
        try:
            with open(self.path, "rb") as fh:  # our handle: pandas leaks its own when it raises
                header = list(pd.read_csv(fh, nrows=0, comment="#").columns)
        except Exception as err:
            raise InputFileError(f"{self.path}: not a readable CSV file ({type(err).__name__}: {err})") from None
        self.flat = [c for c in header if not _CSV_INDEX.match(str(c))]

    @property
    def columns(self) -> list[str]:
        return self.flat + self.jagged

    def chunks(self, names: Sequence[str], chunk_size: int | None) -> Iterator[dict[str, Any]]:
        """Chunks of the named columns (flat: numpy, jagged: awkward), at most ``chunk_size`` events each."""
        names = list(names)
        stored = [n for n in names if self.range_index is None or n != self.range_index[0]]
        if self.fmt == "parquet":
            yield from self._parquet_chunks(names, stored, chunk_size)
        elif self.fmt == "root":
            t = _open_root_tree(self.path, self.tree)
            steps = t.iterate(stored, step_size=chunk_size or t.num_entries or 1, library="ak") if stored else [None]
            for batch in steps:
                yield {n: (batch[n] if n in self.jagged else _flat_numpy(batch[n])) for n in stored}
        else:
            with open(self.path, "rb") as fh:
                if chunk_size is None:
                    frames = [pd.read_csv(fh, usecols=stored, comment="#")]
                else:
                    frames = pd.read_csv(fh, usecols=stored, comment="#", chunksize=chunk_size)
                for df in frames:
                    yield {n: df[n].to_numpy() for n in stored}

    def _parquet_chunks(self, names: list[str], stored: list[str], chunk_size: int | None) -> Iterator[dict[str, Any]]:
        import pyarrow as pa

        pf = _parquet_file(self.path)
        batches = pf.iter_batches(batch_size=chunk_size, columns=stored) if chunk_size else [pf.read(columns=stored)]
        offset = 0
        for batch in batches:
            out: dict[str, Any] = {}
            for n in stored:
                col = batch.column(n)
                if isinstance(col, pa.ChunkedArray):
                    col = col.combine_chunks()
                if pa.types.is_dictionary(col.type):
                    col = col.dictionary_decode()
                if n in self.jagged:
                    import awkward as ak

                    out[n] = ak.from_arrow(col)
                else:
                    out[n] = col.to_numpy(zero_copy_only=False)
            length = batch.num_rows
            if self.range_index is not None and self.range_index[0] in names:
                name, start, step = self.range_index
                out[name] = start + step * np.arange(offset, offset + length)
            offset += length
            yield out


_RNTUPLE_NUMBERS = re.compile(r"^(std::)?(u?int(8|16|32|64)_t|double|float|bool|char|short|int|long|unsigned( int| short| char| long)?)$")
_RNTUPLE_LISTS = re.compile(r"^(std::vector|ROOT::VecOps::RVec|ROOT::RVec)<\s*(.+?)\s*>$")


def _rntuple_kind(typename: str) -> str:
    """"flat", "jagged" or "other" for the C++ type of an RNTuple field."""
    t = typename.strip()
    if _RNTUPLE_NUMBERS.match(t):
        return "flat"
    m = _RNTUPLE_LISTS.match(t)
    return "jagged" if m and _RNTUPLE_NUMBERS.match(m.group(2)) else "other"


def _flat_numpy(a: Any) -> np.ndarray:
    import awkward as ak

    return np.asarray(ak.to_numpy(a))


def _resolve(source: _Source, columns: Sequence[str] | None, aliases: Mapping[str, str], cut: str | None) -> tuple[list[str], list[str]]:
    """(the output columns, the stored columns to read for them, the aliases and the cut)."""
    from hepgan.expressions import names as expr_names

    where = str(source.path)
    available = source.flat + [a for a in aliases if a not in source.flat]
    if columns is None:
        out = list(available)
        if source.jagged:
            import logging

            logging.getLogger("hepgan").info(
                "%s: left out the jagged branches %s (a variable number of values per event); map one to a column with "
                "--alias NAME=EXPRESSION, e.g. %s=%s[:, 0]", where, ", ".join(source.jagged), source.jagged[0], source.jagged[0],
            )  # fmt: skip
    else:
        out = list(columns)
        for c in out:
            if c not in aliases and c in source.other:
                raise SchemaError(f"{where}: column '{c}' has type {source.other[c]}, expected a number")
            if c not in aliases and c in source.jagged:
                raise SchemaError(
                    f"{where}: column '{c}' is a jagged branch (a variable number of values per event); map it to one value "
                    f"per event with an alias, e.g. --alias {c}={c}[:, 0] (and a --cut that keeps events with at least one)"
                )
        check_columns(available + source.jagged, out, where)
    needed = [c for c in out if c not in aliases]
    for expr in [*(aliases[c] for c in out if c in aliases), *([cut] if cut else [])]:
        needed += sorted(expr_names(expr))
    for n in needed:
        if n not in source.columns:
            check_columns(source.columns, [n], where)
    return out, list(dict.fromkeys(needed))


def _columns_of(source: _Source, arrays: dict[str, Any], out: list[str], aliases: Mapping[str, str], cut: str | None) -> pd.DataFrame:
    """Applies the cut and the aliases to one chunk; returns the flat table of the output columns."""
    from hepgan.expressions import evaluate

    if cut:
        mask = evaluate(cut, arrays)
        try:
            mask = np.asarray(_flat_numpy(mask) if not isinstance(mask, np.ndarray) else mask)
        except Exception:
            mask = None
        if mask is None or mask.ndim != 1 or mask.dtype != bool:
            raise ConfigError(f"{source.path}: the cut {cut!r} gives no single true/false value per event")
        arrays = {k: v[mask] for k, v in arrays.items()}
    cols = {}
    for c in out:
        if c in aliases:
            v = evaluate(aliases[c], arrays)
            try:
                v = np.asarray(_flat_numpy(v) if not isinstance(v, np.ndarray) else v, dtype=np.float64)
            except Exception:
                v = None
            if v is None or v.ndim != 1:
                raise ConfigError(f"{source.path}: the alias {c}={aliases[c]} gives no single number per event; index it, e.g. [:, 0]")
            cols[c] = v
        else:
            cols[c] = np.array(arrays[c])  # a writable copy: uproot and pyarrow hand out read-only buffers
    return pd.DataFrame(cols)


def read_table(
    path: str | Path,
    columns: Sequence[str] | None = None,
    fmt: str | None = None,
    drop_nan: bool = False,
    aliases: Mapping[str, str] | None = None,
    cut: str | None = None,
) -> pd.DataFrame:
    """Reads an event table, checking it on the way.

    Whatever pandas, pyarrow, polars, awkward or uproot wrote reads the same: an unnamed pandas
    index is dropped, a named one is a column, dictionary-encoded and small integer or float
    columns become numbers. Only the columns asked for (and what their aliases and the cut
    read) are loaded; jagged branches are left out unless an alias or the cut uses them.

    Args:
        path: Parquet, ROOT (``file.root`` or ``file.root:tree``) or CSV file.
        columns: columns to read; all flat ones (and the aliases) when None. Missing ones raise SchemaError.
        fmt: force a format instead of the suffix.
        drop_nan: drop rows with NaN/inf (logged) instead of raising.
        aliases: column name -> expression over the file's columns (:mod:`hepgan.expressions`),
            e.g. ``{"pho1_pt": "Photon_pt[:, 0]", "n_vtx": "PV_npvs"}``.
        cut: an event selection, e.g. ``"nPhoton >= 2"``, applied before the aliases.

    Returns:
        DataFrame (N rows).
    """
    frames = list(_read(path, columns, fmt, None, aliases, cut))
    df = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    if len(df) == 0:
        where = _split_root_path(path)[0]
        raise SchemaError(f"{where}: the table has no rows" + (f" passing the cut {cut!r}" if cut else ""))
    return check_finite(df, str(_split_root_path(path)[0]), drop=drop_nan)


def _read(path, columns, fmt, chunk_size, aliases, cut) -> Iterator[pd.DataFrame]:
    path, tree = _split_root_path(path)
    fmt = format_of(path, fmt)
    _check_exists(path)
    aliases = dict(aliases or {})
    source = _Source(path, fmt, tree)
    out, needed = _resolve(source, columns, aliases, cut)
    with _wrap_read_errors(path):
        for arrays in source.chunks(needed, chunk_size):
            yield _columns_of(source, arrays, out, aliases, cut)


def iter_table(
    path: str | Path,
    columns: Sequence[str] | None = None,
    chunk_size: int = 100_000,
    drop_nan: bool = False,
    aliases: Mapping[str, str] | None = None,
    cut: str | None = None,
) -> Iterator[pd.DataFrame]:
    """Streams an event table in chunks of at most ``chunk_size`` rows (bounded memory); arguments as :func:`read_table`."""
    where = str(_split_root_path(path)[0])
    n = 0
    for df in _read(path, columns, None, chunk_size, aliases, cut):
        n += len(df)
        if len(df):
            yield check_finite(df, where, drop=drop_nan)
    if n == 0:
        raise SchemaError(f"{where}: the table has no rows" + (f" passing the cut {cut!r}" if cut else ""))


def check_table_columns(path: str | Path, wanted: Sequence[str], aliases: Mapping[str, str] | None = None, cut: str | None = None) -> None:
    """Raises one clear SchemaError when a table lacks a wanted column (or holds it jagged, or as a non-number)."""
    path, tree = _split_root_path(path)
    _check_exists(path)
    _resolve(_Source(path, format_of(path), tree), list(wanted), dict(aliases or {}), cut)


def table_columns(path: str | Path, aliases: Mapping[str, str] | None = None, numbers_only: bool = True) -> list[str]:
    """The flat columns a table offers (jagged branches left out) and the aliases' names.

    With ``numbers_only=False`` the columns of other types (strings, objects) are listed too, so
    that asking for one gives a clear error rather than a missing column.
    """
    path, tree = _split_root_path(path)
    _check_exists(path)
    source = _Source(path, format_of(path), tree)
    own = source.flat + ([] if numbers_only else list(source.other))
    return own + [a for a in (aliases or {}) if a not in own]


def count_rows(path: str | Path) -> int | None:
    """Rows of a Parquet file or ROOT tree from its metadata (None for CSV or when unreadable)."""
    path, tree = _split_root_path(path)
    try:
        fmt = format_of(path)
        if fmt == "parquet":
            return int(_parquet_file(path).metadata.num_rows)
        if fmt == "root":
            return int(_open_root_tree(path, tree).num_entries)
    except Exception:  # a count is a convenience: never fail for it
        return None
    return None


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The hepgan metadata record of a file written by hepgan ({} if none)."""
    path, _ = _split_root_path(path)
    fmt = format_of(path)
    _check_exists(path)
    if fmt == "parquet":
        meta = _parquet_file(path).schema_arrow.metadata or {}
        raw = meta.get(METADATA_KEY)
    elif fmt == "root":
        try:
            import uproot
        except ImportError as err:
            raise MissingExtraError("uproot", "root") from err
        try:
            with uproot.open(path) as f:
                raw = str(f["hepgan_metadata"]) if "hepgan_metadata" in f else None
        except Exception as err:  # uproot raises many kinds on corrupt files
            raise InputFileError(f"{path}: not a readable ROOT file ({type(err).__name__}: {err})") from None
    else:
        try:
            with open(path, encoding="utf-8") as f:
                first = f.readline()
        except (OSError, UnicodeDecodeError) as err:
            raise InputFileError(f"{path}: not a readable CSV file ({type(err).__name__}: {err})") from None
        raw = first[len("# hepgan ") :] if first.startswith("# hepgan ") else None
    if not raw:
        return {}
    try:
        record = json.loads(raw)
    except ValueError:
        raise InputFileError(f"{path}: its hepgan metadata record is not valid JSON") from None
    if not isinstance(record, dict):
        raise InputFileError(f"{path}: its hepgan metadata record is not a JSON object")
    return record
