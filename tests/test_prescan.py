"""The prescans written for speed (txlint.prescan) answer exactly as the plain regexes they replace."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from txlint.django.caches import attribute_assignments, may_hold_instance_cache, may_hold_process_cache
from txlint.django.exceptions import (
    BARE_CLAUSE, BROAD_BOUND_HANDLER, BROAD_CLAUSE, SILENT_BROAD_HANDLER, may_have,
)  # fmt: skip
from txlint.index import SourceRecord, _Mentions, dispatch_shaped, word_lists
from txlint.indexing import _clearings, names_a_deferring_base, wrapper_shaped
from txlint.prescan import search_indented, search_word
from txlint.registry import all_rules
from txlint.settings import contains_any

ROOT = Path(__file__).resolve().parent.parent

# The patterns as they were written before txlint.prescan: the reference.
PLAIN_BARE = re.compile(r"\bexcept\s*:")
PLAIN_BROAD_CLAUSE = re.compile(r"\bexcept\s*:|\bexcept\b[^:]*Exception\b")
PLAIN_SILENT = re.compile(
    r"\bexcept\b(?:\s*|[^:]*Exception\b[^:]*):[ \t]*(?:#[^\n]*)?\s*"
    r"(?:pass\b|continue\b|\.\.\.|print\s*\(|[rRbBuUfF]*['\"]|[^\n]*?\.(?:debug|info|log)\s*\()"
)
PLAIN_BOUND = re.compile(r"\bexcept\b[^:]*Exception\b[^:]*\bas\s+\w+\s*:")
PLAIN_DISPATCH_SHAPE = re.compile(
    r"\.(?:delay|apply_async|send_task|enqueue\w*|aenqueue|send_with_options)\b|\.schedule\s*\("
    r"|\basync_task\s*\(|\bhuey\b|\.send\s*\((?=[\s\S]*\b(?:actor|tasks|jobs)\b)"
)
PLAIN_AGGREGATE = re.compile(r"\.count\(\)|\.exists\(\)|\.aggregate\(|\blen\([\w.]*\.(?:all|filter|exclude)\(")
PLAIN_INSTANCE_CACHE = re.compile(
    r"cached_property|lru_cache|^[ \t]*@[\w.]*cache\b|\b[gh][ea][st]attr\(\s*self\b|\bself\.\w+ is None|__dict__",
    re.MULTILINE,
)
PLAIN_LRU = re.compile(r"^[ \t]*@[\w.]*cache\b", re.MULTILINE)
PLAIN_EMPTY_CONTAINER = re.compile(
    r"^([ \t]*)(\w+)[ \t]*(?::[^=\n]+)?=[ \t]*(?:\{\}|\[\]|dict\(\)|list\(\)|(?:collections\.)?(?:defaultdict|OrderedDict)\()",
    re.MULTILINE,
)
PLAIN_FILL = (
    r"{prefix}{name}(?:\[[^\]\n]*\])+\s*=[^=]"
    r"|{prefix}{name}(?:\[[^\]\n]*\])*\.(?:setdefault|update|append|extend|add|insert)\("
)
PLAIN_DEFERRING_BASE = re.compile(r"base\s*=\s*[\w.]*(?:TransactionAware|OnCommit|AfterCommit)", re.IGNORECASE)
PLAIN_WRAPPER_SHAPE = re.compile(r"\bcontextmanager\b[\s\S]*\byield\b|\breturn\b[^\n]*\batomic\s*\(")
AGGREGATE_TOKENS = ("count()", "exists()", "aggregate(", "len(")
INSTANCE_CACHE_TOKENS = ("cache", "hasattr", "getattr", " is None", "__dict__")


def plain_instance_cache(source: str) -> bool:
    return (
        "self." in source
        and contains_any(source, AGGREGATE_TOKENS)
        and contains_any(source, INSTANCE_CACHE_TOKENS)
        and PLAIN_AGGREGATE.search(source) is not None
        and PLAIN_INSTANCE_CACHE.search(source) is not None
    )


def plain_process_cache(source: str) -> bool:
    if "cache" in source and PLAIN_LRU.search(source):
        return True
    if not contains_any(source, ("{}", "[]", "dict()", "list()", "defaultdict(", "OrderedDict(")):
        return False
    containers = {(match.group(1) == "", match.group(2)) for match in PLAIN_EMPTY_CONTAINER.finditer(source)}
    for module_level, name in containers:
        prefix = r"(?<![\w.])" if module_level else r"\."
        if re.search(PLAIN_FILL.format(prefix=prefix, name=name), source):
            return True
    return False


def answers(source: str) -> dict[str, bool]:
    return {
        "bare": may_have(BARE_CLAUSE, source),
        "broad": may_have(BROAD_CLAUSE, source),
        "silent": may_have(SILENT_BROAD_HANDLER, source),
        "bound": may_have(BROAD_BOUND_HANDLER, source),
        "dispatch": dispatch_shaped(source),
        "instance": may_hold_instance_cache(source),
        "process": may_hold_process_cache(source),
        "deferring base": names_a_deferring_base(source),
        "wrapper": wrapper_shaped(source),
    }


def reference(source: str) -> dict[str, bool]:
    def has(pattern: re.Pattern[str]) -> bool:
        return "except" in source and pattern.search(source) is not None

    return {
        "bare": has(PLAIN_BARE),
        "broad": has(PLAIN_BROAD_CLAUSE),
        "silent": has(PLAIN_SILENT),
        "bound": has(PLAIN_BOUND),
        "dispatch": PLAIN_DISPATCH_SHAPE.search(source) is not None,
        "instance": plain_instance_cache(source),
        "process": plain_process_cache(source),
        "deferring base": PLAIN_DEFERRING_BASE.search(source) is not None,
        "wrapper": "atomic" in source and PLAIN_WRAPPER_SHAPE.search(source) is not None,
    }


def real_sources() -> list[str]:
    files = sorted((ROOT / "fixtures").rglob("*.py")) + sorted((ROOT / "txlint").rglob("*.py"))
    examples = [case.code for rule in all_rules() for case in (*rule.valid, *rule.invalid)]
    return [path.read_text(encoding="utf-8", errors="replace") for path in files] + examples


EDGE_CASES = [
    "xexcept Foo, except Exception:\n    pass\n",  # a rejected candidate spans the real match
    "reexcept:\nexcept:\n",
    "try:\n    x()\nexcept:  # why\n    'ignored'\n",
    "try:\n    x()\nexcept(Exception) as e:\n    log.info(e)\n",
    "signal.send(sender=x)\n",
    "signal.send(sender=x)\n# the tasks\n",
    "from jobs import j\nsignal.send(x)\n",
    "signal.send(x)\nsubtasks = 1\n",
    "my_huey = 1\n", "huey_app = 1\n", "huey.task()\n", "x.async_task(y)\n", "xasync_task(y)\n",
    "t.delayed()\n", "t.delay()\n", "q.enqueue_job(j)\n", "q.schedule (x)\n",
    "class A:\n    _cache = {}\n    def f(self):\n        self._cache[k] = v\n        return self.items.count()\n",
    "_cache = {}\n\ndef f(k):\n    _cache[k] = 1\n", "_cache = {}\n\ndef f(k):\n    x_cache[k] = 1\n",
    "_cache = {}\n\ndef f(k):\n    a._cache.setdefault(k, 1)\n", "x = 1; _cache = {}\n_cache[k] = 2\n",
    "  @functools.lru_cache\n", "x = 1  @cache\n", "\r@cache\n",
    "def f(self):\n    if self.n is None:\n        self.items.exists()\n",
    "def f(self):\n    return hasattr( self, 'x') and len(self.qs.filter(a=1))\n",
    "def f(self):\n    return xhasattr(self, 'x') and len(self.qs.filter(a=1))\n",
    "def f(self):\n    return hasattr(self, 'x') and mylen(self.qs.filter(a=1))\n",
    "@app.task(base=TransactionAwareTask)\n", "@task(base = tasks.OnCommitTask)", "base=\n  AfterCommitTask",
    "BASE=transactionawaretask", "baſe=OnCommit", "database=OnCommitTask", "base=x=OnCommit", "base =x OnCommit",
    "base\u00a0= OnCommit", "ase=OnCommit", "=OnCommit", "rebase=AfterCommit()", "base==OnCommit",
    "x = 1\nbase = 2\ny = OnCommit\n", "@contextmanager\ndef traced():\n    with atomic():\n        yield\n",
    "def tx():\n    return transaction.atomic(using=db)\n", "yield\n@contextmanager\natomic",
    "@contextlib.contextmanager\ndef f():\n    yield  # atomic\n", "mycontextmanager yield atomic",
    "contextmanager yielded atomic", "contextmanager\nyield_ atomic\nyield", "return atomic (", "returns atomic(",
    "return nonatomic(", "return x\natomic(", "return f(atomic  (x))", "xreturn atomic(",
]


@pytest.mark.parametrize("source", EDGE_CASES)
def test_edge_cases_answer_as_the_plain_regexes(source: str) -> None:
    assert answers(source) == reference(source)


def test_real_code_answers_as_the_plain_regexes() -> None:
    sources = real_sources()
    assert len(sources) > 100
    mismatches = [source[:80] for source in sources if answers(source) != reference(source)]
    assert mismatches == []
    # The corpus exercises both answers of every prescan.
    seen = {(name, value) for source in sources for name, value in answers(source).items()}
    assert len(seen) == 2 * len(answers(""))


TOKENS = [
    "except", "Exception", " as e", ":", "\n", "    ", " ", "(", ")", "x", "_", ".", "pass", "'", "#",
    "log.info(", "send", "delay", "tasks", "huey", "async_task", "self.", "count()", "len(", "all(",
    "= {}", "[k]", "= v", "@", "cache", "hasattr(", " is None", "setdefault(", "\r",
    "base", "BaSe", "baſe", "=", "\u00a0", "OnCommit", "oncommit", "contextmanager", "yield", "return", "atomic",
]  # fmt: skip


@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(TOKENS), max_size=40).map("".join))
def test_generated_text_answers_as_the_plain_regexes(source: str) -> None:
    assert answers(source) == reference(source)


def test_search_word_checks_the_boundary_before_each_candidate() -> None:
    pattern = re.compile(r"except\b[^:]*Exception")
    text = "noexcept (ValueError, except Exception"
    match = search_word(pattern, text)
    assert match is not None and match.start() == text.index("except E")
    assert search_word(re.compile("b"), "ab") is None
    assert search_indented(re.compile("@"), "x @\n  @") is not None
    assert search_indented(re.compile("@"), "x @\ny @") is None


PLAIN_ATTRIBUTE_ASSIGNMENT = re.compile(r"^[ \t]*([A-Za-z_][\w.]*)\.(\w+)[ \t]*=(?!=)", re.MULTILINE)
PLAIN_CLEARING = re.compile(r"\.(cache_clear|clear|pop|popitem)\b|\bdel\s+([A-Za-z_][\w.]*)\[")


def scans(source: str) -> dict[str, list[tuple[object, ...]]]:
    return {"assigned": list(attribute_assignments(source)), "clearings": list(_clearings(source))}


def plain_scans(source: str) -> dict[str, list[tuple[object, ...]]]:
    clearings = [(match.start(), match.group(1) or "del", match.group(2)) for match in PLAIN_CLEARING.finditer(source)]
    return {"assigned": PLAIN_ATTRIBUTE_ASSIGNMENT.findall(source), "clearings": clearings}


SCAN_EDGE_CASES = [
    "a.b.c = 1\n", "  item.has_variations = True\n", "a.b == c\n", "a.b = c.d = 1\n", "x[a.b] = 1\n",
    "f(a.b=1)\n", "x = 1; a.b = 2\n", "a.b = 1; c.d = 2\n", "a.b .c = 1\n", "a. b = 1\n", "a.b\t=\t1",
    "self.x = 1\n\tcls.y=2\n", "a.b =", "1a.b = 2\n", "é.b = 1\n", "a.é = 1\n", "a.b = 1\r\nc.d = 2\r\n",
    "del cache.pop[k]\n", "del _cache[k]\n", "undel x[k]\n", "x.del y[k]\n", "del x.clear[k]; y.clear()\n",
    "_cache.clear()\n_cache.pop(k)\n", "f.cache_clear()\nx.popitem()\n", "a.cleared()\n", "del  a.b[1]\n",
]


@pytest.mark.parametrize("source", SCAN_EDGE_CASES)
def test_scan_edge_cases_find_what_the_plain_regexes_find(source: str) -> None:
    assert scans(source) == plain_scans(source)


def test_real_code_scans_find_what_the_plain_regexes_find() -> None:
    sources = real_sources()
    assert [source[:80] for source in sources if scans(source) != plain_scans(source)] == []
    assert sum(len(plain_scans(source)["assigned"]) for source in sources) > 50
    assert sum(1 for source in sources for _, method, _ in _clearings(source) if method == "del") >= 3


SCAN_TOKENS = [
    "a", "b", "_", "é", "1", ".", " ", "\t", "\n", "\r", "=", "==", "[", "]", "(", ")", ";", "self", "del ", "del",
    ".clear", ".pop", ".popitem", ".cache_clear", "cache",
]  # fmt: skip


@settings(max_examples=600, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(SCAN_TOKENS), max_size=40).map("".join))
def test_generated_text_scans_find_what_the_plain_regexes_find(source: str) -> None:
    assert scans(source) == plain_scans(source)


def called_by_search(source: str) -> set[str]:
    """The words of the source that `_Mentions` finds called in it, one search per word;
    but `as`, a keyword, never a chain's name (`word_lists` takes it for what follows `x as`)."""
    words = set(re.findall(r"\w+", source)) - {"as"}
    return {word for word in words if _Mentions(frozenset({word})).called_in(SourceRecord("m.py", source, "m", False, False))}


def called_words(source: str) -> set[str]:
    words, called = word_lists(source)
    assert set(words.split()) - {"as"} == set(re.findall(r"\w+", source)) - {"as"}
    return set(called.split()) - {"as"}


CALLED_EDGE_CASES = [
    "notify(x)\n", "notify (x)\n", "notify \\\n  (x)\n", "(notify)(x)\n", "signals.order_paid.send(x)\n",
    "from shop import notify as alert\n", "import shop.notify as alert\n", "notifyx(x)\n", "xnotify(x)\n",
    "alias(x)\n", "notify_as(x)\n", "notify asdf\n", "'notify'\n", "# notify\n", "notify, other = 1, 2\n",
    "x = notify\n", "1.5 + f(2)\n", "é(x)\n", "notify\tas\tb\n", "as(x)\n", "notify[0](x)\n",
]


@pytest.mark.parametrize("source", CALLED_EDGE_CASES)
def test_called_words_are_the_words_a_search_finds_called(source: str) -> None:
    assert called_words(source) == called_by_search(source)


def test_real_code_called_words_are_the_words_a_search_finds_called() -> None:
    sources = real_sources()[:80]
    assert [source[:80] for source in sources if called_words(source) != called_by_search(source)] == []


CALLED_TOKENS = ["notify", "as", "alert", " ", "\t", "\n", "\\\n", "(", ")", ".", ",", "=", "'", "#", "é", "1", "_"]


@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(CALLED_TOKENS), max_size=30).map("".join))
def test_generated_text_called_words_are_the_words_a_search_finds_called(source: str) -> None:
    assert called_words(source) == called_by_search(source)
