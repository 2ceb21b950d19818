from __future__ import annotations

import os
from pathlib import Path

from txlint.discovery import DEFAULT_EXCLUDES, discover, files_below, parse_gitignore, remembered_walks


def names(root: Path, **kwargs) -> list[str]:
    return sorted(os.path.relpath(p, root) for p in discover([str(root)], **kwargs))


def test_walks_python_files_and_skips_default_excludes(write) -> None:
    root = write(
        {
            "app/views.py": "",
            "app/readme.txt": "",
            ".venv/lib/site.py": "",
            "node_modules/x/y.py": "",
            "build/lib/app.py": "",
            "app/migrations/0001_initial.py": "",
        }
    )
    assert names(root) == ["app/migrations/0001_initial.py", "app/views.py"]


def test_extend_exclude_skips_migrations(write) -> None:
    root = write({"app/views.py": "", "app/migrations/0001_initial.py": ""})
    assert names(root, excludes=(*DEFAULT_EXCLUDES, "migrations")) == ["app/views.py"]


def test_gitignore_patterns_are_honoured(write) -> None:
    root = write(
        {
            ".gitignore": "generated/\n*_pb2.py\n/local_settings.py\n!keep_pb2.py\n",
            "generated/models.py": "",
            "app/api_pb2.py": "",
            "app/keep_pb2.py": "",
            "local_settings.py": "",
            "app/local_settings.py": "",
            "app/views.py": "",
        }
    )
    assert names(root) == ["app/keep_pb2.py", "app/local_settings.py", "app/views.py"]


def test_nested_gitignore_applies_below_its_folder(write) -> None:
    root = write({"app/.gitignore": "snapshots/\n", "app/snapshots/a.py": "", "snapshots/b.py": ""})
    assert names(root) == ["snapshots/b.py"]


def test_gitignore_of_enclosing_repository_applies(write) -> None:
    root = write({".gitignore": "vendored/\n", "src/vendored/lib.py": "", "src/app.py": ""})
    (root / ".git").mkdir()
    assert sorted(os.path.relpath(p, root) for p in discover([str(root / "src")])) == ["src/app.py"]


def test_gitignore_can_be_disregarded(write) -> None:
    root = write({".gitignore": "*.py\n", "app.py": ""})
    assert names(root) == []
    assert names(root, respect_gitignore=False) == ["app.py"]


def test_named_file_is_checked_even_if_excluded(write) -> None:
    root = write({"build/setup_helpers.py": ""})
    target = str(root / "build/setup_helpers.py")
    assert list(discover([target])) == [target]


def test_double_star_and_character_classes() -> None:
    [double, klass] = parse_gitignore("docs/**/gen_*.py\nv[0-9].py\n")
    assert double.regex.match("docs/a/b/gen_x.py") and double.regex.match("docs/gen_x.py")
    assert klass.regex.match("pkg/v1.py") and not klass.regex.match("pkg/vx.py")


def test_comments_and_blank_lines_are_not_patterns() -> None:
    assert parse_gitignore("# comment\n\n   \n") == []


def test_anchored_gitignore_pattern_applies_when_walking_the_current_folder(write, monkeypatch) -> None:
    root = write({".gitignore": "/generated/\n", "generated/models.py": "", "app/generated/views.py": ""})
    monkeypatch.chdir(root)
    assert sorted(discover(["."])) == [os.path.join(".", "app", "generated", "views.py")]


def test_last_matching_gitignore_pattern_wins(write) -> None:
    root = write({".gitignore": "!*.txt\n*.py\n!keep.py\n", "notes.txt": "", "keep.py": "", "drop.py": ""})
    assert names(root) == ["keep.py"]


def test_folders_named_like_modules_are_walked_and_other_files_skipped_in_name_order(write) -> None:
    root = write({"b.py": "", "a.py/inner.py": "", "static/app.js": "", "README.txt": "", "c/d.py": ""})
    assert list(discover([str(root)])) == [
        os.path.join(str(root), "b.py"),
        os.path.join(str(root), "a.py", "inner.py"),
        os.path.join(str(root), "c", "d.py"),
    ]


REPOSITORY = {
    ".git/HEAD": "",
    ".gitignore": "/shop/local.py\ngenerated/\n",
    "shop/pyproject.toml": "",
    "shop/local.py": "",
    "shop/views.py": "",
    "shop/sub/.gitignore": "*_pb2.py\n/only_here.py\n",
    "shop/sub/api_pb2.py": "",
    "shop/sub/only_here.py": "",
    "shop/sub/deeper/only_here.py": "",
    "shop/sub/deeper/generated/x.py": "",
    "shop/build/lib.py": "",
    "blog/models.py": "",
}


def test_a_remembered_walk_lists_each_folder_below_as_walking_it_would(write) -> None:
    root = write(REPOSITORY)
    with remembered_walks():
        top = list(discover([str(root)]))
        for folder in ["shop", "shop/sub", "shop/sub/deeper", "blog"]:
            expected = [os.path.abspath(path) for path in discover([str(root / folder)])]
            assert files_below(str(root / folder)) == expected and expected, folder
        # Folders it cannot answer for: above the walk, or with nothing it found below.
        assert files_below(str(root.parent)) is None
        assert files_below(str(root / "shop" / "build")) is None
        assert files_below(str(root / "shop" / "sub" / "deeper" / "generated")) is None
    assert len(top) == 3
    assert files_below(str(root / "shop")) is None  # forgotten after the run


def test_walks_with_other_excludes_are_not_remembered(write) -> None:
    root = write(REPOSITORY)
    with remembered_walks():
        list(discover([str(root)], excludes=(*DEFAULT_EXCLUDES, "sub")))
        list(discover([str(root / "blog")], respect_gitignore=False))
        assert files_below(str(root / "shop")) is None and files_below(str(root / "blog")) is None
