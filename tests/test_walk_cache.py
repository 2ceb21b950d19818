"""The walk's listings cache (`txlint.discovery._Listings`): a warm walk stats the folders
instead of listing them, and finds exactly what an uncached walk finds."""

from __future__ import annotations

import os
from pathlib import Path

import time
from types import SimpleNamespace

import pytest

from txlint import cache as cache_module
from txlint import discovery
from txlint.discovery import DEFAULT_EXCLUDES, discover
from tests.conftest import age

TREE = {
    ".gitignore": "generated/\n*_pb2.py\n!keep_pb2.py\n",
    "app/views.py": "",
    "app/api_pb2.py": "",
    "app/keep_pb2.py": "",
    "app/readme.txt": "",
    "app/.gitignore": "snapshots/\n",
    "app/snapshots/a.py": "",
    "app/sub/deeper/models.py": "",
    "generated/models.py": "",
    "static/css/site.css": "",
    "node_modules/x/y.py": "",
}


def walked(root: Path, cache: Path | None, **kwargs) -> list[str]:
    found = discover([str(root)], cache_dir=str(cache) if cache else None, **kwargs)
    return [os.path.relpath(path, root) for path in found]


@pytest.fixture
def cache(tmp_path_factory) -> Path:
    """A cache folder outside the walked tree."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def later(request, monkeypatch) -> None:
    """The cache's clock ten seconds ahead: a folder's stamp (its inode's change time, which
    tests cannot set back) is old enough to trust at once. Not for the tests marked `now`."""
    if "now" not in request.keywords:
        monkeypatch.setattr(cache_module, "time", SimpleNamespace(time_ns=lambda: time.time_ns() + 10**10))


@pytest.fixture
def listed(monkeypatch) -> list[str]:
    """The folders listed (`os.scandir`) from now on."""
    folders: list[str] = []
    real_scandir = os.scandir

    def scandir(path):
        folders.append(str(path))
        return real_scandir(path)

    monkeypatch.setattr(discovery.os, "scandir", scandir)
    return folders


def test_a_warm_walk_lists_no_folder_and_finds_the_same_files(write, cache: Path, listed: list[str]) -> None:
    root = write(TREE)
    age(root)
    cold = walked(root, cache)
    assert cold == walked(root, None)
    assert cold == ["app/keep_pb2.py", "app/views.py", "app/sub/deeper/models.py"]
    listed.clear()
    assert walked(root, cache) == cold
    assert listed == []


def test_a_folder_named_relative_or_absolute_shares_the_listings(
    write, cache: Path, listed: list[str], monkeypatch
) -> None:
    root = write(TREE)
    age(root)
    walked(root, cache)
    monkeypatch.chdir(root.parent)
    listed.clear()
    relative = sorted(discover([root.name + "/"], cache_dir=str(cache)))
    assert listed == []
    assert relative == sorted(os.path.join(root.name + "/", path) for path in walked(root, None))
    # One listing per folder: the store does not grow with each way of naming the root.
    store = discovery._Listings.open(str(cache), str(root), DEFAULT_EXCLUDES, True).store
    folders = ("app", "app/sub", "app/sub/deeper", "static", "static/css")
    assert sorted(store.entries) == [str(root), *(str(root / folder) for folder in folders)]


def test_a_file_added_or_removed_changes_its_folder_and_is_seen(write, cache: Path, listed: list[str]) -> None:
    root = write(TREE)
    age(root)
    walked(root, cache)
    (root / "app" / "sub" / "deeper" / "tasks.py").write_text("")
    (root / "app" / "views.py").unlink()
    listed.clear()
    found = walked(root, cache)
    # Only the two folders that changed were listed again.
    assert sorted(os.path.relpath(folder, root) for folder in listed) == ["app", "app/sub/deeper"]
    assert found == walked(root, None)
    assert "app/sub/deeper/tasks.py" in found and "app/views.py" not in found


def test_a_new_folder_is_walked(write, cache: Path) -> None:
    root = write(TREE)
    age(root)
    walked(root, cache)
    (root / "app" / "sub" / "payments").mkdir()
    (root / "app" / "sub" / "payments" / "charge.py").write_text("")
    assert "app/sub/payments/charge.py" in walked(root, cache)


def test_an_edited_gitignore_is_obeyed_though_its_folder_did_not_change(write, cache: Path) -> None:
    root = write(TREE)
    age(root)
    walked(root, cache)
    ignore = root / "app" / ".gitignore"
    ignore.write_text("snapshots/\nsub/\n")  # in place: the folder's stamp stays
    assert walked(root, cache) == ["app/keep_pb2.py", "app/views.py"]
    ignore.write_text("")
    assert walked(root, cache) == walked(root, None)
    assert "app/snapshots/a.py" in walked(root, cache)


def test_a_gitignore_added_deep_applies_below_it(write, cache: Path) -> None:
    root = write(TREE)
    age(root)
    walked(root, cache)
    (root / "app" / "sub" / ".gitignore").write_text("deeper/\n")
    assert walked(root, cache) == ["app/keep_pb2.py", "app/views.py"]


def test_the_enclosing_repository_gitignore_is_part_of_the_key(write, cache: Path) -> None:
    outer = write({".gitignore": "", "src/app.py": "", "src/vendored/lib.py": ""})
    (outer / ".git").mkdir()
    age(outer)
    src = outer / "src"
    assert walked(src, cache) == ["app.py", "vendored/lib.py"]
    (outer / ".gitignore").write_text("vendored/\n")
    assert walked(src, cache) == ["app.py"]


def test_excludes_and_gitignore_choices_have_their_own_listings(write, cache: Path) -> None:
    root = write(TREE)
    age(root)
    walked(root, cache)
    assert walked(root, cache, excludes=(*DEFAULT_EXCLUDES, "sub")) == ["app/keep_pb2.py", "app/views.py"]
    assert "generated/models.py" in walked(root, cache, respect_gitignore=False)
    assert walked(root, cache) == walked(root, None)


@pytest.mark.now
def test_a_folder_modified_just_now_is_listed_again(write, cache: Path, listed: list[str]) -> None:
    root = write(TREE)
    time.sleep(2.1)  # the tree's stamps are old enough to trust
    walked(root, cache)
    os.chmod(root / "app", 0o755)  # its inode changes now: it may change again unseen
    walked(root, cache)
    listed.clear()
    walked(root, cache)
    assert [os.path.relpath(folder, root) for folder in listed] == ["app"]


def test_a_folder_whose_permissions_changed_is_listed_again(write, cache: Path, listed: list[str]) -> None:
    root = write(TREE)
    walked(root, cache)
    os.chmod(root / "app" / "sub", 0o700)
    listed.clear()
    walked(root, cache)
    assert [os.path.relpath(folder, root) for folder in listed] == ["app/sub"]


def test_a_damaged_listing_is_not_trusted(write, cache: Path) -> None:
    root = write(TREE)
    age(root)
    expected = walked(root, cache)
    listings = discovery._Listings.open(str(cache), str(root), DEFAULT_EXCLUDES, True)
    stamp, context, _ = listings.store.entries[str(root)]
    listings.store.record(str(root), stamp, context, ["not", "a listing"])
    listings.store.save()
    assert walked(root, cache) == expected
