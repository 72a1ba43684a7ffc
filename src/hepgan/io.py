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
import tempfile
from collections.abc import Iterator, Sequence
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
    "read_metadata",
    "count_rows",
    "read_table",
    "write_table",
    "ChunkedParquetWriter",
    "ChunkedTableWriter",
]

METADATA_KEY = b"hepgan"
FORMATS = ("parquet", "root", "csv")


def _format_of(path: Path, fmt: str | None = None) -> str:
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
    fmt = _format_of(path, fmt)
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
        self.fmt = _format_of(path, fmt)
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


def _available_columns(path: Path, fmt: str, tree: str | None) -> list[str]:
    if fmt == "parquet":
        return list(_parquet_file(path).schema_arrow.names)
    if fmt == "root":
        with _wrap_read_errors(path):
            return list(_open_root_tree(path, tree).keys())
    try:
        with open(path, "rb") as fh:  # our handle: pandas leaks its own when it raises
            return list(pd.read_csv(fh, nrows=0, comment="#").columns)
    except Exception as err:
        raise InputFileError(f"{path}: not a readable CSV file ({type(err).__name__}: {err})") from None


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


def read_table(
    path: str | Path,
    columns: Sequence[str] | None = None,
    fmt: str | None = None,
    drop_nan: bool = False,
) -> pd.DataFrame:
    """Reads an event table, checking it on the way.

    Args:
        path: Parquet, ROOT (``file.root`` or ``file.root:tree``) or CSV file.
        columns: columns to read; all when None. Missing ones raise SchemaError.
        fmt: force a format instead of the suffix.
        drop_nan: drop rows with NaN/inf (logged) instead of raising.

    Returns:
        DataFrame (N rows).
    """
    path, tree = _split_root_path(path)
    fmt = _format_of(path, fmt)
    _check_exists(path)
    available = _available_columns(path, fmt, tree)
    if columns is not None:
        check_columns(available, columns, str(path))
    cols = list(columns) if columns is not None else available
    try:
        if fmt == "parquet":
            df = _parquet_file(path).read(columns=cols).to_pandas()
        elif fmt == "root":
            df = pd.DataFrame(_open_root_tree(path, tree).arrays(cols, library="np"))
        else:
            with open(path, "rb") as fh:
                df = pd.read_csv(fh, usecols=cols, comment="#")
    except (InputFileError, SchemaError):
        raise
    except Exception as err:
        raise InputFileError(f"{path}: cannot read ({type(err).__name__}: {err})") from None
    if len(df) == 0:
        raise SchemaError(f"{path}: the table has no rows")
    return check_finite(df[cols], str(path), drop=drop_nan)


def iter_table(
    path: str | Path,
    columns: Sequence[str] | None = None,
    chunk_size: int = 100_000,
    drop_nan: bool = False,
) -> Iterator[pd.DataFrame]:
    """Streams an event table in chunks of at most ``chunk_size`` rows (bounded memory)."""
    path, tree = _split_root_path(path)
    fmt = _format_of(path)
    _check_exists(path)
    available = _available_columns(path, fmt, tree)
    if columns is not None:
        check_columns(available, columns, str(path))
    cols = list(columns) if columns is not None else available
    n = 0
    with contextlib.ExitStack() as stack, _wrap_read_errors(path):
        if fmt == "parquet":
            chunks = (b.to_pandas() for b in _parquet_file(path).iter_batches(batch_size=chunk_size, columns=cols))
        elif fmt == "root":
            t = _open_root_tree(path, tree)
            chunks = (pd.DataFrame(a) for a in t.iterate(cols, step_size=chunk_size, library="np"))
        else:
            fh = stack.enter_context(open(path, "rb"))
            chunks = stack.enter_context(pd.read_csv(fh, usecols=cols, comment="#", chunksize=chunk_size))
        for df in chunks:
            n += len(df)
            yield check_finite(df[cols], str(path), drop=drop_nan)
    if n == 0:
        raise SchemaError(f"{path}: the table has no rows")


def count_rows(path: str | Path) -> int | None:
    """Rows of a Parquet file or ROOT tree from its metadata (None for CSV or when unreadable)."""
    path, tree = _split_root_path(path)
    try:
        fmt = _format_of(path)
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
    fmt = _format_of(path)
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
