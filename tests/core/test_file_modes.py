"""Every file the platform creates under the data directory is private: 0700 dirs, 0600 files.

The databases hold password hashes, personal data and the audit log. The full process tree
(`up --demo`: API, collector, Celery worker and beat, migrations) is walked by
tests/dijkwacht/test_up.py with `assert_private`; here each creator is checked in-process
under a permissive umask, so a test fails if any of them relies on the umask alone.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from collectors.spool import open_spool
from core.config import Settings
from core.runtime import DataDirError, prepare_data_dir
from core.store.factory import open_alert_store, open_event_store
from core.store.relational import migrate


def loose_modes(data_dir: Path) -> list[str]:
    """Paths under `data_dir` (itself included) whose mode is not 0700 (dir) or 0600 (file)."""
    bad = []
    for path in [data_dir, *data_dir.rglob("*")]:
        st = path.lstat()
        if stat.S_ISLNK(st.st_mode):
            continue
        want = 0o700 if stat.S_ISDIR(st.st_mode) else 0o600
        if stat.S_IMODE(st.st_mode) != want:
            bad.append(f"{path.relative_to(data_dir)}: {oct(stat.S_IMODE(st.st_mode))}")
    return bad


def assert_private(data_dir: Path) -> None:
    assert loose_modes(data_dir) == []


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """What a shell usually has: new files 0644, new directories 0755."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_stores_spool_and_migrations_create_private_files(
    settings: Settings, loose_umask: None
) -> None:
    data_dir = prepare_data_dir(settings)
    migrate(settings)
    open_event_store(settings).close()
    open_alert_store(settings).close()
    with open_spool(settings) as spool:
        spool.append([], source="t")
        wal = [p.name for p in data_dir.iterdir() if p.name.endswith(("-wal", "-shm"))]
        assert "spool.sqlite-wal" in wal  # the WAL files exist and are checked, too
        assert_private(data_dir)
    settings.secret("pseudonym_key")
    names = {p.name for p in data_dir.iterdir()}
    assert {"dijkwacht.sqlite", "events.sqlite", "alerts.sqlite", "spool.sqlite"} <= names
    assert_private(data_dir)


def test_prepare_tightens_what_an_older_install_left_open(settings: Settings) -> None:
    data_dir = settings.resolved_data_dir
    (data_dir / "run").mkdir(parents=True, mode=0o755)
    os.chmod(data_dir, 0o755)
    os.chmod(data_dir / "run", 0o755)
    old = data_dir / "dijkwacht.sqlite"
    old.write_bytes(b"")
    os.chmod(old, 0o644)
    outside = settings.resolved_data_dir.parent / "elsewhere.txt"
    outside.write_text("not ours")
    os.chmod(outside, 0o644)
    (data_dir / "link").symlink_to(outside)
    assert len(loose_modes(data_dir)) == 3
    prepare_data_dir(settings)
    assert_private(data_dir)
    assert stat.S_IMODE(outside.stat().st_mode) == 0o644  # a symlink's target is not ours


def test_a_file_where_the_data_dir_should_be_is_named(settings: Settings) -> None:
    path = settings.resolved_data_dir
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("oops")
    with pytest.raises(DataDirError) as caught:
        prepare_data_dir(settings)
    assert str(caught.value) == f"data_dir={path}: exists and is not a directory"


def test_a_data_dir_below_a_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    settings = Settings(data_dir=tmp_path / "file" / "data", environment="test")  # type: ignore[call-arg]
    with pytest.raises(DataDirError, match=r"^data_dir=.*/file/data: cannot create it \("):
        prepare_data_dir(settings)
